//! The 1.29 split for one node: what must change (the plan, pure) and the new
//! files (issued and verified, not yet written). The API steps, in SPEC.md's
//! order, are [`steps`]'s; the writes are `edge::apply`'s.

pub mod steps;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::{Duration, OffsetDateTime};

use crate::domain::cert::Certificate;
use crate::domain::clock;
use crate::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use crate::domain::kubeconfig::{ClientCredentials, Kubeconfig};
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::domain::model::{Inventory, KeyState, State};
use crate::domain::pem;
use crate::domain::plan::{Action, Expect, Ownership, Source, Write};
use crate::domain::renew;
use crate::domain::span;

/// Where super-admin.conf goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuperAdminTarget {
    /// `<kubernetes-dir>/super-admin.conf`, as `kubeadm init` writes it.
    Default,
    /// Elsewhere (removable media, a vault drop folder).
    Out(PathBuf),
    /// Not at all (`--no-super-admin`).
    Skip,
}

/// What the operator asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where super-admin.conf goes.
    pub super_admin: SuperAdminTarget,
    /// Whether to rewrite stale copies with the new admin credential.
    pub update_copies: bool,
    /// The new certificates' lifetime.
    pub validity: Duration,
    /// Issue even when the clock disagrees with the tree (`--trust-clock`).
    pub trust_clock: bool,
}

/// What happens to super-admin.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuperAdmin {
    /// One exists already (in `system:masters`): kept.
    Existing(PathBuf),
    /// A new one is written here.
    Write(PathBuf),
    /// None is written (`--no-super-admin`).
    Skip,
}

/// A stale copy of the admin credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRef {
    /// The kubeconfig.
    pub path: PathBuf,
    /// Its user entry holding the admin certificate.
    pub user: String,
}

/// The migration plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// admin.conf.
    pub admin_path: PathBuf,
    /// Its current certificate.
    pub old_admin: Certificate,
    /// Whether admin.conf gets a new certificate in `kubeadm:cluster-admins`.
    pub reissue_admin: bool,
    /// super-admin.conf's fate.
    pub super_admin: SuperAdmin,
    /// The credential still in `system:masters` that can create the binding, if any.
    pub binding_via: Option<(String, PathBuf)>,
    /// Stale copies found.
    pub copies: Vec<CopyRef>,
    /// Whether they are rewritten.
    pub update_copies: bool,
    /// The key algorithm of the new keys (admin.conf's).
    pub key: KeyAlgorithm,
    /// The new certificates' validity.
    pub not_before: OffsetDateTime,
    /// Capped at the CA's not-after.
    pub not_after: OffsetDateTime,
    /// The time the plan was made at (whole seconds); the new certificates must be valid then.
    pub now: OffsetDateTime,
}

impl Plan {
    /// Every file the migration may write (for the backup).
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if let SuperAdmin::Write(path) = &self.super_admin {
            paths.push(path.clone());
        }
        if self.reissue_admin {
            paths.push(self.admin_path.clone());
        }
        if self.update_copies {
            paths.extend(self.copies.iter().map(|copy| copy.path.clone()));
        }
        paths.dedup();
        paths
    }
}

/// Why a migration cannot go ahead; nothing has been written.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({})", path.display())]
pub struct MigrateError {
    /// What is wrong.
    pub message: String,
    /// The file concerned.
    pub path: PathBuf,
    /// Whether an argument is at fault (exit 2), not the node (exit 1).
    pub usage: bool,
}

fn error(message: impl Into<String>, path: &Path) -> MigrateError {
    MigrateError {
        message: message.into(),
        path: path.to_path_buf(),
        usage: false,
    }
}

/// Plans the migration from `inventory`; `source` tells whether the
/// `--super-admin-out` file exists.
///
/// Refuses a `--validity` under a day or out of range, a CA that cannot sign
/// at `now`, and (unless `trust_clock`) a clock that disagrees with the tree.
pub fn plan(
    inventory: &Inventory,
    source: &dyn Source,
    options: &Options,
    now: OffsetDateTime,
) -> Result<Plan, MigrateError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    renew::check_durations(options.validity, None, now).map_err(|err| MigrateError {
        usage: matches!(err, renew::RenewError::Usage(_)),
        message: match err {
            renew::RenewError::Clock(message) => format!("refusing to issue: {message}"),
            other => other.to_string(),
        },
        path: inventory.kubernetes_dir.clone(),
    })?;
    if !options.trust_clock
        && let Some(doubt) = clock::doubt(inventory, now)
    {
        return Err(error(
            format!(
                "refusing to issue: {}; fix the clock (timedatectl, chrony), or pass --trust-clock if it is right",
                doubt.message()
            ),
            &doubt.path,
        ));
    }
    let admin = inventory
        .credential("admin.conf")
        .ok_or_else(|| error("no admin.conf in the layout", &inventory.kubernetes_dir))?;
    let material = match &admin.state {
        State::Present(material) => material,
        State::Absent { .. } => return Err(error("admin.conf is absent", &admin.path)),
        State::Malformed { path, reason } => {
            return Err(error(format!("admin.conf is malformed: {reason}"), path));
        }
        State::Unreadable { path, .. } => {
            return Err(error(
                "admin.conf cannot be read (permission denied): run as root",
                path,
            ));
        }
    };
    let in_masters = |cert: &Certificate| cert.groups.iter().any(|group| group == SYSTEM_MASTERS);
    let old_admin = material.certificate.clone();
    let reissue_admin = old_admin.groups != [KUBEADM_CLUSTER_ADMINS];
    let existing_super = inventory
        .credential("super-admin.conf")
        .and_then(|cred| cred.material().map(|m| (cred, m)))
        .filter(|(_, m)| in_masters(&m.certificate));
    let super_admin = match (&options.super_admin, existing_super) {
        (SuperAdminTarget::Skip, _) => SuperAdmin::Skip,
        (SuperAdminTarget::Default, Some((cred, _))) => SuperAdmin::Existing(cred.path.clone()),
        (SuperAdminTarget::Default, None) => {
            SuperAdmin::Write(inventory.kubernetes_dir.join("super-admin.conf"))
        }
        (SuperAdminTarget::Out(path), _) => SuperAdmin::Write(path.clone()),
    };
    if let SuperAdmin::Write(path) = &super_admin
        && *path != inventory.kubernetes_dir.join("super-admin.conf")
        && !matches!(source.expect(path), Ok(Expect::Absent))
    {
        return Err(error(
            "refusing to overwrite an existing file with --super-admin-out",
            path,
        ));
    }
    let binding_via = if in_masters(&old_admin) {
        Some(("admin.conf".to_owned(), admin.path.clone()))
    } else {
        existing_super.map(|(cred, _)| ("super-admin.conf".to_owned(), cred.path.clone()))
    };
    let ca = inventory.material("ca").ok_or_else(|| {
        error(
            "ca.crt is absent or malformed",
            &inventory.cert_dir.join("ca.crt"),
        )
    })?;
    if !matches!(ca.key, KeyState::Present { .. }) {
        return Err(error(
            "ca.key is absent (external CA): kubecred cannot issue the new admin credentials here",
            &inventory.cert_dir.join("ca.key"),
        ));
    }
    let key = match &material.key {
        KeyState::Present { info, .. } => renew::generatable(&info.algorithm),
        _ => renew::generatable(&old_admin.key_algorithm),
    }
    .unwrap_or(KeyAlgorithm::Rsa2048);
    let ca_path = inventory.cert_dir.join("ca.crt");
    if let Some(reason) = clock::ca_unusable("ca", &ca.certificate, now) {
        return Err(error(reason, &ca_path));
    }
    let out_of_range = || MigrateError {
        message: format!(
            "--validity {} is out of range",
            span::exact(options.validity)
        ),
        path: inventory.kubernetes_dir.clone(),
        usage: true,
    };
    let not_before = now
        .checked_sub(Duration::minutes(5))
        .ok_or_else(out_of_range)?;
    let not_after = now
        .checked_add(options.validity)
        .ok_or_else(out_of_range)?
        .min(ca.certificate.not_after);
    let copies = admin_copies(inventory, &old_admin, reissue_admin);
    Ok(Plan {
        admin_path: admin.path.clone(),
        old_admin,
        reissue_admin,
        super_admin,
        binding_via,
        copies,
        update_copies: options.update_copies,
        key,
        not_before,
        not_after,
        now,
    })
}

/// The copies of admin.conf's credential `admin` (a user of the same common
/// name) that do not hold it, or, when `replacing` it, every one: what
/// `--update-copies` rewrites. A copy of another identity (super-admin.conf's,
/// a person's own) is never among them.
pub fn admin_copies(inventory: &Inventory, admin: &Certificate, replacing: bool) -> Vec<CopyRef> {
    inventory
        .copies
        .iter()
        .filter(|copy| copy.certificate.fingerprint != admin.fingerprint || replacing)
        .filter(|copy| copy.certificate.common_name == admin.common_name)
        .map(|copy| CopyRef {
            path: copy.file.path.clone(),
            user: copy.user.clone(),
        })
        .collect()
}

/// The new files, issued and verified.
#[derive(Debug)]
pub struct Material {
    /// super-admin.conf's bytes, if one is written.
    pub super_admin: Option<Vec<u8>>,
    /// The new admin.conf's bytes, if admin.conf is reissued.
    pub admin: Option<Vec<u8>>,
    /// The new admin certificate.
    pub admin_certificate: Option<Certificate>,
    /// The rewritten copies.
    pub copies: Vec<(PathBuf, Vec<u8>)>,
    /// Copies that cannot be rewritten, and why.
    pub skipped_copies: Vec<(PathBuf, String)>,
}

/// Issues super-admin.conf and the new admin.conf; rewrites the copies.
pub fn prepare(
    plan: &Plan,
    inventory: &Inventory,
    source: &dyn Source,
) -> Result<Material, MigrateError> {
    let (_, issuer, ca_cert, ca_pem) = renew::load_ca(inventory, source, "ca", "admin.conf")
        .map_err(|err| error(err.to_string(), &inventory.cert_dir))?;
    let admin_bytes = renew::read_pem(source, &plan.admin_path)
        .map_err(|reason| error(reason, &plan.admin_path))?;
    let admin_config =
        Kubeconfig::parse(&admin_bytes).map_err(|reason| error(reason, &plan.admin_path))?;
    let dir = plan.admin_path.parent().unwrap_or_else(|| Path::new("."));
    let current = admin_config
        .current_credentials(dir)
        .map_err(|reason| error(reason, &plan.admin_path))?;
    let server = current
        .server
        .clone()
        .ok_or_else(|| error("admin.conf has no server URL", &plan.admin_path))?;
    let issue_one =
        |cn: &str, group: &str| -> Result<(String, String, Certificate), MigrateError> {
            let key = issue::generate_key(plan.key)
                .map_err(|err| error(err.to_string(), &plan.admin_path))?;
            let profile = Profile {
                common_name: cn.into(),
                groups: vec![group.into()],
                dns_names: vec![],
                ip_addresses: vec![],
                usages: vec![Usage::ClientAuth],
            };
            let cert_pem = issue::leaf(
                &profile,
                &key.pair,
                &issuer,
                plan.not_before,
                plan.not_after,
            )
            .map_err(|err| error(err.to_string(), &plan.admin_path))?;
            let cert = verified(
                &cert_pem,
                &ca_cert,
                key.pair.public_key_raw(),
                cn,
                group,
                plan.now,
            )
            .map_err(|reason| {
                error(
                    format!("the new {cn} certificate failed verification: {reason}"),
                    &plan.admin_path,
                )
            })?;
            Ok((cert_pem, key.pem, cert))
        };
    let super_admin = match &plan.super_admin {
        SuperAdmin::Write(_) => {
            let (cert, key, _) = issue_one("kubernetes-super-admin", SYSTEM_MASTERS)?;
            let config = Kubeconfig::for_client(
                &current.cluster,
                &server,
                &ca_pem,
                "kubernetes-super-admin",
                &ClientCredentials::Embedded(&cert, &key),
            );
            Some(
                config
                    .to_checked_yaml()
                    .map_err(|reason| error(reason, &plan.admin_path))?
                    .into_bytes(),
            )
        }
        SuperAdmin::Existing(_) | SuperAdmin::Skip => None,
    };
    let mut material = Material {
        super_admin,
        admin: None,
        admin_certificate: None,
        copies: Vec::new(),
        skipped_copies: Vec::new(),
    };
    let (cert, key) = if plan.reissue_admin {
        let (cert, key, certificate) = issue_one("kubernetes-admin", KUBEADM_CLUSTER_ADMINS)?;
        let mut config = admin_config;
        config
            .replace_credentials(cert.as_bytes(), key.as_bytes(), &ca_pem)
            .map_err(|reason| error(reason, &plan.admin_path))?;
        let yaml = config
            .to_checked_yaml()
            .map_err(|reason| error(reason, &plan.admin_path))?;
        material.admin = Some(yaml.into_bytes());
        material.admin_certificate = Some(certificate);
        (cert, key)
    } else {
        // Already split: the copies get admin.conf's current credential.
        embedded_pem(&current).map_err(|reason| error(reason, &plan.admin_path))?
    };
    if plan.update_copies {
        (material.copies, material.skipped_copies) =
            rewrite_copies(source, &plan.copies, &cert, &key);
    }
    Ok(material)
}

/// The certificate and key PEM embedded for a kubeconfig's current user.
fn embedded_pem(
    current: &crate::domain::kubeconfig::CurrentCredentials,
) -> Result<(String, String), String> {
    let pem = |source: Option<crate::domain::kubeconfig::Source>| match source {
        Some(crate::domain::kubeconfig::Source::Embedded { pem, .. }) => {
            Ok(String::from_utf8_lossy(&pem).into_owned())
        }
        _ => Err("admin.conf's credentials are not embedded".to_owned()),
    };
    Ok((pem(current.certificate.clone())?, pem(current.key.clone())?))
}

/// The client certificate and key PEM that admin.conf's bytes `admin`
/// (a kubeconfig in `dir`) embed for its current user.
pub(crate) fn admin_credential(admin: &[u8], dir: &Path) -> Result<(String, String), String> {
    let config = Kubeconfig::parse(admin)?;
    embedded_pem(&config.current_credentials(dir)?)
}

/// Copies rewritten (each path with its new bytes), and those that cannot be, with why.
pub(crate) type Rewritten = (Vec<(PathBuf, Vec<u8>)>, Vec<(PathBuf, String)>);

/// Each copy rewritten with the certificate and key `cert`/`key` (see
/// [`rewrite_copy`]), and those that cannot be, with why.
pub(crate) fn rewrite_copies(
    source: &dyn Source,
    copies: &[CopyRef],
    cert: &str,
    key: &str,
) -> Rewritten {
    let (mut rewritten, mut skipped) = (Vec::new(), Vec::new());
    for copy in copies {
        match rewrite_copy(source, copy, cert, key) {
            Ok(bytes) => rewritten.push((copy.path.clone(), bytes)),
            Err(reason) => skipped.push((copy.path.clone(), reason)),
        }
    }
    (rewritten, skipped)
}

/// The write of a rewritten copy: kept mode and owner (a new file would get
/// 0600), under kubectl's lock, expecting the bytes `source` holds.
pub(crate) fn copy_write(
    path: &Path,
    bytes: &[u8],
    source: &dyn Source,
) -> Result<Write, MigrateError> {
    Ok(Write::file(
        path.to_path_buf(),
        bytes.to_vec(),
        0o600,
        true,
        source.expect(path).map_err(|reason| error(reason, path))?,
    ))
}

/// The copy with its admin user's certificate and key replaced; all else kept.
fn rewrite_copy(
    source: &dyn Source,
    copy: &CopyRef,
    cert: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let bytes = renew::read_pem(source, &copy.path)?;
    let mut config = Kubeconfig::parse(&bytes)?;
    let user = config
        .users
        .iter_mut()
        .find(|user| user.name == copy.user)
        .ok_or_else(|| format!("user `{}` vanished", copy.user))?;
    if user.user.client_certificate_data.is_none() || user.user.client_key_data.is_none() {
        return Err("its credentials are files, not embedded data: replace them by hand".into());
    }
    user.user.client_certificate_data = Some(STANDARD.encode(cert));
    user.user.client_certificate = None;
    user.user.client_key_data = Some(STANDARD.encode(key));
    user.user.client_key = None;
    Ok(config.to_checked_yaml()?.into_bytes())
}

fn verified(
    cert_pem: &str,
    ca: &Certificate,
    public_key: &[u8],
    cn: &str,
    group: &str,
    now: OffsetDateTime,
) -> Result<Certificate, String> {
    let block = pem::parse(cert_pem.as_bytes())?
        .into_iter()
        .next()
        .ok_or("no certificate")?;
    let cert = Certificate::from_der(&block.der)?;
    cert.verify_signed_by(ca)
        .map_err(|err| format!("{err:?}"))?;
    if cert.public_key_raw != public_key {
        return Err("its public key is not the new key's".into());
    }
    if cert.common_name != cn || cert.groups != [group] {
        return Err(format!("its subject is `{}`", cert.subject));
    }
    if let Some(reason) = renew::valid_at(&cert, ca, now) {
        return Err(reason);
    }
    Ok(cert)
}

/// The file an offline migration leaves in the state dir until the binding is seen.
pub fn mark_path(state_dir: &Path) -> PathBuf {
    state_dir.join("binding-unverified.json")
}

/// Where an offline migration writes the binding manifest.
pub fn manifest_path(state_dir: &Path) -> PathBuf {
    state_dir.join("kubeadm-cluster-admins.yaml")
}

/// What an offline migration left to do: apply the binding manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unverified {
    /// The migrated admin.conf.
    pub admin: PathBuf,
    /// The binding manifest.
    pub manifest: PathBuf,
    /// The system:masters kubeconfig to apply it with, when kubecred knows one.
    pub kubeconfig: Option<PathBuf>,
}

impl Unverified {
    /// The mark's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text.into_bytes()
    }

    /// Reads a mark; anything but kubecred's own is refused.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mark: Self = serde_json::from_slice(bytes)
            .map_err(|_| "not an offline migration's mark".to_owned())?;
        if !(mark.admin.is_absolute() && mark.manifest.is_absolute())
            || mark.kubeconfig.as_ref().is_some_and(|k| !k.is_absolute())
        {
            return Err("its paths are not absolute".into());
        }
        Ok(mark)
    }

    /// The command that applies the manifest, ready to paste.
    pub fn apply_line(&self) -> String {
        let manifest = self.manifest.to_string_lossy();
        match &self.kubeconfig {
            Some(kubeconfig) => crate::domain::shell::line(&[
                "kubectl",
                "--kubeconfig",
                &kubeconfig.to_string_lossy(),
                "apply",
                "-f",
                &manifest,
            ]),
            None => crate::domain::shell::line(&["kubectl", "apply", "-f", &manifest]),
        }
    }
}

/// kubeadm's binding as a manifest `kubectl apply` takes.
pub fn manifest_yaml() -> String {
    let binding = crate::domain::binding::Binding::kubeadm();
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {}\nroleRef:\n  apiGroup: {}\n  kind: {}\n  name: {}\nsubjects:\n- apiGroup: {}\n  kind: Group\n  name: {}\n",
        crate::domain::binding::BINDING,
        binding.role_ref.api_group,
        binding.role_ref.kind,
        binding.role_ref.name,
        binding
            .subjects
            .first()
            .map_or("", |s| s.api_group.as_str()),
        KUBEADM_CLUSTER_ADMINS,
    )
}

/// Every file the migration writes, in order: super-admin.conf; offline, the
/// binding manifest and the mark (`unverified`); then admin.conf, which must
/// never be replaced before them; then the copies. Each expects what `source`
/// holds at its path.
pub fn writes(
    plan: &Plan,
    material: &Material,
    unverified: Option<&Unverified>,
    state_dir: &Path,
    source: &dyn Source,
) -> Result<Vec<Write>, MigrateError> {
    let expect = |path: &Path| source.expect(path).map_err(|reason| error(reason, path));
    let mut writes = Vec::new();
    if let (SuperAdmin::Write(path), Some(bytes)) = (&plan.super_admin, &material.super_admin) {
        writes.push(Write {
            path: path.clone(),
            action: Action::Write(bytes.clone(), Ownership::Owned { allowed: 0o600 }),
            kubeconfig: true,
            expect: expect(path)?,
        });
    }
    if let Some(bytes) = &material.admin {
        if let Some(mark) = unverified {
            let mark_file = mark_path(state_dir);
            writes.push(Write::file(
                mark.manifest.clone(),
                manifest_yaml().into_bytes(),
                0o600,
                false,
                expect(&mark.manifest)?,
            ));
            writes.push(Write::file(
                mark_file.clone(),
                mark.to_bytes(),
                0o600,
                false,
                expect(&mark_file)?,
            ));
        }
        writes.push(Write::credential(
            plan.admin_path.clone(),
            bytes.clone(),
            0o600,
            true,
            expect(&plan.admin_path)?,
        ));
    }
    for (path, bytes) in &material.copies {
        writes.push(copy_write(path, bytes, source)?);
    }
    Ok(writes)
}

#[cfg(test)]
mod mark_tests {
    use super::*;

    #[test]
    fn a_mark_round_trips_and_its_line_can_be_pasted() {
        let mark = Unverified {
            admin: "/etc/kubernetes/admin.conf".into(),
            manifest: "/var/lib/it's here/kubeadm-cluster-admins.yaml".into(),
            kubeconfig: Some("/etc/kubernetes/super-admin.conf".into()),
        };
        assert_eq!(Unverified::parse(&mark.to_bytes()).unwrap(), mark);
        assert_eq!(
            mark.apply_line(),
            r"kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply -f '/var/lib/it'\''s here/kubeadm-cluster-admins.yaml'"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(Unverified::parse(b"root:x:0:0").is_err());
        assert!(
            Unverified::parse(br#"{"admin":"admin.conf","manifest":"/m","kubeconfig":null}"#)
                .is_err()
        );
    }
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
