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
pub fn from_block(block: &Block) -> Result<KeyInfo, String> {
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
