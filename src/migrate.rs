//! The 1.29 split for one node: what must change (the plan, pure) and the new
//! files (issued and verified, not yet written). The API calls and the writes
//! are `app::migrate`'s, in SPEC.md's order.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::{Duration, OffsetDateTime};

use crate::cert::Certificate;
use crate::inventory::{Inventory, KeyState, State};
use crate::issue::{self, KeyAlgorithm, Profile, Usage};
use crate::kubeconfig::{ClientCredentials, Kubeconfig};
use crate::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::pem;
use crate::renew;

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
}

fn error(message: impl Into<String>, path: &Path) -> MigrateError {
    MigrateError {
        message: message.into(),
        path: path.to_path_buf(),
    }
}

/// Plans the migration. Pure.
pub fn plan(
    inventory: &Inventory,
    options: &Options,
    now: OffsetDateTime,
) -> Result<Plan, MigrateError> {
    let admin = inventory
        .credential("admin.conf")
        .ok_or_else(|| error("no admin.conf in the layout", &inventory.kubernetes_dir))?;
    let material = match &admin.state {
        State::Present(material) => material,
        State::Absent { .. } => return Err(error("admin.conf is absent", &admin.path)),
        State::Malformed { path, reason } => {
            return Err(error(format!("admin.conf is malformed: {reason}"), path));
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
        && path.exists()
        && *path != inventory.kubernetes_dir.join("super-admin.conf")
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
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let copies = inventory
        .copies
        .iter()
        .filter(|copy| copy.certificate.fingerprint != old_admin.fingerprint || reissue_admin)
        .filter(|copy| copy.certificate.common_name == old_admin.common_name)
        .map(|copy| CopyRef {
            path: copy.file.path.clone(),
            user: copy.user.clone(),
        })
        .collect();
    Ok(Plan {
        admin_path: admin.path.clone(),
        old_admin,
        reissue_admin,
        super_admin,
        binding_via,
        copies,
        update_copies: options.update_copies,
        key,
        not_before: now - Duration::minutes(5),
        not_after: (now + options.validity).min(ca.certificate.not_after),
    })
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
pub fn prepare(plan: &Plan, inventory: &Inventory) -> Result<Material, MigrateError> {
    let (_, issuer, ca_cert, ca_pem) = renew::load_ca(inventory, "ca", "admin.conf")
        .map_err(|err| error(err.to_string(), &inventory.cert_dir))?;
    let admin_bytes =
        renew::read_pem(&plan.admin_path).map_err(|reason| error(reason, &plan.admin_path))?;
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
            let cert = verified(&cert_pem, &ca_cert, key.pair.public_key_raw(), cn, group)
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
                    .to_yaml()
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
            .to_yaml()
            .map_err(|reason| error(reason, &plan.admin_path))?;
        material.admin = Some(yaml.into_bytes());
        material.admin_certificate = Some(certificate);
        (cert, key)
    } else {
        // Already split: the copies get admin.conf's current credential.
        let pem = |source: Option<crate::kubeconfig::Source>| match source {
            Some(crate::kubeconfig::Source::Embedded { pem, .. }) => {
                Ok(String::from_utf8_lossy(&pem).into_owned())
            }
            _ => Err(error(
                "admin.conf's credentials are not embedded",
                &plan.admin_path,
            )),
        };
        (pem(current.certificate.clone())?, pem(current.key.clone())?)
    };
    if plan.update_copies {
        for copy in &plan.copies {
            match rewrite_copy(copy, &cert, &key) {
                Ok(bytes) => material.copies.push((copy.path.clone(), bytes)),
                Err(reason) => material.skipped_copies.push((copy.path.clone(), reason)),
            }
        }
    }
    Ok(material)
}

/// The copy with its admin user's certificate and key replaced; all else kept.
fn rewrite_copy(copy: &CopyRef, cert: &str, key: &str) -> Result<Vec<u8>, String> {
    let bytes = renew::read_pem(&copy.path)?;
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
    user.user.client_key_data = Some(STANDARD.encode(key));
    Ok(config.to_yaml()?.into_bytes())
}

fn verified(
    cert_pem: &str,
    ca: &Certificate,
    public_key: &[u8],
    cn: &str,
    group: &str,
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
    Ok(cert)
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
