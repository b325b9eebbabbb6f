//! PEM framing: splits a file into labelled DER blocks and names what it holds.
//!
//! Only framing lives here; what the DER means is `cert` and `key`'s business.

use rustls_pki_types::pem::{self, SectionKind};

/// One PEM block: its kind and DER contents.
#[derive(Debug)]
pub struct Block {
    /// What the block's label says it holds.
    pub kind: BlockKind,
    /// The decoded DER bytes.
    pub der: Vec<u8>,
}

/// The PEM labels kubeadm writes or reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// `CERTIFICATE`
    Certificate,
    /// `EC PRIVATE KEY` (SEC1)
    EcPrivateKey,
    /// `PRIVATE KEY` (PKCS#8)
    Pkcs8PrivateKey,
    /// `PUBLIC KEY` (PKIX)
    PublicKey,
    /// `RSA PRIVATE KEY` (PKCS#1)
    RsaPrivateKey,
}

impl BlockKind {
    /// Whether the block holds a private key.
    pub fn is_private_key(self) -> bool {
        matches!(
            self,
            Self::EcPrivateKey | Self::Pkcs8PrivateKey | Self::RsaPrivateKey
        )
    }
}

/// Splits PEM text into blocks; rejects anything that is not clean PEM.
///
/// Stray text between blocks is tolerated as `openssl` does, but a file with no
/// block, a block that does not decode, or a label kubeadm never writes is an
/// error that says which.
pub fn parse(bytes: &[u8]) -> Result<Vec<Block>, String> {
    if bytes.is_empty() {
        return Err("file is empty".into());
    }
    if !bytes.windows(11).any(|window| window == b"-----BEGIN ") {
        return Err(if std::str::from_utf8(bytes).is_ok() {
            "no PEM block found".into()
        } else {
            "not PEM: the file is not text (maybe DER or binary)".into()
        });
    }
    if let Some(label) = unsupported_label(bytes) {
        return Err(unsupported_message(&label));
    }
    let mut blocks = Vec::new();
    let mut reader = bytes;
    loop {
        match pem::from_buf(&mut reader) {
            Ok(Some((kind, der))) => {
                let kind = match kind {
                    SectionKind::Certificate => BlockKind::Certificate,
                    SectionKind::EcPrivateKey => BlockKind::EcPrivateKey,
                    SectionKind::PrivateKey => BlockKind::Pkcs8PrivateKey,
                    SectionKind::PublicKey => BlockKind::PublicKey,
                    SectionKind::RsaPrivateKey => BlockKind::RsaPrivateKey,
                    other => return Err(format!("unsupported PEM block {other:?}")),
                };
                blocks.push(Block { kind, der });
            }
            Ok(None) => break,
            Err(err) => return Err(describe(&err, bytes)),
        }
    }
    if blocks.is_empty() {
        return Err("no PEM block found".into());
    }
    Ok(blocks)
}

/// The first `BEGIN` label that kubeadm does not write, if any.
///
/// `EC PARAMETERS` (what `openssl ecparam -genkey` writes before the key) is
/// not one: Go's `tls.X509KeyPair` and client-go's `ParsePrivateKeyPEM` skip it,
/// and so does the splitter.
fn unsupported_label(bytes: &[u8]) -> Option<String> {
    const KNOWN: [&str; 5] = [
        "CERTIFICATE",
        "EC PRIVATE KEY",
        "PRIVATE KEY",
        "PUBLIC KEY",
        "RSA PRIVATE KEY",
    ];
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("-----BEGIN "))
        .filter_map(|line| line.strip_suffix("-----"))
        .find(|label| !KNOWN.contains(label) && *label != SKIPPED)
        .map(str::to_owned)
}

/// A label whose blocks are skipped, as Go skips them.
const SKIPPED: &str = "EC PARAMETERS";

fn unsupported_message(label: &str) -> String {
    match label {
        "DSA PRIVATE KEY" => "unsupported key type DSA (kubeadm uses RSA or ECDSA)".into(),
        "ENCRYPTED PRIVATE KEY" => "encrypted private key (kubeadm keys are not encrypted)".into(),
        "OPENSSH PRIVATE KEY" => "OpenSSH private key, not an X.509 key".into(),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            "unsupported PEM block `CERTIFICATE REQUEST`: a CSR, not a certificate".into()
        }
        _ => format!("unsupported PEM block `{label}`"),
    }
}

fn describe(err: &pem::Error, bytes: &[u8]) -> String {
    match err {
        pem::Error::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            let text = String::from_utf8_lossy(bytes);
            let other_end = text
                .lines()
                .filter_map(|line| line.trim().strip_prefix("-----END "))
                .filter_map(|line| line.strip_suffix("-----"))
                .find(|end| *end != label);
            match other_end {
                Some(end) => format!(
                    "`-----BEGIN {label}-----` is closed by `-----END {end}-----`: no `-----END {label}-----` line"
                ),
                None => format!("truncated PEM: no `-----END {label}-----` line"),
            }
        }
        pem::Error::IllegalSectionStart { .. } => "malformed PEM `BEGIN` line".into(),
        pem::Error::Base64Decode(_) => "bad base64 inside a PEM block".into(),
        other => format!("bad PEM: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_binary_are_named() {
        assert_eq!(parse(b"").unwrap_err(), "file is empty");
        assert!(parse(&[0xff, 0xfe, 0x00]).unwrap_err().contains("not text"));
    }

    #[test]
    fn truncated_block_is_named() {
        let err = parse(b"-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap_err();
        assert!(err.starts_with("truncated PEM"), "{err}");
    }

    #[test]
    fn ec_parameters_before_a_key_are_skipped() {
        let text = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let blocks = parse(text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, BlockKind::EcPrivateKey);
        let err = parse(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n").unwrap_err();
        assert!(err.contains("X509 CRL"), "{err}");
    }

    #[test]
    fn dsa_key_is_refused_by_type() {
        let err = parse(b"-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(err.contains("DSA"), "{err}");
    }
}
