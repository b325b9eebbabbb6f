//! X.509 certificates as kubecred sees them: the fields an operator reads and
//! the checks kubeadm's chain depends on. Parsing only; no file access.

use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

/// A parsed certificate with everything kubecred reports or checks.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The DER encoding, kept to verify signatures and compute the fingerprint.
    pub der: Vec<u8>,
    /// The subject's first common name.
    pub common_name: String,
    /// The subject's organizations: Kubernetes groups.
    pub groups: Vec<String>,
    /// The subject in `openssl -nameopt RFC2253`-like form.
    pub subject: String,
    /// The issuer, same form.
    pub issuer: String,
    /// Serial number, upper-case hex as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The public key's algorithm and size.
    pub key_algorithm: KeyAlgorithm,
    /// The public key as a signature verifier takes it (PKCS#1 for RSA, the point for EC).
    pub public_key_raw: Vec<u8>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Extended key usages, by their OpenSSL short names.
    pub extended_key_usages: Vec<String>,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// SHA-256 of the DER encoding.
    pub fingerprint: Fingerprint,
    /// Why kubeadm's writer could not reproduce this subject byte for byte, if it could not.
    pub subject_unreproducible: Option<String>,
    /// What Go's crypto/x509 or crypto/tls would refuse in this certificate
    /// although it parses it, each as one sentence quoting Go's error.
    pub go_refusals: Vec<String>,
    /// Why Go would refuse this certificate as the issuer of another, if it would.
    pub cannot_sign: Option<String>,
    /// Where in `der` a signature check finds what it needs, read at parse time.
    signed: Signed,
}

/// The parts of a certificate's DER a signature check reads, as byte ranges
/// of [`Certificate::der`], and its signature algorithm: found once, when
/// the certificate is parsed.
#[derive(Clone, Debug)]
struct Signed {
    tbs: Span,
    signature: Span,
    issuer: Span,
    subject: Span,
    algorithm: SignatureAlgorithm,
}

/// A byte range `start..end`.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Where `inner`, a slice borrowed from `outer`, lies in it.
    fn within(outer: &[u8], inner: &[u8]) -> Option<Self> {
        let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
        let end = start.checked_add(inner.len())?;
        (end <= outer.len()).then_some(())?;
        Some(Self {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    fn of(self, bytes: &[u8]) -> &[u8] {
        let range = usize::try_from(self.start).unwrap_or(usize::MAX)
            ..usize::try_from(self.end).unwrap_or(usize::MAX);
        bytes.get(range).unwrap_or_default()
    }
}

/// A certificate's signature algorithm, as far as a verifier tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ECDSA with SHA-256 (the curve is the issuer key's).
    EcdsaSha256,
    /// ECDSA with SHA-384.
    EcdsaSha384,
    /// Ed25519.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-1.
    RsaSha1,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaSha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// RSA-PSS with SHA-256.
    RsaPssSha256,
    /// RSA-PSS with SHA-384.
    RsaPssSha384,
    /// RSA-PSS with SHA-512.
    RsaPssSha512,
    /// One aws-lc cannot verify; `insecure` when Go refuses it anyway (MD5, ECDSA with SHA-1, ...).
    Unsupported {
        /// Whether Go refuses the algorithm as insecure.
        insecure: bool,
    },
}

/// An issuer's public key parsed once for one signature algorithm, to verify
/// every certificate it signed with that algorithm.
pub struct IssuerKey {
    key: Option<aws_lc_rs::signature::ParsedPublicKey>,
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey")
            .field("usable", &self.key.is_some())
            .finish()
    }
}

/// A public key algorithm, named as kubeadm's `encryptionAlgorithm` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// Ed25519, which kubeadm never uses.
    Ed25519,
    /// Anything else, by OID or curve.
    Other(String),
    /// RSA with its modulus size in bits.
    Rsa(u32),
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcdsaP256 => f.write_str("ECDSA-P256"),
            Self::EcdsaP384 => f.write_str("ECDSA-P384"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Other(name) => f.write_str(name),
            Self::Rsa(bits) => write!(f, "RSA-{bits}"),
        }
    }
}

/// A SHA-256 fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl fmt::Display for Fingerprint {
    /// Lower-case hex, no separators (as `sha256sum` prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a certificate does not chain to the CA it should.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The issuer name is not the CA's subject.
    IssuerName,
    /// The signature does not verify with the CA's key.
    Signature,
    /// The signature algorithm is one kubecred cannot check (MD5, ECDSA with
    /// SHA-1, ...): whether it verifies is unknown, not false.
    UnsupportedAlgorithm,
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are an error.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (rest, x509) = X509Certificate::from_der(der)
            .map_err(|err| format!("not a valid X.509 certificate ({err})"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes of trailing data after the certificate",
                rest.len()
            ));
        }
        let tbs = &x509.tbs_certificate;
        if x509
            .raw_serial()
            .first()
            .is_some_and(|byte| byte & 0x80 != 0)
        {
            return Err(
                "negative serial number: Go refuses to parse it (`x509: negative serial number`)"
                    .into(),
            );
        }
        let spki = x509.public_key();
        let key_algorithm = key_algorithm(spki)?;
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut extended_key_usages = Vec::new();
        let mut is_ca = false;
        let mut has_basic_constraints = false;
        let mut key_usage_without_cert_sign = false;
        let mut go_refusals = Vec::new();
        for ext in tbs.extensions() {
            if ext.critical && !go_handles(&ext.oid) {
                go_refusals.push(format!(
                    "critical extension {} that Go does not handle: Go components refuse the certificate (`x509: unhandled critical extension`)",
                    ext.oid
                ));
            }
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                            GeneralName::IPAddress(bytes) => {
                                ip_addresses.push(ip_from_bytes(bytes)?);
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    extended_key_usages = eku_names(eku);
                }
                ParsedExtension::BasicConstraints(bc) => {
                    has_basic_constraints = true;
                    is_ca = bc.ca;
                }
                ParsedExtension::KeyUsage(usage) => {
                    // Go reads no bits as no keyUsage at all.
                    key_usage_without_cert_sign = usage.flags != 0 && !usage.key_cert_sign();
                }
                ParsedExtension::ParseError { error } => {
                    return Err(format!("bad extension {}: {error}", ext.oid));
                }
                _ => {}
            }
        }
        let self_issued = tbs.issuer.as_raw() == tbs.subject.as_raw();
        if let Some(go_name) = insecure_signature(&x509.signature_algorithm.algorithm)
            && !self_issued
        {
            go_refusals.push(format!(
                "signed with {go_name}: Go refuses to verify it (`x509: cannot verify signature: insecure algorithm {go_name}`)"
            ));
        }
        if let KeyAlgorithm::Rsa(bits) = key_algorithm {
            if bits > MAX_TLS_RSA_BITS && !is_ca {
                go_refusals.push(format!(
                    "an RSA-{bits} key: Go's TLS refuses it in a handshake (`tls: server sent certificate containing RSA key larger than {MAX_TLS_RSA_BITS} bits`)"
                ));
            } else if bits < MIN_GO_RSA_BITS {
                go_refusals.push(format!(
                    "an RSA-{bits} key: Go refuses RSA keys under {MIN_GO_RSA_BITS} bits (`crypto/rsa: {bits}-bit keys are insecure`)"
                ));
            }
        }
        // Go (`CheckSignatureFrom`): a v3 certificate without basicConstraints, or
        // with CA:FALSE, or whose keyUsage lacks keyCertSign, cannot sign.
        let refused_as_parent = "Go refuses every certificate it signed (`x509: invalid signature: parent certificate cannot sign this kind of certificate`)";
        let cannot_sign = if !is_ca && (has_basic_constraints || tbs.version.0 >= 2) {
            let what = if has_basic_constraints {
                "basicConstraints CA:FALSE"
            } else {
                "no basicConstraints extension"
            };
            Some(format!(
                "a CA certificate without basicConstraints CA:TRUE ({what}): {refused_as_parent}"
            ))
        } else if key_usage_without_cert_sign {
            Some(format!(
                "a CA certificate whose keyUsage lacks keyCertSign: {refused_as_parent}"
            ))
        } else {
            None
        };
        let span = |inner: &[u8]| {
            Span::within(der, inner).ok_or_else(|| "certificate layout out of bounds".to_owned())
        };
        let signed = Signed {
            tbs: span(tbs.as_ref())?,
            signature: span(&x509.signature_value.data)?,
            issuer: span(tbs.issuer.as_raw())?,
            subject: span(tbs.subject.as_raw())?,
            algorithm: signature_algorithm(&x509.signature_algorithm),
        };
        Ok(Self {
            der: der.to_vec(),
            common_name: attribute_values(tbs.subject.iter_common_name())
                .into_iter()
                .next()
                .unwrap_or_default(),
            groups: attribute_values(tbs.subject.iter_organization()),
            subject: name_string(&tbs.subject),
            issuer: name_string(&tbs.issuer),
            serial: hex_upper(x509.raw_serial()),
            not_before: timestamp(tbs.validity.not_before.timestamp())?,
            not_after: timestamp(tbs.validity.not_after.timestamp())?,
            key_algorithm,
            public_key_raw: spki.subject_public_key.data.to_vec(),
            dns_names,
            ip_addresses,
            extended_key_usages,
            is_ca,
            fingerprint: Fingerprint::of(der),
            subject_unreproducible: unreproducible(&tbs.subject),
            go_refusals,
            cannot_sign,
            signed,
        })
    }

    /// Checks that `self` names `ca` as its issuer and carries its signature.
    pub fn verify_signed_by(&self, ca: &Self) -> Result<(), ChainError> {
        self.verify_with(ca, &ca.issuer_key(self.signature_algorithm()))
    }

    /// The algorithm `self` is signed with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signed.algorithm
    }

    /// This certificate's public key, parsed for verifying signatures made with `algorithm`.
    pub fn issuer_key(&self, algorithm: SignatureAlgorithm) -> IssuerKey {
        IssuerKey {
            key: verification_algorithm(algorithm, &self.key_algorithm).and_then(|verifier| {
                aws_lc_rs::signature::ParsedPublicKey::new(verifier, &self.public_key_raw).ok()
            }),
        }
    }

    /// Checks that `self` names `ca` as its issuer and carries its signature,
    /// with `key`, `ca`'s key prepared for `self`'s signature algorithm.
    pub fn verify_with(&self, ca: &Self, key: &IssuerKey) -> Result<(), ChainError> {
        if self.signed.issuer.of(&self.der) != ca.signed.subject.of(&ca.der) {
            return Err(ChainError::IssuerName);
        }
        if let SignatureAlgorithm::Unsupported { insecure } = self.signed.algorithm {
            // Only an algorithm Go refuses anyway (MD5, ECDSA with SHA-1, ...)
            // is unknown; one that does not fit the CA's key is a failure.
            return Err(if insecure {
                ChainError::UnsupportedAlgorithm
            } else {
                ChainError::Signature
            });
        }
        let key = key.key.as_ref().ok_or(ChainError::Signature)?;
        key.verify_sig(
            self.signed.tbs.of(&self.der),
            self.signed.signature.of(&self.der),
        )
        .map_err(|_| ChainError::Signature)
    }

    /// Subject alternative names as one list, DNS names first.
    pub fn subject_alt_names(&self) -> Vec<String> {
        self.dns_names
            .iter()
            .cloned()
            .chain(self.ip_addresses.iter().map(ToString::to_string))
            .collect()
    }
}

/// A signature algorithm by its identifier, as x509-parser's verifier tells them apart.
fn signature_algorithm(
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
) -> SignatureAlgorithm {
    use x509_parser::oid_registry::{
        OID_NIST_HASH_SHA256, OID_NIST_HASH_SHA384, OID_NIST_HASH_SHA512, OID_PKCS1_RSASSAPSS,
        OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
        OID_PKCS1_SHA512WITHRSA, OID_SHA1_WITH_RSA, OID_SIG_ECDSA_WITH_SHA256,
        OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ED25519,
    };
    let oid = &algorithm.algorithm;
    let unsupported = SignatureAlgorithm::Unsupported {
        insecure: insecure_signature(oid).is_some(),
    };
    if *oid == OID_PKCS1_SHA1WITHRSA || *oid == OID_SHA1_WITH_RSA {
        SignatureAlgorithm::RsaSha1
    } else if *oid == OID_PKCS1_SHA256WITHRSA {
        SignatureAlgorithm::RsaSha256
    } else if *oid == OID_PKCS1_SHA384WITHRSA {
        SignatureAlgorithm::RsaSha384
    } else if *oid == OID_PKCS1_SHA512WITHRSA {
        SignatureAlgorithm::RsaSha512
    } else if *oid == OID_PKCS1_RSASSAPSS {
        let params = algorithm.parameters.as_ref().and_then(|params| {
            x509_parser::signature_algorithm::RsaSsaPssParams::try_from(params).ok()
        });
        match params.as_ref().map(|params| params.hash_algorithm_oid()) {
            Some(hash) if *hash == OID_NIST_HASH_SHA256 => SignatureAlgorithm::RsaPssSha256,
            Some(hash) if *hash == OID_NIST_HASH_SHA384 => SignatureAlgorithm::RsaPssSha384,
            Some(hash) if *hash == OID_NIST_HASH_SHA512 => SignatureAlgorithm::RsaPssSha512,
            _ => unsupported,
        }
    } else if *oid == OID_SIG_ECDSA_WITH_SHA256 {
        SignatureAlgorithm::EcdsaSha256
    } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
        SignatureAlgorithm::EcdsaSha384
    } else if *oid == OID_SIG_ED25519 {
        SignatureAlgorithm::Ed25519
    } else {
        unsupported
    }
}

/// aws-lc's verifier for `algorithm` made with an issuer key of `key` (ECDSA
/// takes its curve from the key), if it has one.
fn verification_algorithm(
    algorithm: SignatureAlgorithm,
    key: &KeyAlgorithm,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as sig;
    Some(match (algorithm, key) {
        (SignatureAlgorithm::RsaSha1, _) => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (SignatureAlgorithm::RsaSha256, _) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (SignatureAlgorithm::RsaSha384, _) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (SignatureAlgorithm::RsaSha512, _) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (SignatureAlgorithm::RsaPssSha256, _) => &sig::RSA_PSS_2048_8192_SHA256,
        (SignatureAlgorithm::RsaPssSha384, _) => &sig::RSA_PSS_2048_8192_SHA384,
        (SignatureAlgorithm::RsaPssSha512, _) => &sig::RSA_PSS_2048_8192_SHA512,
        (SignatureAlgorithm::EcdsaSha256, KeyAlgorithm::EcdsaP256) => &sig::ECDSA_P256_SHA256_ASN1,
        (SignatureAlgorithm::EcdsaSha384, KeyAlgorithm::EcdsaP256) => &sig::ECDSA_P256_SHA384_ASN1,
        (SignatureAlgorithm::EcdsaSha256, KeyAlgorithm::EcdsaP384) => &sig::ECDSA_P384_SHA256_ASN1,
        (SignatureAlgorithm::EcdsaSha384, KeyAlgorithm::EcdsaP384) => &sig::ECDSA_P384_SHA384_ASN1,
        (SignatureAlgorithm::Ed25519, _) => &sig::ED25519,
        _ => return None,
    })
}

/// Go's crypto/tls refuses larger RSA keys in a handshake (`maxRSAKeySize`).
const MAX_TLS_RSA_BITS: u32 = 8192;
/// Go's crypto/rsa (1.24 and later) refuses smaller RSA keys.
const MIN_GO_RSA_BITS: u32 = 1024;

/// The extensions Go's crypto/x509 understands; a critical one outside this
/// list makes Go refuse the certificate.
fn go_handles(oid: &x509_parser::der_parser::oid::Oid<'_>) -> bool {
    const HANDLED: [&str; 13] = [
        "2.5.29.14",         // subjectKeyIdentifier
        "2.5.29.15",         // keyUsage
        "2.5.29.17",         // subjectAltName
        "2.5.29.19",         // basicConstraints
        "2.5.29.30",         // nameConstraints
        "2.5.29.31",         // cRLDistributionPoints
        "2.5.29.32",         // certificatePolicies
        "2.5.29.33",         // policyMappings
        "2.5.29.35",         // authorityKeyIdentifier
        "2.5.29.36",         // policyConstraints
        "2.5.29.37",         // extKeyUsage
        "2.5.29.54",         // inhibitAnyPolicy
        "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
    ];
    HANDLED.contains(&oid.to_id_string().as_str())
}

/// Go's name of a signature algorithm it refuses to verify, if it is one.
fn insecure_signature(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Option<&'static str> {
    match oid.to_id_string().as_str() {
        "1.2.840.113549.1.1.2" => Some("MD2-RSA"),
        "1.2.840.113549.1.1.4" => Some("MD5-RSA"),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => Some("SHA1-RSA"),
        "1.2.840.10045.4.1" => Some("ECDSA-SHA1"),
        "1.2.840.10040.4.3" => Some("DSA-SHA1"),
        _ => None,
    }
}

fn key_algorithm(
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<KeyAlgorithm, String> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_NIST_EC_P384, OID_SIG_ED25519};
    if spki.algorithm.algorithm == OID_SIG_ED25519 {
        return Ok(KeyAlgorithm::Ed25519);
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => Ok(KeyAlgorithm::Rsa(
            u32::try_from(rsa.key_size()).unwrap_or(u32::MAX),
        )),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                // `as_oid` reads any element's bytes as an OID: look at the tag first.
                .filter(|params| params.tag() == x509_parser::der_parser::asn1_rs::Tag::Oid)
                .and_then(|params| params.as_oid().ok());
            Ok(match curve {
                Some(oid) if oid == OID_EC_P256 => KeyAlgorithm::EcdsaP256,
                Some(oid) if oid == OID_NIST_EC_P384 => KeyAlgorithm::EcdsaP384,
                Some(oid) => KeyAlgorithm::Other(format!("ECDSA-{oid}")),
                None => {
                    let what = if spki.algorithm.parameters.is_some() {
                        "explicit curve parameters"
                    } else {
                        "no curve parameters"
                    };
                    return Err(format!(
                        "an EC key with {what}: Go refuses to parse the certificate (`x509: invalid ECDSA parameters`)"
                    ));
                }
            })
        }
        Ok(PublicKey::DSA(_)) => Ok(KeyAlgorithm::Other("DSA".into())),
        Ok(_) => Ok(KeyAlgorithm::Other(spki.algorithm.algorithm.to_id_string())),
        Err(err) => Err(format!("bad public key ({err})")),
    }
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let flags = [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
        (eku.any, "anyExtendedKeyUsage"),
    ];
    flags
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| (*name).to_owned())
        .chain(
            eku.other
                .iter()
                .map(x509_parser::der_parser::oid::Oid::to_id_string),
        )
        .collect()
}

fn attribute_values<'a>(
    attrs: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Vec<String> {
    attrs
        .map(|attr| {
            attr.as_str()
                .map_or_else(|_| hex_upper(attr.attr_value().data), str::to_owned)
        })
        .collect()
}

/// kubeadm writes one RDN of organizations (zero or one value) then one CN.
fn unreproducible(name: &X509Name<'_>) -> Option<String> {
    use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_ORGANIZATION_NAME};
    let mut seen_cn = false;
    let mut organizations = 0;
    for rdn in name.iter() {
        for attr in rdn.iter() {
            let oid = attr.attr_type();
            if *oid == OID_X509_COMMON_NAME {
                if seen_cn {
                    return Some("more than one common name".into());
                }
                seen_cn = true;
            } else if *oid == OID_X509_ORGANIZATION_NAME {
                if seen_cn {
                    return Some("an organization after the common name".into());
                }
                organizations += 1;
            } else {
                return Some(format!("a subject attribute {oid} kubeadm never writes"));
            }
        }
    }
    match (seen_cn, organizations) {
        (false, _) => Some("no common name".into()),
        (true, 0 | 1) => None,
        (true, n) => Some(format!("{n} organizations; kubeadm writes at most one")),
    }
}

fn name_string(name: &X509Name<'_>) -> String {
    name.to_string()
}

fn ip_from_bytes(bytes: &[u8]) -> Result<IpAddr, String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes)
        .map(IpAddr::from)
        .map_err(|_| format!("IP address SAN of {} bytes", bytes.len()))
}

fn timestamp(secs: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| format!("validity date out of range ({secs})"))
}

fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02X}");
        out
    })
}
