//! The rules: an inventory and a clock in, findings out. Pure: no file
//! access, no clock, no formatting beyond each finding's own sentence.

use std::path::PathBuf;

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::domain::cert::{Certificate, ChainError};
use crate::domain::layout::{self, CommonName, Kind, Presence};
use crate::domain::model::{
    Credential, FileMeta, FileRead, Inventory, KeyState, Material, Origin, ServiceAccount, State,
};
use crate::domain::span::{date, left};

/// How bad a finding is; ordered from harmless to urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; changes no exit status.
    Info,
    /// Needs attention soon: exit status 1.
    Warning,
    /// Needs attention now: exit status 2.
    Critical,
}

impl Severity {
    /// Lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// A finding's stable code (SPEC.md's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// admin.conf's certificate is in `system:masters`.
    AdminInSystemMasters,
    /// (`--online`) the API server did not answer.
    ApiUnreachable,
    /// A kubeconfig's CA data differs from `ca.crt`.
    CaDataMismatch,
    /// A CA expires inside its thresholds.
    CaExpiresSoon,
    /// A leaf outlives its CA.
    CaOutlived,
    /// The node clock disagrees with the certificates of the tree.
    ClockImplausible,
    /// (`--online`) admin.conf relies on a binding that does not exist.
    ClusterAdminsBindingMissing,
    /// (`--online`) the binding grants cluster-admin to more than kubeadm's group.
    ClusterAdminsBindingTooBroad,
    /// An offline migration's binding has not been seen by the API server yet.
    ClusterAdminsBindingUnverified,
    /// (`--live`) a component started before its credential file changed and
    /// does not reload it: it still uses the old one.
    ComponentNotRestarted,
    /// Not-after has passed.
    Expired,
    /// A leaf expires inside its thresholds.
    ExpiresSoon,
    /// A CA's key is absent: certificates it signs cannot be renewed here.
    ExternalCa,
    /// A key or kubeconfig is readable by others or not owned by root, or a
    /// credential folder is writable by others or not owned by root.
    InsecurePermissions,
    /// A kubecred run was interrupted mid-change: its journal is pending.
    InterruptedChange,
    /// A private key does not belong to its certificate.
    KeyMismatch,
    /// (`--live`) kube-apiserver's in-memory loopback certificate expires soon.
    LoopbackCertificateExpiresSoon,
    /// A file is present but unusable.
    Malformed,
    /// A credential kubeadm always writes is absent.
    Missing,
    /// The signature does not verify against the expected CA.
    NotSignedByCa,
    /// Not-before is in the future.
    NotYetValid,
    /// (`--live`) an endpoint serves another certificate than the file its manifest names.
    ServedCertificateStale,
    /// A kubeconfig outside the kubernetes dir holds a stale or `system:masters` admin credential.
    StaleAdminCopy,
    /// No super-admin.conf.
    SuperAdminAbsent,
    /// A subject differs from every one kubeadm writes.
    UnexpectedIdentity,
    /// Files the running user may not read: the check could not judge them
    /// (one finding for all of them; the status is UNKNOWN).
    Unreadable,
}

impl Code {
    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdminInSystemMasters => "admin-in-system-masters",
            Self::ApiUnreachable => "api-unreachable",
            Self::CaDataMismatch => "ca-data-mismatch",
            Self::CaExpiresSoon => "ca-expires-soon",
            Self::CaOutlived => "ca-outlived",
            Self::ClockImplausible => "clock-implausible",
            Self::ClusterAdminsBindingMissing => "cluster-admins-binding-missing",
            Self::ClusterAdminsBindingTooBroad => "cluster-admins-binding-too-broad",
            Self::ClusterAdminsBindingUnverified => "cluster-admins-binding-unverified",
            Self::ComponentNotRestarted => "component-not-restarted",
            Self::Expired => "expired",
            Self::ExpiresSoon => "expires-soon",
            Self::ExternalCa => "external-ca",
            Self::InsecurePermissions => "insecure-permissions",
            Self::InterruptedChange => "interrupted-change",
            Self::KeyMismatch => "key-mismatch",
            Self::LoopbackCertificateExpiresSoon => "loopback-certificate-expires-soon",
            Self::Malformed => "malformed",
            Self::Missing => "missing",
            Self::NotSignedByCa => "not-signed-by-ca",
            Self::NotYetValid => "not-yet-valid",
            Self::ServedCertificateStale => "served-certificate-stale",
            Self::StaleAdminCopy => "stale-admin-copy",
            Self::SuperAdminAbsent => "super-admin-absent",
            Self::UnexpectedIdentity => "unexpected-identity",
            Self::Unreadable => "unreadable",
        }
    }
}

/// One thing wrong (or worth knowing) about one credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// How bad.
    pub severity: Severity,
    /// The credential's name.
    pub credential: String,
    /// The file concerned.
    pub path: PathBuf,
    /// What is wrong, one sentence.
    pub message: String,
    /// What to do, one sentence.
    pub remedy: String,
}

/// When a certificate's remaining life becomes a warning or critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Leaves: warning inside this.
    pub warn: Duration,
    /// Leaves: critical inside this.
    pub crit: Duration,
    /// CAs: warning inside this.
    pub ca_warn: Duration,
    /// CAs: critical inside this.
    pub ca_crit: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            warn: Duration::days(30),
            crit: Duration::days(7),
            ca_warn: Duration::days(365),
            ca_crit: Duration::days(90),
        }
    }
}

/// Evaluates every rule, findings sorted by credential then code.
pub fn evaluate(
    inventory: &Inventory,
    now: OffsetDateTime,
    thresholds: &Thresholds,
) -> Vec<Finding> {
    let mut rules = Rules {
        inventory,
        now,
        thresholds,
        out: Vec::new(),
    };
    for credential in &inventory.credentials {
        rules.credential(credential);
    }
    if let Some(sa) = &inventory.service_account {
        rules.service_account(sa);
    }
    rules.copies();
    rules.clock();
    rules.folders();
    let mut findings = rules.out;
    findings.extend(unreadable(inventory));
    findings.extend(crate::domain::live::manifest_findings(inventory));
    findings
        .sort_by(|a, b| (&a.credential, a.code, &a.path).cmp(&(&b.credential, b.code, &b.path)));
    findings
}

/// The findings about one credential of `inventory` (whose CAs it holds), as
/// [`evaluate`] finds them, sorted by code, with the clock's if `doubt` names it.
/// For a stream of ad-hoc credentials (no layout, folders or copies), whose
/// only finding across credentials is the clock's.
pub fn evaluate_credential(
    inventory: &Inventory,
    credential: &Credential,
    doubt: Option<&crate::domain::clock::Doubt>,
    now: OffsetDateTime,
    thresholds: &Thresholds,
) -> Vec<Finding> {
    let mut rules = Rules {
        inventory,
        now,
        thresholds,
        out: Vec::new(),
    };
    rules.credential(credential);
    let mut findings = rules.out;
    findings.extend(
        doubt
            .filter(|doubt| doubt.name == credential.name)
            .map(clock_finding),
    );
    findings
        .sort_by(|a, b| (&a.credential, a.code, &a.path).cmp(&(&b.credential, b.code, &b.path)));
    findings
}

fn clock_finding(doubt: &crate::domain::clock::Doubt) -> Finding {
    Finding {
        code: Code::ClockImplausible,
        severity: Severity::Warning,
        credential: doubt.name.clone(),
        path: doubt.path.clone(),
        message: doubt.message(),
        remedy: "check the node clock (timedatectl, chrony): `kubecred renew` refuses to issue until it agrees with the certificates, or until --trust-clock".into(),
    }
}

/// The finding for a journal an interrupted kubecred run left: the tree may
/// hold half of a change (a key without its certificate) until it is restored.
pub fn interrupted_change(id: &str, backup_dir: &std::path::Path) -> Finding {
    Finding {
        code: Code::InterruptedChange,
        severity: Severity::Critical,
        credential: "kubecred".into(),
        path: backup_dir.to_path_buf(),
        message: format!(
            "a kubecred run was interrupted in the middle of a change: files may not match each other until backup {id} is restored"
        ),
        remedy: format!(
            "run `kubecred recover` (it restores backup {id}), or `kubecred rollback {id}`"
        ),
    }
}

/// The one finding for every file the running user may not read: which (as
/// paths under the kubernetes dir), how many, as whom, and what kubecred needs.
fn unreadable(inventory: &Inventory) -> Option<Finding> {
    let files = inventory.unreadable();
    let first = files.first()?;
    let shown: Vec<String> = files
        .iter()
        .map(|path| {
            path.strip_prefix(&inventory.kubernetes_dir)
                .ok()
                .filter(|rel| !rel.as_os_str().is_empty())
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    let count = files.len();
    let uid = inventory.reader_uid;
    Some(Finding {
        code: Code::Unreadable,
        severity: Severity::Warning,
        credential: "kubecred".into(),
        path: if count == 1 {
            first.to_path_buf()
        } else {
            inventory.kubernetes_dir.clone()
        },
        message: format!(
            "{count} {} cannot be read as uid {uid} (permission denied), so the check could not judge {}: {}",
            if count == 1 { "file" } else { "files" },
            if count == 1 { "it" } else { "them" },
            shown.join(", ")
        ),
        remedy: if uid == 0 {
            "give `kubecred check` CAP_DAC_READ_SEARCH back: it runs as root without the capabilities that read any file".into()
        } else {
            format!(
                "run `kubecred check` as root, or give it CAP_DAC_READ_SEARCH (enough for a read-only check); uid {uid} lacks both"
            )
        },
    })
}

/// The overall severity: the worst finding's, or `None` when all is well.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|finding| finding.severity).max()
}

struct Rules<'a> {
    inventory: &'a Inventory,
    now: OffsetDateTime,
    thresholds: &'a Thresholds,
    out: Vec<Finding>,
}

impl Rules<'_> {
    fn push(
        &mut self,
        credential: &Credential,
        code: Code,
        severity: Severity,
        message: String,
        remedy: String,
    ) {
        self.out.push(Finding {
            code,
            severity,
            credential: credential.name.clone(),
            path: credential.path.clone(),
            message,
            remedy,
        });
    }

    fn credential(&mut self, credential: &Credential) {
        match &credential.state {
            State::Absent { expected } => self.absent(credential, *expected),
            State::Malformed { path, reason } => {
                let message = format!("{}: {reason}", path.display());
                self.push(
                    credential,
                    Code::Malformed,
                    Severity::Critical,
                    message,
                    "restore the file from a backup, or regenerate it with kubeadm".into(),
                );
            }
            // Nothing is known of its content: the one `unreadable` finding says so.
            State::Unreadable { .. } => {}
            State::Present(material) => {
                self.validity(credential, &material.certificate);
                self.chain(credential, &material.certificate);
                self.key(credential, material);
                self.permissions(credential, material);
                self.ca_data(credential, material);
                self.identity(credential, &material.certificate);
                self.refused_by_go(credential, material);
            }
        }
    }

    fn absent(&mut self, credential: &Credential, expected: bool) {
        let Some(spec) = credential.spec else {
            return;
        };
        if spec.presence == Presence::InitNodeOnly {
            self.push(
                credential,
                Code::SuperAdminAbsent,
                Severity::Info,
                "no super-admin.conf: normal on a node joined with `kubeadm join --control-plane`, \
                 and on clusters created before 1.29"
                    .into(),
                "keep a break-glass credential off the node; `kubecred migrate` writes one".into(),
            );
        } else if expected {
            self.push(
                credential,
                Code::Missing,
                Severity::Critical,
                format!(
                    "{} is absent; kubeadm writes it on every control-plane node",
                    credential.path.display()
                ),
                "restore it from a backup, or regenerate it with `kubeadm init phase`".into(),
            );
        }
    }

    fn validity(&mut self, credential: &Credential, cert: &Certificate) {
        if cert.not_after <= self.now {
            self.push(
                credential,
                Code::Expired,
                Severity::Critical,
                format!(
                    "expired {} ago, on {}",
                    left(self.now - cert.not_after),
                    date(cert.not_after)
                ),
                Self::renew_remedy(credential),
            );
            return;
        }
        if cert.not_before > self.now {
            self.push(
                credential,
                Code::NotYetValid,
                Severity::Critical,
                format!(
                    "not valid before {} ({} from now): check the host clock",
                    date(cert.not_before),
                    left(cert.not_before - self.now)
                ),
                "fix the host's clock (timedatectl, chrony), or reissue the certificate".into(),
            );
        }
        let remaining = cert.not_after - self.now;
        let (code, warn, crit) = if credential.kind == Kind::Ca {
            (
                Code::CaExpiresSoon,
                self.thresholds.ca_warn,
                self.thresholds.ca_crit,
            )
        } else {
            (
                Code::ExpiresSoon,
                self.thresholds.warn,
                self.thresholds.crit,
            )
        };
        let severity = if remaining <= crit {
            Severity::Critical
        } else if remaining <= warn {
            Severity::Warning
        } else {
            return;
        };
        self.push(
            credential,
            code,
            severity,
            format!(
                "expires in {}, on {}",
                left(remaining),
                date(cert.not_after)
            ),
            Self::renew_remedy(credential),
        );
    }

    fn renew_remedy(credential: &Credential) -> String {
        match credential.spec {
            Some(spec) if spec.renewable => format!("run `kubecred renew {}`", spec.name),
            Some(spec) if spec.kind == Kind::Ca => {
                "plan a CA rotation (kubeadm does not renew CAs)".into()
            }
            Some(spec) if spec.name == "kubelet.conf" => {
                "check that the kubelet rotates its client certificate (rotateCertificates)".into()
            }
            _ => "reissue the certificate".into(),
        }
    }

    fn chain(&mut self, credential: &Credential, cert: &Certificate) {
        let Some(ca_name) = credential.ca.as_deref() else {
            return;
        };
        let Some(ca) = self.inventory.material(ca_name) else {
            return;
        };
        let ca = &ca.certificate;
        // An algorithm the verifier cannot check is not a signature that fails:
        // what Go says of the algorithm is `refused_by_go`'s finding.
        if let Some(Err(err)) = credential
            .chain
            .as_ref()
            .filter(|chain| *chain != &Err(ChainError::UnsupportedAlgorithm))
        {
            let why = match err {
                ChainError::IssuerName if cert.issuer == ca.subject => format!(
                    "its issuer `{}` is encoded differently from {ca_name}'s subject (Go compares the bytes)",
                    cert.issuer
                ),
                ChainError::IssuerName => format!(
                    "its issuer `{}` is not {ca_name}'s subject `{}`",
                    cert.issuer, ca.subject
                ),
                ChainError::Signature => {
                    format!("its signature does not verify with {ca_name}'s key")
                }
                ChainError::UnsupportedAlgorithm => {
                    format!("its signature algorithm cannot be checked against {ca_name}'s key")
                }
            };
            self.push(
                credential,
                Code::NotSignedByCa,
                Severity::Critical,
                format!("not signed by {ca_name}: {why}"),
                format!(
                    "reissue it from {ca_name}, or restore the matching {ca_name} from a backup"
                ),
            );
            return;
        }
        if cert.not_after > ca.not_after {
            self.push(
                credential,
                Code::CaOutlived,
                Severity::Warning,
                format!(
                    "valid until {}, past {ca_name}'s own expiry on {}: it stops working then",
                    date(cert.not_after),
                    date(ca.not_after)
                ),
                format!(
                    "plan the rotation of {ca_name} before {}",
                    date(ca.not_after)
                ),
            );
        }
    }

    fn key(&mut self, credential: &Credential, material: &Material) {
        match &material.key {
            // Nothing to judge: no key looked for, or one the `unreadable` finding names.
            KeyState::Unknown | KeyState::Unreadable(_) => {}
            KeyState::Absent(path) if credential.kind == Kind::Ca => {
                self.push(
                    credential,
                    Code::ExternalCa,
                    Severity::Info,
                    format!("{} is absent: an external CA; certificates it signs cannot be renewed on this node", path.display()),
                    "renew those certificates with the CA's owner".into(),
                );
            }
            KeyState::Absent(path) => {
                let message = if credential.kind == Kind::Kubeconfig {
                    "the current user has no client key".to_owned()
                } else {
                    format!("private key {} is absent", path.display())
                };
                self.push(
                    credential,
                    Code::Missing,
                    Severity::Critical,
                    message,
                    "restore the key from a backup, or renew the certificate".into(),
                );
            }
            KeyState::Malformed { path, reason } => {
                self.push(
                    credential,
                    Code::Malformed,
                    Severity::Critical,
                    format!("{}: {reason}", path.display()),
                    "restore the key from a backup, or renew the certificate".into(),
                );
            }
            KeyState::Present { info, .. } => {
                if info.public_key_raw != material.certificate.public_key_raw {
                    self.push(
                        credential,
                        Code::KeyMismatch,
                        Severity::Critical,
                        "the private key does not belong to the certificate".into(),
                        "restore the matching pair from a backup, or renew the certificate".into(),
                    );
                }
            }
        }
    }

    fn permissions(&mut self, credential: &Credential, material: &Material) {
        let mut files: Vec<&FileMeta> = Vec::new();
        if credential.kind == Kind::Kubeconfig {
            files.push(&material.file);
        }
        if let KeyState::Present { file, .. } = &material.key
            && !files.iter().any(|seen| seen.path == file.path)
        {
            files.push(file);
        }
        for found in &material.keys_in_certificates {
            let file = &found.file;
            let exposed = file.mode & 0o044 != 0;
            let place = match &found.field {
                Some(field) => format!("{}: {field}", file.path.display()),
                None => file.path.display().to_string(),
            };
            let message = if exposed {
                format!(
                    "{place}: holds a private key, though it is read as a certificate; mode {:04o} lets its group or others read it",
                    file.mode
                )
            } else {
                format!("{place}: holds a private key, though it is read as a certificate")
            };
            self.push(
                credential,
                Code::InsecurePermissions,
                if exposed {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                message,
                "remove the private key from the certificate file (keep it only in the key file) and, if others could read it, replace the key".into(),
            );
        }
        let secret_severity = secret_severity(credential);
        for file in &files {
            if let Some(problem) = self.permission_problem(file) {
                let message = format!("{}: {problem}", file.path.display());
                self.push(
                    credential,
                    Code::InsecurePermissions,
                    secret_severity,
                    message,
                    PERMISSIONS_REMEDY.into(),
                );
            }
        }
        // A certificate file is public, but whoever can write it chooses what
        // the components trust (a CA) or present (a leaf).
        if matches!(credential.kind, Kind::Ca | Kind::Leaf)
            && !files.iter().any(|seen| seen.path == material.file.path)
            && let Some(problem) = self.public_file_problem(&material.file)
        {
            let (severity, what) = if credential.kind == Kind::Ca {
                (
                    Severity::Critical,
                    "whoever can write it chooses which certificates the cluster trusts",
                )
            } else {
                (
                    Severity::Warning,
                    "whoever can write it chooses what the component presents",
                )
            };
            self.push(
                credential,
                Code::InsecurePermissions,
                severity,
                format!("{}: {problem}: {what}", material.file.path.display()),
                PERMISSIONS_REMEDY.into(),
            );
        }
    }

    /// A public file (a certificate, `sa.pub`) writable by others or not owned
    /// by the expected owner.
    fn public_file_problem(&self, file: &FileMeta) -> Option<String> {
        let mut problems = Vec::new();
        if file.mode & 0o022 != 0 {
            let who = match (file.mode & 0o020 != 0, file.mode & 0o002 != 0) {
                (true, true) => "its group and others",
                (true, false) => "its group",
                _ => "others",
            };
            problems.push(format!("mode {:04o} lets {who} rewrite it", file.mode));
        }
        if let Some(problem) = self.owner_problem(file) {
            problems.push(problem);
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    fn permission_problem(&self, file: &FileMeta) -> Option<String> {
        let mut problems = Vec::new();
        if file.mode & 0o077 != 0 {
            let who = match (file.mode & 0o070 != 0, file.mode & 0o007 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            };
            problems.push(format!(
                "mode {:04o} gives {who} access to private key material",
                file.mode
            ));
        }
        if let Some(problem) = self.owner_problem(file) {
            problems.push(problem);
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// A file or folder not owned by the expected owner (root on a node): its owner can rewrite it.
    fn owner_problem(&self, file: &FileMeta) -> Option<String> {
        let expected = self.inventory.expected_owner;
        (file.uid != expected).then(|| {
            if expected == 0 {
                format!("owned by uid {}, not root", file.uid)
            } else {
                format!("owned by uid {}, not uid {expected}", file.uid)
            }
        })
    }

    /// The kubernetes dir, the cert dir and `pki/etcd`: whoever can write to one
    /// can replace the credentials in it (and, in the kubernetes dir, the static
    /// pod manifests the kubelet runs as root), so each problem is critical.
    fn folders(&mut self) {
        for folder in &self.inventory.folders {
            let mut problems = Vec::new();
            if folder.mode & 0o022 != 0 {
                let who = match (folder.mode & 0o020 != 0, folder.mode & 0o002 != 0) {
                    (true, true) => "its group and others",
                    (true, false) => "its group",
                    _ => "others",
                };
                problems.push(format!(
                    "folder mode {:04o} lets {who} replace the credentials in it",
                    folder.mode
                ));
            }
            if let Some(problem) = self.owner_problem(folder) {
                problems.push(problem);
            }
            if problems.is_empty() {
                continue;
            }
            let name = crate::domain::exact::escaped(&folder.path);
            self.out.push(Finding {
                code: Code::InsecurePermissions,
                severity: Severity::Critical,
                message: format!("{name}: {}", problems.join("; ")),
                credential: name,
                path: folder.path.clone(),
                remedy: FOLDER_REMEDY.into(),
            });
        }
    }

    fn ca_data(&mut self, credential: &Credential, material: &Material) {
        let Some(facts) = &material.kubeconfig else {
            return;
        };
        if credential.spec.is_none() {
            return;
        }
        let Some(ca) = self.inventory.material("ca") else {
            return;
        };
        let problem = match &facts.certificate_authority {
            None => "has no certificate-authority-data".to_owned(),
            Some(Err(reason)) => format!("its certificate-authority data cannot be read: {reason}"),
            Some(Ok(cert)) if cert.fingerprint != ca.certificate.fingerprint => format!(
                "its certificate-authority-data (`{}`, SHA-256 {}) is not ca.crt",
                cert.subject, cert.fingerprint
            ),
            Some(Ok(_)) => return,
        };
        self.push(
            credential,
            Code::CaDataMismatch,
            Severity::Critical,
            format!("cluster `{}` {problem}", facts.cluster),
            "run `kubecred renew` for it, which refreshes certificate-authority-data from ca.crt"
                .into(),
        );
    }

    fn identity(&mut self, credential: &Credential, cert: &Certificate) {
        let Some(spec) = credential.spec else {
            return;
        };
        if spec.name == "admin.conf"
            && cert
                .groups
                .iter()
                .any(|group| group == layout::SYSTEM_MASTERS)
        {
            self.push(
                credential,
                Code::AdminInSystemMasters,
                Severity::Warning,
                "client certificate is in group system:masters, which bypasses RBAC and can never be revoked (pre-1.29 layout)".into(),
                "run `kubecred migrate` to move admin.conf to kubeadm:cluster-admins".into(),
            );
            return;
        }
        let node = self.inventory.node_name();
        let matches = spec.identities.iter().any(|identity| {
            let name_ok = match identity.common_name {
                CommonName::Exact(name) => cert.common_name == name,
                CommonName::KubeletNode => cert.common_name.starts_with("system:node:"),
                CommonName::NodeName => match &node {
                    Some(node) => &cert.common_name == node,
                    None => !cert.common_name.is_empty(),
                },
            };
            name_ok && same_groups(&cert.groups, identity.groups)
        });
        if matches {
            return;
        }
        let expected: Vec<String> = spec
            .identities
            .iter()
            .map(|identity| {
                let cn = match identity.common_name {
                    CommonName::Exact(name) => name.to_owned(),
                    CommonName::KubeletNode => "system:node:<node>".to_owned(),
                    CommonName::NodeName => node.clone().unwrap_or_else(|| "<node>".into()),
                };
                format!(
                    "CN={cn} O=[{}] ({})",
                    identity.groups.join(","),
                    identity.versions
                )
            })
            .collect();
        self.push(
            credential,
            Code::UnexpectedIdentity,
            Severity::Warning,
            format!(
                "subject CN={} O=[{}] is none kubeadm writes: expected {}",
                cert.common_name,
                cert.groups.join(","),
                expected.join(" or ")
            ),
            "check who issued it; renewing keeps the subject, so reissue it with kubeadm's identity".into(),
        );
    }

    /// What Go parses but refuses to use: each is `malformed`, in Go's words.
    fn refused_by_go(&mut self, credential: &Credential, material: &Material) {
        let cert = &material.certificate;
        let at = match &material.origin {
            Origin::Embedded { user, field } => {
                format!("{}: `{field}` of `{user}`", material.file.path.display())
            }
            Origin::File(path) => path.display().to_string(),
        };
        let as_ca = (credential.kind == Kind::Ca)
            .then_some(cert.cannot_sign.as_ref())
            .flatten();
        for reason in cert.go_refusals.iter().chain(as_ca) {
            self.push(
                credential,
                Code::Malformed,
                Severity::Critical,
                format!("{at}: {reason}"),
                if credential.kind == Kind::Ca {
                    "reissue the CA as kubeadm writes it (plan a CA rotation)".into()
                } else {
                    Self::renew_remedy(credential)
                },
            );
        }
    }

    fn service_account(&mut self, sa: &ServiceAccount) {
        let name = layout::SERVICE_ACCOUNT;
        let cred = Credential {
            name: name.into(),
            kind: Kind::Leaf,
            spec: None,
            path: self.inventory.cert_dir.join("sa.key"),
            ca: None,
            state: State::Absent { expected: true },
            chain: None,
        };
        let mut public_raw = None;
        match &sa.public {
            FileRead::Absent(path) => self.push(
                &cred,
                Code::Missing,
                Severity::Critical,
                format!(
                    "{} is absent; the API server cannot verify service-account tokens without it",
                    path.display()
                ),
                "restore sa.pub from a backup (it must match sa.key on every control-plane node)"
                    .into(),
            ),
            FileRead::Malformed { path, reason } => self.push(
                &cred,
                Code::Malformed,
                Severity::Critical,
                format!("{}: {reason}", path.display()),
                "restore sa.pub from a backup".into(),
            ),
            FileRead::Unreadable(_) => {}
            FileRead::Present((der, meta)) => {
                public_raw = SubjectPublicKeyInfo::from_der(der)
                    .ok()
                    .map(|(_, spki)| spki.subject_public_key.data.to_vec());
                if let Some(problem) = self.public_file_problem(meta) {
                    self.push(
                        &cred,
                        Code::InsecurePermissions,
                        Severity::Critical,
                        format!(
                            "{}: {problem}: whoever can write it can add a key the API server accepts service-account tokens from",
                            meta.path.display()
                        ),
                        PERMISSIONS_REMEDY.into(),
                    );
                }
            }
        }
        match &sa.key {
            KeyState::Absent(path) => self.push(
                &cred,
                Code::Missing,
                Severity::Critical,
                format!(
                    "{} is absent; the controller manager cannot sign service-account tokens",
                    path.display()
                ),
                "restore sa.key from a backup (it must be the same on every control-plane node)"
                    .into(),
            ),
            KeyState::Malformed { path, reason } => self.push(
                &cred,
                Code::Malformed,
                Severity::Critical,
                format!("{}: {reason}", path.display()),
                "restore sa.key from a backup".into(),
            ),
            KeyState::Present { info, file } => {
                if public_raw
                    .as_ref()
                    .is_some_and(|raw| *raw != info.public_key_raw)
                {
                    self.push(
                        &cred,
                        Code::KeyMismatch,
                        Severity::Critical,
                        "sa.key and sa.pub are not one key pair: tokens will fail verification"
                            .into(),
                        "restore the matching pair from a backup".into(),
                    );
                }
                if let Some(problem) = self.permission_problem(file) {
                    // Whoever reads sa.key can mint a token for any service account.
                    self.push(
                        &cred,
                        Code::InsecurePermissions,
                        Severity::Critical,
                        format!("{}: {problem}", file.path.display()),
                        PERMISSIONS_REMEDY.into(),
                    );
                }
            }
            KeyState::Unknown | KeyState::Unreadable(_) => {}
        }
    }

    fn clock(&mut self) {
        if let Some(doubt) = crate::domain::clock::doubt(self.inventory, self.now) {
            self.out.push(clock_finding(&doubt));
        }
    }

    fn copies(&mut self) {
        let admin = self
            .inventory
            .material("admin.conf")
            .map(|m| &m.certificate);
        for copy in &self.inventory.copies {
            let cert = &copy.certificate;
            let in_masters = cert
                .groups
                .iter()
                .any(|group| group == layout::SYSTEM_MASTERS);
            let current = admin.is_some_and(|admin| admin.fingerprint == cert.fingerprint);
            if current && !in_masters {
                continue;
            }
            let why = match (current, in_masters) {
                (true, _) => {
                    "admin.conf's current certificate, which is in system:masters".to_owned()
                }
                (false, true) => format!(
                    "a system:masters certificate (CN={}) that is not admin.conf's current one",
                    cert.common_name
                ),
                (false, false) => format!(
                    "an admin certificate (CN={}, O=[{}]) that is not admin.conf's current one",
                    cert.common_name,
                    cert.groups.join(",")
                ),
            };
            self.out.push(Finding {
                code: Code::StaleAdminCopy,
                severity: Severity::Warning,
                credential: crate::domain::exact::escaped(&copy.file.path),
                path: copy.file.path.clone(),
                message: format!(
                    "user `{}` holds {why}; it stays valid until {}",
                    copy.user,
                    date(cert.not_after)
                ),
                remedy: copy_remedy(admin, cert).into(),
            });
        }
    }
}

/// What to do about a stale copy holding `copy`: the command that rewrites it
/// when it is admin.conf's identity, else replacing or deleting it by hand.
fn copy_remedy(
    admin: Option<&crate::domain::cert::Certificate>,
    copy: &crate::domain::cert::Certificate,
) -> &'static str {
    let in_masters = |cert: &crate::domain::cert::Certificate| {
        cert.groups
            .iter()
            .any(|group| group == layout::SYSTEM_MASTERS)
    };
    match admin {
        Some(admin) if admin.common_name == copy.common_name && in_masters(admin) => {
            "move admin.conf out of system:masters and rewrite its copies: `kubecred migrate --update-copies`; or delete it"
        }
        Some(admin) if admin.common_name == copy.common_name => {
            "rewrite it with admin.conf's current credential: `kubecred renew admin.conf --within 0s --update-copies`; or delete it"
        }
        _ => {
            "replace it with a copy of the current admin.conf, or delete it (super-admin.conf is for break-glass only)"
        }
    }
}

const PERMISSIONS_REMEDY: &str = "chown root:root <file> && chmod 0600 <file>";

const FOLDER_REMEDY: &str =
    "chown root:root <folder> && chmod 0755 <folder>, then check that no file in it was replaced";

/// How bad it is that others can read or rewrite a credential's secret: a CA
/// key mints any identity and admin.conf or super-admin.conf is cluster-admin,
/// so those are critical; any other component's key is a warning.
fn secret_severity(credential: &Credential) -> Severity {
    let cluster_admin = credential.spec.is_some()
        && matches!(credential.name.as_str(), "admin.conf" | "super-admin.conf");
    if credential.kind == Kind::Ca || cluster_admin {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn same_groups(actual: &[String], expected: &[&str]) -> bool {
    let mut actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    let mut expected = expected.to_vec();
    actual.sort_unstable();
    expected.sort_unstable();
    actual == expected
}

/// (`--online`) The `kubeadm:cluster-admins` binding grants cluster-admin to
/// `extra` subjects besides kubeadm's group. Critical: every one of them can do
/// anything in the cluster, and nothing on this node shows it.
pub fn binding_too_broad(admin_path: PathBuf, extra: &[String]) -> Finding {
    Finding {
        code: Code::ClusterAdminsBindingTooBroad,
        severity: Severity::Critical,
        credential: "admin.conf".into(),
        path: admin_path,
        message: format!(
            "the ClusterRoleBinding kubeadm:cluster-admins also grants cluster-admin to {}",
            extra.join(", ")
        ),
        remedy: "remove every subject but Group kubeadm:cluster-admins from the binding (kubectl edit clusterrolebinding kubeadm:cluster-admins)".into(),
    }
}

/// An offline migration moved admin.conf to `kubeadm:cluster-admins`, and no
/// online check has seen the binding since: admin.conf may have no rights.
pub fn binding_unverified(admin_path: PathBuf, manifest: &str, apply: &str) -> Finding {
    Finding {
        code: Code::ClusterAdminsBindingUnverified,
        severity: Severity::Warning,
        credential: "admin.conf".into(),
        path: admin_path,
        message: format!(
            "admin.conf was migrated offline: it has no rights until the binding manifest {manifest} is applied"
        ),
        remedy: format!("run `{apply}`, then `kubecred check --online`"),
    }
}

#[cfg(test)]
#[path = "findings_tests.rs"]
mod tests;
