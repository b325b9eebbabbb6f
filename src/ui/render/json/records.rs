//! The `inspect` and `check` documents as typed records, serialised straight
//! to the writer: no intermediate JSON tree. Key order and value forms are the
//! wire format (SPEC.md's JSON contract); a field is only ever added.

use std::os::unix::ffi::OsStrExt as _;

use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::domain::cert::{Certificate, ChainError};
use crate::domain::exact::{JsonPath, escaped};
use crate::domain::findings::Finding;
use crate::domain::model::Inventory;
use crate::domain::model::{
    Copy, Credential, FileMeta, FileRead, KeyState, Origin, PERMISSION_DENIED, ServiceAccount,
    State,
};
use crate::domain::report::{Judged, Report};
use crate::domain::span::rfc3339;
use crate::ui::render::json::SCHEMA_VERSION;

/// A whole `inspect` (or, with `check`, `check`) document.
pub(super) struct Document<'a, 'r> {
    pub(super) report: &'a Report<'r>,
    pub(super) check: bool,
}

impl Serialize for Document<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.report;
        let inventory = report.inventory;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemaVersion", &SCHEMA_VERSION)?;
        map.serialize_entry("generatedAt", &rfc3339(report.now))?;
        if self.check {
            let status = report.status();
            map.serialize_entry("status", &status.name().to_lowercase())?;
            map.serialize_entry("exitCode", &status.code())?;
        }
        map.serialize_entry("kubernetesDir", &JsonPath(&inventory.kubernetes_dir))?;
        map.serialize_entry("certDir", &JsonPath(&inventory.cert_dir))?;
        if self.check {
            map.serialize_entry("thresholds", &ThresholdsOut(report))?;
            map.serialize_entry("findings", &Each(report.findings.iter().map(FindingOut)))?;
            map.serialize_entry(
                "unreadable",
                &Each(inventory.unreadable().into_iter().map(JsonPath)),
            )?;
        }
        map.serialize_entry("credentials", &Credentials(report))?;
        map.serialize_entry("copies", &Copies(report))?;
        if !self.check {
            map.serialize_entry(
                "staticPods",
                &crate::ui::render::live::static_pods(inventory),
            )?;
        }
        if let Some(live) = &report.live {
            map.serialize_entry("live", &crate::ui::render::live::json(live, report.now))?;
        }
        map.end()
    }
}

/// A whole `inspect` document whose credentials come a window at a time,
/// already sorted and judged: the same bytes as [`Document`] writes for
/// the same credentials (no copies, no live part).
pub(super) struct StreamDocument<'a, I> {
    /// The kubernetes and cert dirs and the static pods.
    pub(super) head: &'a Inventory,
    pub(super) now: OffsetDateTime,
    /// The windows of credentials; taken once.
    pub(super) windows: std::cell::RefCell<Option<I>>,
}

impl<I: Iterator<Item = Vec<Judged>>> Serialize for StreamDocument<'_, I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let head = self.head;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemaVersion", &SCHEMA_VERSION)?;
        map.serialize_entry("generatedAt", &rfc3339(self.now))?;
        map.serialize_entry("kubernetesDir", &JsonPath(&head.kubernetes_dir))?;
        map.serialize_entry("certDir", &JsonPath(&head.cert_dir))?;
        map.serialize_entry(
            "credentials",
            &Streamed {
                now: self.now,
                windows: &self.windows,
            },
        )?;
        map.serialize_entry("copies", &Each(std::iter::empty::<()>()))?;
        map.serialize_entry("staticPods", &crate::ui::render::live::static_pods(head))?;
        map.end()
    }
}

/// The credentials of a [`StreamDocument`], each written as it comes and dropped.
struct Streamed<'a, I> {
    now: OffsetDateTime,
    windows: &'a std::cell::RefCell<Option<I>>,
}

impl<I: Iterator<Item = Vec<Judged>>> Serialize for Streamed<'_, I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        if let Some(windows) = self.windows.borrow_mut().take() {
            for judged in windows.flatten() {
                seq.serialize_element(&CredentialOut {
                    now: self.now,
                    cred: &judged.credential,
                    codes: Each(judged.findings.iter().map(|finding| finding.code.as_str())),
                })?;
            }
        }
        seq.end()
    }
}

/// A sequence serialised from an iterator, each item as it comes.
struct Each<I>(I);

impl<I> Serialize for Each<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for item in self.0.clone() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

struct ThresholdsOut<'a, 'r>(&'a Report<'r>);

impl Serialize for ThresholdsOut<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let thresholds = &self.0.thresholds;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("warnSeconds", &thresholds.warn.whole_seconds())?;
        map.serialize_entry("critSeconds", &thresholds.crit.whole_seconds())?;
        map.serialize_entry("caWarnSeconds", &thresholds.ca_warn.whole_seconds())?;
        map.serialize_entry("caCritSeconds", &thresholds.ca_crit.whole_seconds())?;
        map.end()
    }
}

struct FindingOut<'a>(&'a Finding);

impl Serialize for FindingOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let finding = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("code", finding.code.as_str())?;
        map.serialize_entry("severity", finding.severity.as_str())?;
        map.serialize_entry("credential", &finding.credential)?;
        map.serialize_entry("path", &JsonPath(&finding.path))?;
        map.serialize_entry("message", &finding.message)?;
        map.serialize_entry("remedy", &finding.remedy)?;
        map.end()
    }
}

/// One entry of `credentials`: a kubeadm (or named) credential, or the
/// service-account key pair.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Credential(&'a Credential),
    ServiceAccount(&'a ServiceAccount),
}

/// Every credential, sorted by name (the service-account pair is `sa`).
struct Credentials<'a, 'r>(&'a Report<'r>);

impl Serialize for Credentials<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let inventory = report.inventory;
        let mut list: Vec<(&str, Entry<'_>)> = inventory
            .credentials
            .iter()
            .map(|cred| (cred.name.as_str(), Entry::Credential(cred)))
            .chain(
                inventory
                    .service_account
                    .iter()
                    .map(|sa| ("sa", Entry::ServiceAccount(sa))),
            )
            .collect();
        // Stable: equal names keep the scan's order, `sa` last among them.
        list.sort_by(|a, b| a.0.cmp(b.0));
        let mut seq = serializer.serialize_seq(Some(list.len()))?;
        for (_, entry) in list {
            match entry {
                Entry::Credential(cred) => {
                    seq.serialize_element(&CredentialOut {
                        now: report.now,
                        cred,
                        codes: Codes(report, &cred.name),
                    })?;
                }
                Entry::ServiceAccount(sa) => {
                    seq.serialize_element(&ServiceAccountOut { report, sa })?;
                }
            }
        }
        seq.end()
    }
}

struct ServiceAccountOut<'a, 'r> {
    report: &'a Report<'r>,
    sa: &'a ServiceAccount,
}

impl Serialize for ServiceAccountOut<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("name", "sa")?;
        map.serialize_entry("kind", "service-account-key")?;
        map.serialize_entry("key", &KeyOut(&self.sa.key, None))?;
        map.serialize_entry("publicKey", &PublicKeyOut(&self.sa.public))?;
        map.serialize_entry("findings", &Codes(self.report, "sa"))?;
        map.end()
    }
}

struct PublicKeyOut<'a>(&'a FileRead<(Vec<u8>, FileMeta)>);

impl Serialize for PublicKeyOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            FileRead::Absent(at) => {
                map.serialize_entry("state", "absent")?;
                map.serialize_entry("path", &JsonPath(at))?;
            }
            FileRead::Malformed { path: at, reason } => {
                map.serialize_entry("state", "malformed")?;
                map.serialize_entry("path", &JsonPath(at))?;
                map.serialize_entry("error", reason)?;
            }
            FileRead::Present((_, file)) => {
                map.serialize_entry("state", "present")?;
                map.serialize_entry("file", &FileOut(file))?;
            }
            FileRead::Unreadable(at) => {
                map.serialize_entry("state", "unreadable")?;
                map.serialize_entry("path", &JsonPath(at))?;
            }
        }
        map.end()
    }
}

/// One credential, with the codes of its findings.
struct CredentialOut<'a, C> {
    now: OffsetDateTime,
    cred: &'a Credential,
    codes: C,
}

impl<C: Serialize> Serialize for CredentialOut<'_, C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (now, cred) = (self.now, self.cred);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &cred.name)?;
        map.serialize_entry("kind", cred.kind.as_str())?;
        map.serialize_entry("path", &JsonPath(&cred.path))?;
        map.serialize_entry("ca", &cred.ca)?;
        match &cred.state {
            State::Absent { expected } => {
                map.serialize_entry("state", "absent")?;
                map.serialize_entry("expected", expected)?;
            }
            State::Malformed { path: at, reason } => {
                map.serialize_entry("state", "malformed")?;
                map.serialize_entry("error", &format!("{}: {reason}", escaped(at)))?;
            }
            State::Unreadable { path: at, .. } => {
                map.serialize_entry("state", "unreadable")?;
                map.serialize_entry("error", &format!("{}: {PERMISSION_DENIED}", escaped(at)))?;
            }
            State::Present(material) => {
                let cert = &material.certificate;
                certificate_fields(&mut map, now, cert)?;
                map.serialize_entry("state", "present")?;
                map.serialize_entry("source", &SourceOut(&material.origin, &material.file))?;
                map.serialize_entry("file", &FileOut(&material.file))?;
                // Unknown (null) when the algorithm cannot be checked, as when there is no CA.
                let signature = cred.chain.as_ref().and_then(|chain| match chain {
                    Ok(()) => Some(true),
                    Err(ChainError::UnsupportedAlgorithm) => None,
                    Err(_) => Some(false),
                });
                map.serialize_entry("signatureValid", &signature)?;
                map.serialize_entry("key", &KeyOut(&material.key, Some(cert)))?;
                map.serialize_entry(
                    "kubeconfig",
                    &material.kubeconfig.as_deref().map(KubeconfigOut),
                )?;
            }
        }
        map.serialize_entry("findings", &self.codes)?;
        map.end()
    }
}

struct SourceOut<'a>(&'a Origin, &'a FileMeta);

impl Serialize for SourceOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            Origin::File(at) => {
                map.serialize_entry("type", "file")?;
                map.serialize_entry("path", &JsonPath(at))?;
            }
            Origin::Embedded { user, field } => {
                map.serialize_entry("type", "embedded")?;
                map.serialize_entry("kubeconfig", &JsonPath(&self.1.path))?;
                map.serialize_entry("user", user)?;
                map.serialize_entry("field", field)?;
            }
        }
        map.end()
    }
}

struct KubeconfigOut<'a>(&'a crate::domain::model::KubeconfigFacts);

impl Serialize for KubeconfigOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let facts = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("context", &facts.context)?;
        map.serialize_entry("user", &facts.user)?;
        map.serialize_entry("cluster", &facts.cluster)?;
        map.serialize_entry("server", &facts.server)?;
        map.serialize_entry(
            "certificateAuthority",
            &facts.certificate_authority.as_ref().map(CaDataOut),
        )?;
        map.end()
    }
}

struct CaDataOut<'a>(&'a Result<Certificate, String>);

impl Serialize for CaDataOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            Ok(ca) => {
                map.serialize_entry("subject", &ca.subject)?;
                map.serialize_entry("fingerprintSha256", &ca.fingerprint.to_string())?;
            }
            Err(reason) => map.serialize_entry("error", reason)?,
        }
        map.end()
    }
}

/// The certificate fields shared by credentials and copies, in wire order.
fn certificate_fields<M: serde::ser::SerializeMap>(
    map: &mut M,
    now: OffsetDateTime,
    cert: &Certificate,
) -> Result<(), M::Error> {
    map.serialize_entry("subject", &SubjectOut(cert))?;
    map.serialize_entry("issuer", &cert.issuer)?;
    map.serialize_entry("serial", &cert.serial)?;
    map.serialize_entry("notBefore", &rfc3339(cert.not_before))?;
    map.serialize_entry("notAfter", &rfc3339(cert.not_after))?;
    map.serialize_entry("secondsLeft", &(cert.not_after - now).whole_seconds())?;
    map.serialize_entry("keyAlgorithm", &cert.key_algorithm.to_string())?;
    map.serialize_entry("subjectAltNames", &AltNamesOut(cert))?;
    map.serialize_entry("extendedKeyUsages", &cert.extended_key_usages)?;
    map.serialize_entry("isCa", &cert.is_ca)?;
    map.serialize_entry("fingerprintSha256", &cert.fingerprint.to_string())
}

struct SubjectOut<'a>(&'a Certificate);

impl Serialize for SubjectOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("commonName", &self.0.common_name)?;
        map.serialize_entry("groups", &self.0.groups)?;
        map.serialize_entry("dn", &self.0.subject)?;
        map.end()
    }
}

struct AltNamesOut<'a>(&'a Certificate);

impl Serialize for AltNamesOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("dns", &self.0.dns_names)?;
        map.serialize_entry(
            "ip",
            &Each(self.0.ip_addresses.iter().map(ToString::to_string)),
        )?;
        map.end()
    }
}

struct KeyOut<'a>(&'a KeyState, Option<&'a Certificate>);

impl Serialize for KeyOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            KeyState::Unknown => map.serialize_entry("state", "unknown")?,
            KeyState::Absent(at) => {
                map.serialize_entry("state", "absent")?;
                map.serialize_entry("path", &JsonPath(at))?;
            }
            KeyState::Malformed { path: at, reason } => {
                map.serialize_entry("state", "malformed")?;
                map.serialize_entry("path", &JsonPath(at))?;
                map.serialize_entry("error", reason)?;
            }
            KeyState::Unreadable(at) => {
                map.serialize_entry("state", "unreadable")?;
                map.serialize_entry("path", &JsonPath(at))?;
            }
            KeyState::Present { info, file } => {
                map.serialize_entry("state", "present")?;
                map.serialize_entry("algorithm", &info.algorithm.to_string())?;
                map.serialize_entry("encoding", info.encoding.label())?;
                map.serialize_entry(
                    "matchesCertificate",
                    &self
                        .1
                        .map(|cert| cert.public_key_raw == info.public_key_raw),
                )?;
                map.serialize_entry("file", &FileOut(file))?;
            }
        }
        map.end()
    }
}

struct FileOut<'a>(&'a FileMeta);

impl Serialize for FileOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let file = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("path", &JsonPath(&file.path))?;
        map.serialize_entry("mode", &format!("{:04o}", file.mode))?;
        map.serialize_entry("uid", &file.uid)?;
        map.serialize_entry("gid", &file.gid)?;
        map.serialize_entry(
            "symlinkTarget",
            &file.symlink_target.as_deref().map(JsonPath),
        )?;
        map.end()
    }
}

/// The admin copies, by path then user.
struct Copies<'a, 'r>(&'a Report<'r>);

impl Serialize for Copies<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let mut copies: Vec<&Copy> = report.inventory.copies.iter().collect();
        copies.sort_by(|a, b| {
            (a.file.path.as_os_str().as_bytes(), &a.user)
                .cmp(&(b.file.path.as_os_str().as_bytes(), &b.user))
        });
        let mut seq = serializer.serialize_seq(Some(copies.len()))?;
        for copy in copies {
            seq.serialize_element(&CopyOut { report, copy })?;
        }
        seq.end()
    }
}

struct CopyOut<'a, 'r> {
    report: &'a Report<'r>,
    copy: &'a Copy,
}

impl Serialize for CopyOut<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let copy = self.copy;
        let name = escaped(&copy.file.path);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("path", &JsonPath(&copy.file.path))?;
        map.serialize_entry("user", &copy.user)?;
        map.serialize_entry("file", &FileOut(&copy.file))?;
        certificate_fields(&mut map, self.report.now, &copy.certificate)?;
        map.serialize_entry("findings", &Codes(self.report, &name))?;
        map.end()
    }
}

/// The codes of a credential's findings.
struct Codes<'a, 'r>(&'a Report<'r>, &'a str);

impl Serialize for Codes<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for finding in self.0.findings_for(self.1) {
            seq.serialize_element(finding.code.as_str())?;
        }
        seq.end()
    }
}
