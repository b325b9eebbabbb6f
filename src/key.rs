//! Private keys: the public half and encoding of a key file, never its secret.
//!
//! kubecred reads a private key only to learn which public key it belongs to;
//! nothing here keeps, prints or returns secret material.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;

use crate::cert::KeyAlgorithm;
use crate::pem::{Block, BlockKind};

/// The public facts of a private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's algorithm and size.
    pub algorithm: KeyAlgorithm,
    /// How it is encoded on disk.
    pub encoding: KeyEncoding,
    /// The public key as a certificate carries it (PKCS#1 for RSA, the point for EC).
    pub public_key_raw: Vec<u8>,
}

/// A private key encoding, by its PEM label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEncoding {
    /// `PRIVATE KEY`
    Pkcs8,
    /// `RSA PRIVATE KEY`
    Pkcs1,
    /// `EC PRIVATE KEY`
    Sec1,
}

impl KeyEncoding {
    /// The PEM label of this encoding.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pkcs8 => "PRIVATE KEY",
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
        }
    }
}

/// Reads the first private key among `blocks`.
pub fn from_blocks(blocks: &[Block]) -> Result<KeyInfo, String> {
    let block = blocks
        .iter()
        .find(|block| {
            matches!(
                block.kind,
                BlockKind::EcPrivateKey | BlockKind::Pkcs8PrivateKey | BlockKind::RsaPrivateKey
            )
        })
        .ok_or("no private key in the file")?;
    from_block(block)
}

/// Reads one private key block.
///
/// The public half is read from the key's own DER where it is there (the RSA
/// modulus and exponent, the EC public point), as `openssl rsa -modulus` and
/// `openssl pkey -pubout` do: deriving it costs as much as a signature check.
/// Anything else goes through a full parse, which also names what is wrong.
pub fn from_block(block: &Block) -> Result<KeyInfo, String> {
    if let Some(info) = embedded_public_half(block) {
        return Ok(info);
    }
    parsed(block)
}

/// The key parsed in full by aws-lc.
fn parsed(block: &Block) -> Result<KeyInfo, String> {
    let der = block.der.clone();
    let (encoding, key) = match block.kind {
        BlockKind::RsaPrivateKey => (
            KeyEncoding::Pkcs1,
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        ),
        BlockKind::EcPrivateKey => (
            KeyEncoding::Sec1,
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        ),
        BlockKind::Pkcs8PrivateKey => (
            KeyEncoding::Pkcs8,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        ),
        BlockKind::Certificate | BlockKind::PublicKey => {
            return Err("not a private key".into());
        }
    };
    let pair = KeyPair::try_from(&key).map_err(|_| {
        format!(
            "`{}` block is not a valid RSA or ECDSA key",
            encoding.label()
        )
    })?;
    let algorithm = if pair.algorithm() == &PKCS_RSA_SHA256 {
        KeyAlgorithm::Rsa(rsa_bits(pair.public_key_raw()))
    } else if pair.algorithm() == &PKCS_ECDSA_P256_SHA256 {
        KeyAlgorithm::EcdsaP256
    } else if pair.algorithm() == &PKCS_ECDSA_P384_SHA384 {
        KeyAlgorithm::EcdsaP384
    } else if pair.algorithm() == &rcgen::PKCS_ECDSA_P521_SHA512 {
        return Err(
            "unsupported key type ECDSA P-521 (kubeadm uses RSA, ECDSA P-256 or P-384)".into(),
        );
    } else if pair.algorithm() == &rcgen::PKCS_ED25519 {
        return Err("unsupported key type Ed25519 (kubeadm uses RSA or ECDSA)".into());
    } else {
        return Err("unsupported key type (kubeadm uses RSA or ECDSA)".into());
    };
    Ok(KeyInfo {
        algorithm,
        encoding,
        public_key_raw: pair.public_key_raw().to_vec(),
    })
}

fn rsa_bits(public_key_raw: &[u8]) -> u32 {
    RSAPublicKey::from_der(public_key_raw).map_or(0, |(_, key)| {
        u32::try_from(key.key_size()).unwrap_or(u32::MAX)
    })
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// The public half stored in a PKCS#1, SEC1 or PKCS#8 key, if it is there.
fn embedded_public_half(block: &Block) -> Option<KeyInfo> {
    let (encoding, (algorithm, public_key_raw)) = match block.kind {
        BlockKind::RsaPrivateKey => (KeyEncoding::Pkcs1, pkcs1_public(&block.der)?),
        BlockKind::EcPrivateKey => (KeyEncoding::Sec1, sec1_public(&block.der, None)?),
        BlockKind::Pkcs8PrivateKey => (KeyEncoding::Pkcs8, pkcs8_public(&block.der)?),
        BlockKind::Certificate | BlockKind::PublicKey => return None,
    };
    Some(KeyInfo {
        algorithm,
        encoding,
        public_key_raw,
    })
}

/// A DER element: tag, whole encoding, contents, and the input after it.
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The first DER element of `input`.
fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_length) = after_tag.split_first()?;
    let (length, body) = if first < 0x80 {
        (usize::from(first), after_length)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, body) = after_length.split_at_checked(count)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte)),
            body,
        )
    };
    let (contents, rest) = body.split_at_checked(length)?;
    let whole = input.get(..input.len() - rest.len())?;
    Some((tag, whole, contents, rest))
}

/// PKCS#1 `RSAPrivateKey`: the `RSAPublicKey` of its modulus and exponent.
fn pkcs1_public(der: &[u8]) -> Option<(KeyAlgorithm, Vec<u8>)> {
    let (0x30, _, body, []) = element(der)? else {
        return None;
    };
    let (0x02, _, _, rest) = element(body)? else {
        return None;
    };
    let (0x02, modulus, modulus_value, rest) = element(rest)? else {
        return None;
    };
    let (0x02, exponent, _, _) = element(rest)? else {
        return None;
    };
    let significant = modulus_value.iter().skip_while(|byte| **byte == 0).count();
    let bits = u32::try_from(significant * 8).ok()?;
    let mut contents = modulus.to_vec();
    contents.extend_from_slice(exponent);
    Some((KeyAlgorithm::Rsa(bits), sequence(&contents)))
}

/// SEC1 `ECPrivateKey`: its `[1] publicKey` point, on the curve of `[0]` (or `curve`).
fn sec1_public(der: &[u8], curve: Option<&[u8]>) -> Option<(KeyAlgorithm, Vec<u8>)> {
    let (0x30, _, body, []) = element(der)? else {
        return None;
    };
    let (0x02, _, _, rest) = element(body)? else {
        return None;
    };
    let (0x04, _, _, mut rest) = element(rest)? else {
        return None;
    };
    let mut named = curve;
    let mut point = None;
    while !rest.is_empty() {
        let (tag, _, contents, next) = element(rest)?;
        match tag {
            0xa0 => match element(contents)? {
                (0x06, _, oid, _) => named = Some(oid),
                _ => return None,
            },
            0xa1 => match element(contents)? {
                (0x03, _, [0, point_bytes @ ..], _) => point = Some(point_bytes.to_vec()),
                _ => return None,
            },
            _ => {}
        }
        rest = next;
    }
    let algorithm = match named? {
        OID_P256 => KeyAlgorithm::EcdsaP256,
        OID_P384 => KeyAlgorithm::EcdsaP384,
        _ => return None,
    };
    Some((algorithm, point?))
}

/// PKCS#8 `PrivateKeyInfo` around an RSA or EC key.
fn pkcs8_public(der: &[u8]) -> Option<(KeyAlgorithm, Vec<u8>)> {
    let (0x30, _, body, []) = element(der)? else {
        return None;
    };
    let (0x02, _, _, rest) = element(body)? else {
        return None;
    };
    let (0x30, _, algorithm, rest) = element(rest)? else {
        return None;
    };
    let (0x04, _, inner, _) = element(rest)? else {
        return None;
    };
    let (0x06, _, oid, params) = element(algorithm)? else {
        return None;
    };
    match oid {
        OID_RSA => pkcs1_public(inner),
        OID_EC => match element(params)? {
            (0x06, _, curve, _) => sec1_public(inner, Some(curve)),
            _ => None,
        },
        _ => None,
    }
}

/// A DER SEQUENCE of `contents`.
fn sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let length = contents.len();
    if length < 0x80 {
        out.push(u8::try_from(length).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{self, KeyAlgorithm as New};

    /// The fast path and the full parse agree on every key kubeadm writes, and on PKCS#8.
    #[test]
    fn embedded_public_half_equals_the_derived_one() {
        for algorithm in [New::EcdsaP256, New::EcdsaP384, New::Rsa2048] {
            let key = issue::generate_key(algorithm).unwrap();
            let pkcs8 = crate::pem::Block {
                kind: BlockKind::Pkcs8PrivateKey,
                der: key.pair.serialize_der(),
            };
            for block in crate::pem::parse(key.pem.as_bytes())
                .unwrap()
                .into_iter()
                .chain([pkcs8])
            {
                let fast =
                    embedded_public_half(&block).expect("kubeadm's keys carry their public half");
                assert_eq!(
                    fast,
                    parsed(&block).unwrap(),
                    "{algorithm:?} {:?}",
                    block.kind
                );
            }
        }
    }
}
