//! Issuing keys and certificates the way kubeadm's `pkiutil` does: the same
//! extensions, encodings and serial range. Pure apart from the system RNG.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, RsaKeySize, SanType, SerialNumber,
};
use time::OffsetDateTime;

/// A key algorithm kubeadm can be configured with (`encryptionAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 (`ECDSA-P256`).
    EcdsaP256,
    /// ECDSA P-384 (`ECDSA-P384`).
    EcdsaP384,
    /// RSA-2048 (kubeadm's default).
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
    /// RSA-4096.
    Rsa4096,
}

/// A freshly generated key: the signer and its PEM as kubeadm writes it.
#[derive(Debug)]
pub struct NewKey {
    /// The key pair, to sign with.
    pub pair: KeyPair,
    /// PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`.
    pub pem: String,
}

/// What a certificate says: subject, names and usages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Subject common name.
    pub common_name: String,
    /// Subject organizations (groups), at most one as kubeadm writes.
    pub groups: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Extended key usages.
    pub usages: Vec<Usage>,
}

/// An extended key usage kubeadm uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// TLS client authentication.
    ClientAuth,
    /// TLS server authentication.
    ServerAuth,
}

/// Why issuing failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The key could not be generated or re-encoded.
    #[error("cannot generate a {0:?} key")]
    KeyGeneration(KeyAlgorithm),
    /// The subject cannot be written as kubeadm writes it.
    #[error("cannot reproduce the subject exactly: {0}")]
    Subject(String),
    /// rcgen refused the parameters or the signature failed.
    #[error("cannot sign the certificate: {0}")]
    Sign(#[from] rcgen::Error),
    /// The validity cannot be written: not-before is not before not-after, or
    /// a date is outside the years 0000 to 9999 that X.509 dates carry.
    #[error("cannot date the certificate from {0} to {1}")]
    Validity(String, String),
}

/// The earliest and latest dates X.509 carries (GeneralizedTime: years 0000 to 9999).
pub const DATES: (OffsetDateTime, OffsetDateTime) = (
    time::macros::datetime!(0000-01-01 00:00:00 UTC),
    time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC),
);

/// Refuses a validity that is empty or that X.509 cannot carry.
fn check_validity(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<(), IssueError> {
    if not_before < DATES.0 || not_after > DATES.1 || not_before >= not_after {
        return Err(IssueError::Validity(
            crate::domain::span::rfc3339(not_before),
            crate::domain::span::rfc3339(not_after),
        ));
    }
    Ok(())
}

/// Generates a key, encoded as kubeadm encodes it.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<NewKey, IssueError> {
    let fail = |_| IssueError::KeyGeneration(algorithm);
    let pair = match algorithm {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
    }
    .map_err(fail)?;
    let pem = kubeadm_pem(&pair, algorithm).ok_or(IssueError::KeyGeneration(algorithm))?;
    Ok(NewKey { pair, pem })
}

/// Re-encodes rcgen's PKCS#8 as PKCS#1 (RSA) or SEC1 (ECDSA), as Go's
/// `x509.MarshalPKCS1PrivateKey` / `MarshalECPrivateKey` write.
fn kubeadm_pem(pair: &KeyPair, algorithm: KeyAlgorithm) -> Option<String> {
    use aws_lc_rs::encoding::AsDer as _;
    use pkcs8::der::Decode as _;
    let pkcs8 = pair.serialized_der();
    let (label, der) = match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8).ok()?;
            ("RSA PRIVATE KEY", info.private_key.as_bytes().to_vec())
        }
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
            let signing = if algorithm == KeyAlgorithm::EcdsaP256 {
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING
            };
            let ec = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(signing, pkcs8).ok()?;
            let sec1 = ec.private_key().as_der().ok()?;
            ("EC PRIVATE KEY", sec1.as_ref().to_vec())
        }
    };
    Some(pem_encode(label, &der))
}

/// PEM with 64-column lines, as Go's `pem.Encode` writes.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// A random serial uniform in [1, 2^63 − 1), as kubeadm draws it.
pub fn random_serial() -> Result<SerialNumber, IssueError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    loop {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::SecureRandom::fill(&rng, &mut bytes)
            .map_err(|_| IssueError::Subject("no randomness for the serial".into()))?;
        let value = u64::from_be_bytes(bytes) & (u64::MAX >> 1);
        if (1..(1u64 << 63) - 1).contains(&value) {
            let bytes = value.to_be_bytes();
            let first = bytes.iter().position(|byte| *byte != 0).unwrap_or(7);
            return Ok(SerialNumber::from_slice(&bytes[first..]));
        }
    }
}

/// A self-signed CA as kubeadm's `NewSelfSignedCACert` makes it; returns its PEM.
pub fn self_signed_ca(
    common_name: &str,
    key: &KeyPair,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<String, IssueError> {
    check_validity(not_before, not_after)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(common_name, &[])?;
    params.subject_alt_names =
        vec![SanType::DnsName(common_name.try_into().map_err(|_| {
            IssueError::Subject(format!("`{common_name}` is not a DNS name"))
        })?)];
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    Ok(params.self_signed(key)?.pem())
}

/// A leaf certificate as kubeadm's `NewSignedCert` makes it; returns its PEM.
pub fn leaf(
    profile: &Profile,
    key: &KeyPair,
    ca: &Issuer<'_, KeyPair>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<String, IssueError> {
    check_validity(not_before, not_after)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(&profile.common_name, &profile.groups)?;
    for dns in &profile.dns_names {
        let name = dns
            .as_str()
            .try_into()
            .map_err(|_| IssueError::Subject(format!("`{dns}` is not a DNS name")))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(profile.ip_addresses.iter().copied().map(SanType::IpAddress));
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    // Go writes basicConstraints CA:FALSE (critical) and no subject key identifier on leaves.
    params.is_ca = IsCa::NoCa;
    let mut constraints = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    constraints.set_criticality(true);
    params.custom_extensions.push(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = profile
        .usages
        .iter()
        .map(|usage| match usage {
            Usage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
            Usage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
        })
        .collect();
    params.use_authority_key_identifier_extension = true;
    Ok(params.signed_by(key, ca)?.pem())
}

/// A subject of organizations then common name, in Go's order and string types.
fn subject(common_name: &str, groups: &[String]) -> Result<DistinguishedName, IssueError> {
    if groups.len() > 1 {
        return Err(IssueError::Subject(format!(
            "{} organizations ({}); kubeadm writes at most one",
            groups.len(),
            groups.join(", ")
        )));
    }
    let mut name = DistinguishedName::new();
    for group in groups {
        name.push(DnType::OrganizationName, go_string(group));
    }
    name.push(DnType::CommonName, go_string(common_name));
    Ok(name)
}

/// `PrintableString` where the value allows it, as Go's `asn1` marshals names.
fn go_string(value: &str) -> DnValue {
    value.try_into().map_or_else(
        |_| DnValue::Utf8String(value.to_owned()),
        DnValue::PrintableString,
    )
}

/// Generates one key per entry, on every core: RSA generation dominates
/// renewal time, and its cost varies key to key (a random prime search), so
/// each thread takes the next key as it finishes one rather than a fixed share.
pub fn generate_keys(algorithms: &[KeyAlgorithm]) -> Result<Vec<NewKey>, IssueError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(algorithms.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut made: Vec<(usize, Result<NewKey, IssueError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(algorithm) = algorithms.get(index) else {
                            return mine;
                        };
                        mine.push((index, generate_key(*algorithm)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            // A worker's panic is a bug: re-raise it rather than return fewer keys.
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    made.sort_by_key(|(index, _)| *index);
    made.into_iter().map(|(_, key)| key).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn dates_x509_cannot_carry_are_refused_not_panicked_on() {
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let now = datetime!(2026-11-26 12:00 UTC);
        let cases = [
            (DATES.0 - Duration::SECOND, now, false),
            (
                DATES.0 - Duration::days(400),
                DATES.0 + Duration::days(10),
                false,
            ),
            (now, now, false),
            (now, now - Duration::SECOND, false),
            (DATES.0, DATES.1, true),
            (now - Duration::minutes(5), now + Duration::days(365), true),
        ];
        for (not_before, not_after, ok) in cases {
            let issued = self_signed_ca("ca", &key.pair, not_before, not_after);
            assert_eq!(
                issued.is_ok(),
                ok,
                "{not_before} to {not_after}: {issued:?}"
            );
            if !ok {
                assert!(matches!(issued, Err(IssueError::Validity(..))));
            }
        }
    }
}
