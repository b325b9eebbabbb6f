//! Private keys: the public half and encoding of a key file, never its secret.
//!
//! kubecred reads a private key only to learn which public key it belongs to,
//! after aws-lc has checked that its private and public parts agree; nothing
//! here keeps, prints or returns secret material.

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
};
use pkcs8::der::asn1::{AnyRef, UintRef};
use pkcs8::der::{Decode as _, Tag, TagNumber, Tagged as _};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use sec1::{EcParameters, EcPrivateKey};

use crate::domain::cert::KeyAlgorithm;
use crate::domain::pem::{Block, BlockKind};

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

/// Reads one private key block, validated by aws-lc.
///
/// The key is parsed in full and checked before its public half is believed:
/// RSA keys by `RSA_check_key` (n = p·q, d·e ≡ 1, the CRT values agree), EC
/// keys by `EC_KEY_check_key` (the scalar is in range and the stored point is
/// the scalar times the generator). The public half returned is aws-lc's, so
/// a key whose private part was altered never passes for its certificate's.
pub fn from_block(block: &Block) -> Result<KeyInfo, String> {
    match block.kind {
        BlockKind::RsaPrivateKey => rsa(KeyEncoding::Pkcs1, &block.der),
        BlockKind::EcPrivateKey => {
            let curve = sec1_curve(&block.der, None)?;
            ec(KeyEncoding::Sec1, curve, &block.der)
        }
        BlockKind::Pkcs8PrivateKey => pkcs8_key(&block.der),
        BlockKind::Certificate | BlockKind::PublicKey => Err("not a private key".into()),
    }
}

/// Reads the first private key of a PEM file, validated as [`from_block`] does.
pub fn from_pem(bytes: &[u8]) -> Result<KeyInfo, String> {
    crate::domain::pem::parse(bytes).and_then(|blocks| from_blocks(&blocks))
}

/// The EC curves kubeadm writes keys on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

const EXPLICIT_CURVE: &str =
    "an EC key with explicit curve parameters (kubeadm and Go read only named curves)";

fn not_valid(encoding: KeyEncoding) -> String {
    format!(
        "`{}` block is not a valid RSA or ECDSA key",
        encoding.label()
    )
}

/// Why aws-lc refused a key whose DER structure is sound: its numbers disagree.
fn inconsistent(encoding: KeyEncoding, what: &str) -> String {
    format!(
        "`{}` block holds an invalid key: {what} (corrupted?)",
        encoding.label()
    )
}

/// An RSA key (PKCS#1 DER, or PKCS#8 around one).
fn rsa(encoding: KeyEncoding, der: &[u8]) -> Result<KeyInfo, String> {
    // PKCS#1 `RSAPrivateKey`: version, n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p.
    let pkcs1 = match encoding {
        KeyEncoding::Pkcs8 => PrivateKeyInfoRef::from_der(der)
            .map_err(|_| not_valid(encoding))?
            .private_key
            .as_bytes(),
        KeyEncoding::Pkcs1 | KeyEncoding::Sec1 => der,
    };
    let integers = Vec::<UintRef<'_>>::from_der(pkcs1).map_err(|_| not_valid(encoding))?;
    let [version, modulus, ..] = integers.as_slice() else {
        return Err(not_valid(encoding));
    };
    if integers.len() != 9 || version.as_bytes() != [0] {
        return Err(format!(
            "`{}` block is not a two-prime RSA key as kubeadm writes",
            encoding.label()
        ));
    }
    let modulus_bits = modulus.as_bytes().len().saturating_mul(8);
    let parsed = match encoding {
        KeyEncoding::Pkcs8 => RsaKeyPair::from_pkcs8(der),
        KeyEncoding::Pkcs1 | KeyEncoding::Sec1 => RsaKeyPair::from_der(der),
    };
    let pair = parsed.map_err(|err| match err.description_() {
        "TooSmall" | "TooLarge" => format!(
            "an RSA-{modulus_bits} key: kubecred validates and signs with RSA keys of 2048 to 8192 bits only \
             (kubeadm writes 2048, 3072 or 4096; smaller keys are weak, and Go's TLS refuses larger ones)"
        ),
        _ => inconsistent(
            encoding,
            "its modulus, exponents, primes and CRT values do not agree",
        ),
    })?;
    let bits = u32::try_from(pair.public_modulus_len().saturating_mul(8)).unwrap_or(u32::MAX);
    Ok(KeyInfo {
        algorithm: KeyAlgorithm::Rsa(bits),
        encoding,
        public_key_raw: pair.public_key().as_ref().to_vec(),
    })
}

/// An ECDSA key on `curve` (SEC1 DER, or PKCS#8 around one).
fn ec(encoding: KeyEncoding, curve: Curve, der: &[u8]) -> Result<KeyInfo, String> {
    let (signing, algorithm) = match curve {
        Curve::P256 => (&ECDSA_P256_SHA256_ASN1_SIGNING, KeyAlgorithm::EcdsaP256),
        Curve::P384 => (&ECDSA_P384_SHA384_ASN1_SIGNING, KeyAlgorithm::EcdsaP384),
    };
    let parsed = match encoding {
        KeyEncoding::Pkcs8 => EcdsaKeyPair::from_pkcs8(signing, der),
        KeyEncoding::Sec1 | KeyEncoding::Pkcs1 => EcdsaKeyPair::from_private_key_der(signing, der),
    };
    // The structure was read already: a refusal is about the numbers.
    let pair = parsed.map_err(|_| {
        inconsistent(
            encoding,
            "its private scalar is out of range or its public point is not that scalar's",
        )
    })?;
    Ok(KeyInfo {
        algorithm,
        encoding,
        public_key_raw: pair.public_key().as_ref().to_vec(),
    })
}

/// The named curve of a SEC1 `ECPrivateKey` (or `outer`, PKCS#8's, when it has none).
fn sec1_curve(der: &[u8], outer: Option<Curve>) -> Result<Curve, String> {
    match EcPrivateKey::from_der(der) {
        // Hybrid points (0x06, 0x07) are an X9.62 form Go and kubeadm never write;
        // aws-lc reads them, so one flipped bit of an uncompressed point would pass.
        Ok(key) if key.public_key.is_some_and(|point| matches!(point.first(), Some(0x06 | 0x07))) => {
            Err("the EC key's public point is in hybrid form, which kubeadm and Go never write (corrupted?)".into())
        }
        Ok(key) => match key.parameters {
            Some(EcParameters::NamedCurve(oid)) => {
                let curve = named_curve(oid)?;
                if outer.is_some_and(|outer| outer != curve) {
                    return Err(
                        "the EC key's curve differs from the one its PKCS#8 wrapper names".into(),
                    );
                }
                Ok(curve)
            }
            None => outer.ok_or_else(|| not_valid(KeyEncoding::Sec1)),
        },
        Err(_) if sec1_has_explicit_parameters(der) => Err(EXPLICIT_CURVE.into()),
        Err(_) => Err(not_valid(if outer.is_some() {
            KeyEncoding::Pkcs8
        } else {
            KeyEncoding::Sec1
        })),
    }
}

/// Whether a SEC1 `ECPrivateKey`'s `[0]` parameters are a SEQUENCE (explicit
/// `SpecifiedECDomain`) rather than a curve's OID.
fn sec1_has_explicit_parameters(der: &[u8]) -> bool {
    Vec::<AnyRef<'_>>::from_der(der).is_ok_and(|fields| {
        fields.iter().any(|field| {
            field.tag().is_context_specific()
                && field.tag().number() == TagNumber(0)
                && field.value().first() == Some(&0x30)
        })
    })
}

fn named_curve(oid: ObjectIdentifier) -> Result<Curve, String> {
    if oid == OID_P256 {
        Ok(Curve::P256)
    } else if oid == OID_P384 {
        Ok(Curve::P384)
    } else if oid == OID_P521 {
        Err("unsupported key type ECDSA P-521 (kubeadm uses RSA, ECDSA P-256 or P-384)".into())
    } else {
        Err(format!(
            "unsupported EC curve {oid} (kubeadm uses ECDSA P-256 or P-384)"
        ))
    }
}

/// A PKCS#8 `PrivateKeyInfo` around an RSA or EC key.
fn pkcs8_key(der: &[u8]) -> Result<KeyInfo, String> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(|_| not_valid(KeyEncoding::Pkcs8))?;
    let algorithm = info.algorithm.oid;
    if algorithm == OID_RSA {
        rsa(KeyEncoding::Pkcs8, der)
    } else if algorithm == OID_EC {
        let parameters = info.algorithm.parameters;
        let curve = match parameters.map(AnyRef::decode_as::<ObjectIdentifier>) {
            Some(Ok(oid)) => Some(named_curve(oid)?),
            Some(Err(_)) if parameters.is_some_and(|any| any.tag() == Tag::Sequence) => {
                return Err(EXPLICIT_CURVE.into());
            }
            Some(Err(_)) => return Err(not_valid(KeyEncoding::Pkcs8)),
            None => None,
        };
        let curve = sec1_curve(info.private_key.as_bytes(), curve)?;
        ec(KeyEncoding::Pkcs8, curve, der)
    } else if algorithm == OID_ED25519 {
        Err("unsupported key type Ed25519 (kubeadm uses RSA or ECDSA)".into())
    } else if algorithm == OID_DSA {
        Err(not_valid(KeyEncoding::Pkcs8))
    } else {
        Err(format!(
            "unsupported key type {algorithm} (kubeadm uses RSA or ECDSA)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::issue::{self, KeyAlgorithm as New};

    fn blocks_of(key: &issue::NewKey) -> Vec<Block> {
        let native = crate::domain::pem::parse(key.pem.as_bytes()).unwrap();
        let pkcs8 = Block {
            kind: BlockKind::Pkcs8PrivateKey,
            der: key.pair.serialize_der(),
        };
        native.into_iter().chain([pkcs8]).collect()
    }

    /// Every key kubeadm writes (and its PKCS#8 form) reads as the public key rcgen derived.
    #[test]
    fn valid_keys_read_as_their_public_half() {
        for algorithm in [New::EcdsaP256, New::EcdsaP384, New::Rsa2048] {
            let key = issue::generate_key(algorithm).unwrap();
            for block in blocks_of(&key) {
                let info = from_block(&block).unwrap();
                assert_eq!(info.public_key_raw, key.pair.public_key_raw());
                let expected = match algorithm {
                    New::EcdsaP256 => KeyAlgorithm::EcdsaP256,
                    New::EcdsaP384 => KeyAlgorithm::EcdsaP384,
                    _ => KeyAlgorithm::Rsa(2048),
                };
                assert_eq!(info.algorithm, expected, "{algorithm:?} {:?}", block.kind);
            }
        }
    }

    /// The key in aws-lc's own PKCS#8 encoding, if aws-lc reads `block` at all.
    fn canonical(block: &Block) -> Option<Vec<u8>> {
        use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
        let rsa = |der: &[u8], pkcs8: bool| {
            let pair = if pkcs8 {
                RsaKeyPair::from_pkcs8(der)
            } else {
                RsaKeyPair::from_der(der)
            };
            let encoded: Pkcs8V1Der<'static> = pair.ok()?.as_der().ok()?;
            Some(encoded.as_ref().to_vec())
        };
        let ec = |der: &[u8], pkcs8: bool| {
            [
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &ECDSA_P384_SHA384_ASN1_SIGNING,
            ]
            .into_iter()
            .find_map(|signing| {
                let pair = if pkcs8 {
                    EcdsaKeyPair::from_pkcs8(signing, der)
                } else {
                    EcdsaKeyPair::from_private_key_der(signing, der)
                };
                Some(pair.ok()?.to_pkcs8v1().ok()?.as_ref().to_vec())
            })
        };
        match block.kind {
            BlockKind::RsaPrivateKey => rsa(&block.der, false),
            BlockKind::EcPrivateKey => ec(&block.der, false),
            BlockKind::Pkcs8PrivateKey => rsa(&block.der, true).or_else(|| ec(&block.der, true)),
            BlockKind::Certificate | BlockKind::PublicKey => None,
        }
    }

    /// Flipping any single bit anywhere in a key's DER never yields a key that
    /// passes for the original: it is refused, or it reads as another key
    /// (which `check` calls `key-mismatch`). The only flip read as the
    /// original is one that leaves the key itself unchanged: the PKCS#8
    /// version (v1 to v2), which aws-lc re-encodes to the very same key.
    #[test]
    fn no_single_bit_flip_passes_for_the_original_key() {
        for algorithm in [New::EcdsaP256, New::EcdsaP384, New::Rsa2048] {
            let key = issue::generate_key(algorithm).unwrap();
            let public = key.pair.public_key_raw().to_vec();
            for block in blocks_of(&key) {
                let original = canonical(&block).unwrap();
                let (mut refused, mut same_key, mut flips) = (0, 0, 0);
                for index in 0..block.der.len() {
                    for bit in 0..8 {
                        let mut der = block.der.clone();
                        der[index] ^= 1 << bit;
                        let flipped = Block {
                            kind: block.kind,
                            der,
                        };
                        flips += 1;
                        match from_block(&flipped) {
                            Err(reason) => {
                                assert!(!reason.is_empty());
                                refused += 1;
                            }
                            Ok(info) if info.public_key_raw != public => {}
                            Ok(_) => {
                                assert_eq!(
                                    canonical(&flipped).as_ref(),
                                    Some(&original),
                                    "{algorithm:?} {:?}: bit {bit} of byte {index} flipped \
                                     reads as the original key but is another",
                                    block.kind
                                );
                                same_key += 1;
                            }
                        }
                    }
                }
                assert_eq!(flips, block.der.len() * 8);
                assert!(same_key <= 1, "{algorithm:?} {:?}: {same_key}", block.kind);
                assert!(
                    refused >= flips - 1,
                    "{algorithm:?} {:?}: {refused} of {flips}",
                    block.kind
                );
            }
        }
    }

    /// aws-lc reads EC keys with explicit curve parameters (matching them to a
    /// named curve); Go does not, so kubecred refuses them by structure.
    #[test]
    fn explicit_curve_parameters_are_refused() {
        let explicit = include_str!("../../testdata/malformed/ec-explicit-parameters.key");
        let err = from_pem(explicit.as_bytes()).unwrap_err();
        assert!(err.contains("explicit curve parameters"), "{err}");
        let block = crate::domain::pem::parse(explicit.as_bytes())
            .unwrap()
            .remove(0);
        assert!(
            EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &block.der).is_ok(),
            "aws-lc now refuses explicit parameters itself"
        );
    }

    /// A corrupted private part is named as such, not as a parse failure.
    #[test]
    fn corrupted_private_part_is_named() {
        let key = issue::generate_key(New::EcdsaP256).unwrap();
        let mut block = crate::domain::pem::parse(key.pem.as_bytes())
            .unwrap()
            .remove(0);
        // SEC1: SEQUENCE, INTEGER 1, OCTET STRING of the 32-byte scalar at offset 7.
        block.der[7 + 10] ^= 0x01;
        let err = from_block(&block).unwrap_err();
        assert!(
            err.contains("public point is not that scalar's (corrupted?)"),
            "{err}"
        );
    }
}
