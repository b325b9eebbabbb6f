//! Renewal as `kubeadm certs renew` does it: which certificates, with which
//! key and validity (the plan, pure), then the new files, each one verified
//! against its CA and the certificate it replaces before anything is written.

use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

use crate::apply::transaction::Change;
use crate::cert::{self, Certificate};
use crate::inventory::{self, Credential, Inventory, KeyState, Links, Origin, State};
use crate::issue::{self, IssueError, KeyAlgorithm, Profile, Usage};
use crate::kubeconfig::Kubeconfig;
use crate::layout::{self, Kind};
use crate::pem;

/// What the operator asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// kubeadm names; empty means `all`.
    pub names: Vec<String>,
    /// Only what expires within this.
    pub within: Option<Duration>,
    /// The new certificates' lifetime.
    pub validity: Duration,
    /// Which key each new certificate gets.
    pub key: KeyChoice,
}

/// Which key a renewed certificate gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChoice {
    /// A new key of the replaced key's algorithm (kubeadm's behaviour).
    Auto,
    /// A new key of this algorithm.
    New(KeyAlgorithm),
    /// The existing key.
    Reuse,
}

/// The renewal plan: a value `--dry-run` prints and `apply` executes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What will be renewed, in kubeadm's order.
    pub items: Vec<Item>,
    /// What will not, and why.
    pub skipped: Vec<Skipped>,
}

/// One certificate to renew.
#[derive(Clone, Debug)]
pub struct Item {
    /// kubeadm's name.
    pub name: String,
    /// Leaf or kubeconfig.
    pub kind: Kind,
    /// The certificate file or the kubeconfig.
    pub path: PathBuf,
    /// The signing CA's name.
    pub ca: String,
    /// The current certificate.
    pub old: Certificate,
    /// The new validity.
    pub not_before: OffsetDateTime,
    /// The new not-after (capped at the CA's).
    pub not_after: OffsetDateTime,
    /// Whether the not-after was capped at the CA's.
    pub capped: bool,
    /// The key the new certificate gets.
    pub key: KeyAction,
}

/// What happens to a certificate's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// A new key of this algorithm.
    Generate(KeyAlgorithm),
    /// The existing key is kept.
    Reuse,
}

/// A credential that will not be renewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// kubeadm's name.
    pub name: String,
    /// Why.
    pub reason: SkipReason,
}

/// Why a credential is not renewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The file is absent (kubeadm: `MISSING!`); for super-admin.conf, normal on joined nodes.
    Absent,
    /// Its CA's key is absent: an external CA.
    ExternalCa(String),
    /// It expires after the `--within` window.
    NotDue(OffsetDateTime),
}

/// Why renewal cannot go ahead; nothing has been written.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// An argument names no renewable credential.
    #[error("{0}")]
    Usage(String),
    /// A credential or its CA cannot be used as it is.
    #[error("cannot renew {name}: {reason} ({})", path.display())]
    Unusable {
        /// The credential.
        name: String,
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Issuing failed.
    #[error("cannot renew {name}: {source}")]
    Issue {
        /// The credential.
        name: String,
        /// Why.
        #[source]
        source: IssueError,
    },
    /// The new certificate did not pass verification.
    #[error("the new certificate for {name} failed verification: {reason}; nothing was written")]
    Verification {
        /// The credential.
        name: String,
        /// What differed.
        reason: String,
    },
}

/// The renewable names, in kubeadm's order.
pub fn renewable() -> impl Iterator<Item = &'static str> {
    layout::CREDENTIALS
        .iter()
        .filter(|spec| spec.renewable)
        .map(|spec| spec.name)
}

/// Plans a renewal at `now`. Pure.
pub fn plan(
    inventory: &Inventory,
    request: &Request,
    now: OffsetDateTime,
) -> Result<Plan, RenewError> {
    let all = request.names.is_empty() || request.names.iter().any(|name| name == "all");
    for name in &request.names {
        refuse_unrenewable(name)?;
    }
    let mut plan = Plan {
        items: Vec::new(),
        skipped: Vec::new(),
    };
    for name in renewable() {
        if !all && !request.names.iter().any(|wanted| wanted == name) {
            continue;
        }
        let Some(credential) = inventory.credential(name) else {
            continue;
        };
        match &credential.state {
            State::Absent { .. } => plan.skipped.push(Skipped {
                name: name.to_owned(),
                reason: SkipReason::Absent,
            }),
            State::Malformed { path, reason } => {
                return Err(RenewError::Unusable {
                    name: name.to_owned(),
                    path: path.clone(),
                    reason: reason.clone(),
                });
            }
            State::Present(material) => {
                if let Some(item) =
                    plan_one(inventory, credential, material, request, now, &mut plan)?
                {
                    plan.items.push(item);
                }
            }
        }
    }
    Ok(plan)
}

fn refuse_unrenewable(name: &str) -> Result<(), RenewError> {
    if name == "all" {
        return Ok(());
    }
    match layout::spec(name) {
        Some(spec) if spec.renewable => Ok(()),
        Some(spec) if spec.kind == Kind::Ca => Err(RenewError::Usage(format!(
            "{name} is a CA: kubecred never renews CAs, a CA rotation is a different operation"
        ))),
        Some(_) => Err(RenewError::Usage(format!(
            "{name} is not renewed: the kubelet rotates its own client certificate"
        ))),
        None if name == layout::SERVICE_ACCOUNT => Err(RenewError::Usage(
            "sa is a key pair, not a certificate: it is never renewed".into(),
        )),
        None => Err(RenewError::Usage(format!(
            "unknown certificate `{name}`; renewable: all, {}",
            renewable().collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn plan_one(
    inventory: &Inventory,
    credential: &Credential,
    material: &inventory::Material,
    request: &Request,
    now: OffsetDateTime,
    plan: &mut Plan,
) -> Result<Option<Item>, RenewError> {
    let name = credential.name.clone();
    let unusable = |path: &Path, reason: String| RenewError::Unusable {
        name: name.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let ca_name = credential.ca.clone().unwrap_or_else(|| "ca".into());
    let ca = inventory
        .credential(&ca_name)
        .ok_or_else(|| unusable(&credential.path, format!("no CA `{ca_name}`")))?;
    let ca_material = match &ca.state {
        State::Present(ca_material) => ca_material,
        State::Absent { .. } => {
            return Err(unusable(&ca.path, format!("its CA `{ca_name}` is absent")));
        }
        State::Malformed { path, reason } => {
            return Err(unusable(path, format!("its CA `{ca_name}`: {reason}")));
        }
    };
    match &ca_material.key {
        KeyState::Present { .. } => {}
        KeyState::Absent(_) | KeyState::Unknown => {
            plan.skipped.push(Skipped {
                name,
                reason: SkipReason::ExternalCa(ca_name),
            });
            return Ok(None);
        }
        KeyState::Malformed { path, reason } => {
            return Err(unusable(path, format!("CA key: {reason}")));
        }
    }
    let old = &material.certificate;
    if let Some(window) = request.within
        && old.not_after > now + window
    {
        plan.skipped.push(Skipped {
            name,
            reason: SkipReason::NotDue(old.not_after),
        });
        return Ok(None);
    }
    if credential.kind == Kind::Kubeconfig && !matches!(material.origin, Origin::Embedded { .. }) {
        return Err(unusable(
            &credential.path,
            "its client certificate is in a file, not embedded; kubeadm renews embedded credentials only".into(),
        ));
    }
    if let Some(reason) = &old.subject_unreproducible {
        return Err(unusable(
            &credential.path,
            format!("its subject cannot be reproduced exactly: {reason}"),
        ));
    }
    let key = match request.key {
        KeyChoice::Reuse => match &material.key {
            KeyState::Present { .. } => KeyAction::Reuse,
            KeyState::Absent(path) | KeyState::Malformed { path, .. } => {
                return Err(unusable(
                    path,
                    "--reuse-key needs the existing key, which cannot be read".into(),
                ));
            }
            KeyState::Unknown => return Err(unusable(&credential.path, "no key to reuse".into())),
        },
        KeyChoice::New(algorithm) => KeyAction::Generate(algorithm),
        KeyChoice::Auto => {
            let current = match &material.key {
                KeyState::Present { info, .. } => &info.algorithm,
                _ => &old.key_algorithm,
            };
            KeyAction::Generate(generatable(current).ok_or_else(|| {
                unusable(
                    &credential.path,
                    format!("its key algorithm {current} is not one kubeadm uses"),
                )
            })?)
        }
    };
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let not_before = now - Duration::minutes(5);
    let wanted = now + request.validity;
    let ca_not_after = ca_material.certificate.not_after;
    Ok(Some(Item {
        name,
        kind: credential.kind,
        path: credential.path.clone(),
        ca: ca_name,
        old: old.clone(),
        not_before,
        not_after: wanted.min(ca_not_after),
        capped: wanted > ca_not_after,
        key,
    }))
}

/// The algorithm a new key of the same kind as `current` gets.
pub fn generatable(current: &cert::KeyAlgorithm) -> Option<KeyAlgorithm> {
    match current {
        cert::KeyAlgorithm::Rsa(2048) => Some(KeyAlgorithm::Rsa2048),
        cert::KeyAlgorithm::Rsa(3072) => Some(KeyAlgorithm::Rsa3072),
        cert::KeyAlgorithm::Rsa(4096) => Some(KeyAlgorithm::Rsa4096),
        cert::KeyAlgorithm::EcdsaP256 => Some(KeyAlgorithm::EcdsaP256),
        cert::KeyAlgorithm::EcdsaP384 => Some(KeyAlgorithm::EcdsaP384),
        _ => None,
    }
}

/// A renewed credential: its new certificate and the file changes that install it.
#[derive(Debug)]
pub struct Renewed {
    /// kubeadm's name.
    pub name: String,
    /// The new certificate, verified.
    pub certificate: Certificate,
    /// The writes that install it, key before certificate (as kubeadm orders them).
    pub changes: Vec<Change>,
}

/// Issues every planned certificate and verifies it; reads the CA keys and,
/// with `--reuse-key`, the old keys. Writes nothing.
pub fn prepare(plan: &Plan, inventory: &Inventory) -> Result<Vec<Renewed>, RenewError> {
    let algorithms: Vec<KeyAlgorithm> = plan
        .items
        .iter()
        .filter_map(|item| match item.key {
            KeyAction::Generate(algorithm) => Some(algorithm),
            KeyAction::Reuse => None,
        })
        .collect();
    let mut new_keys = if algorithms.is_empty() {
        Vec::new()
    } else {
        issue::generate_keys(&algorithms).map_err(|source| RenewError::Issue {
            name: "keys".into(),
            source,
        })?
    }
    .into_iter();
    let mut issuers: Vec<(String, Issuer<'static, KeyPair>, Certificate, Vec<u8>)> = Vec::new();
    let mut renewed = Vec::new();
    for item in &plan.items {
        if !issuers.iter().any(|(name, ..)| *name == item.ca) {
            issuers.push(load_ca(inventory, &item.ca, &item.name)?);
        }
        let Some((_, issuer, ca_cert, ca_pem)) = issuers.iter().find(|(name, ..)| *name == item.ca)
        else {
            continue;
        };
        let (pair, key_pem) = match item.key {
            KeyAction::Generate(_) => {
                let key = new_keys.next().ok_or_else(|| RenewError::Issue {
                    name: item.name.clone(),
                    source: IssueError::KeyGeneration(KeyAlgorithm::Rsa2048),
                })?;
                (key.pair, key.pem.into_bytes())
            }
            KeyAction::Reuse => existing_key(item)?,
        };
        let profile = profile(item)?;
        let cert_pem = issue::leaf(&profile, &pair, issuer, item.not_before, item.not_after)
            .map_err(|source| RenewError::Issue {
                name: item.name.clone(),
                source,
            })?;
        let certificate = verify(item, &cert_pem, ca_cert, pair.public_key_raw())?;
        let changes = match item.kind {
            Kind::Kubeconfig => vec![kubeconfig_change(item, &cert_pem, &key_pem, ca_pem)?],
            _ => vec![
                Change::write(item.path.with_extension("key"), key_pem, 0o600, false),
                Change::write(item.path.clone(), cert_pem.into_bytes(), 0o644, false),
            ],
        };
        renewed.push(Renewed {
            name: item.name.clone(),
            certificate,
            changes,
        });
    }
    Ok(renewed)
}

pub(crate) fn load_ca(
    inventory: &Inventory,
    ca_name: &str,
    for_name: &str,
) -> Result<(String, Issuer<'static, KeyPair>, Certificate, Vec<u8>), RenewError> {
    let ca = inventory.credential(ca_name);
    let crt = ca.map_or_else(|| inventory.cert_dir.join("ca.crt"), |ca| ca.path.clone());
    let key_path = crt.with_extension("key");
    let unusable = |path: &Path, reason: String| RenewError::Unusable {
        name: for_name.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    let ca_pem = read_pem(&crt).map_err(|reason| unusable(&crt, reason))?;
    let key_pem = read_pem(&key_path).map_err(|reason| unusable(&key_path, reason))?;
    crate::key::from_pem(&key_pem).map_err(|reason| unusable(&key_path, reason))?;
    let key_text = String::from_utf8_lossy(&key_pem);
    let pair = KeyPair::from_pem(&key_text).map_err(|_| {
        unusable(
            &key_path,
            "the CA key is not a usable RSA or ECDSA key".into(),
        )
    })?;
    let ca_cert = pem::parse(&ca_pem)
        .ok()
        .and_then(|blocks| {
            blocks
                .into_iter()
                .find(|block| block.kind == pem::BlockKind::Certificate)
        })
        .ok_or_else(|| unusable(&crt, "no certificate".into()))
        .and_then(|block| {
            Certificate::from_der(&block.der).map_err(|reason| unusable(&crt, reason))
        })?;
    // A CA that Go refuses to chain through would only sign more refused certificates.
    if let Some(why) = ca_cert
        .cannot_sign
        .iter()
        .chain(&ca_cert.go_refusals)
        .next()
    {
        return Err(unusable(&crt, why.clone()));
    }
    if pair.public_key_raw() != ca_cert.public_key_raw.as_slice() {
        return Err(unusable(
            &key_path,
            format!("the CA key does not belong to {}", crt.display()),
        ));
    }
    let issuer = Issuer::from_ca_cert_pem(&String::from_utf8_lossy(&ca_pem), pair)
        .map_err(|err| unusable(&crt, format!("unusable CA certificate ({err})")))?;
    Ok((ca_name.to_owned(), issuer, ca_cert, ca_pem))
}

pub(crate) fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    inventory::read_file(path, Links::Refuse)?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| "file is absent".to_owned())
}

/// The existing key of `item` and its original PEM bytes (never re-encoded).
fn existing_key(item: &Item) -> Result<(KeyPair, Vec<u8>), RenewError> {
    let unusable = |path: &Path, reason: String| RenewError::Unusable {
        name: item.name.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let pem_bytes = if item.kind == Kind::Kubeconfig {
        let bytes = read_pem(&item.path).map_err(|reason| unusable(&item.path, reason))?;
        let config = Kubeconfig::parse(&bytes).map_err(|reason| unusable(&item.path, reason))?;
        let dir = item.path.parent().unwrap_or_else(|| Path::new("."));
        match config
            .current_credentials(dir)
            .map_err(|reason| unusable(&item.path, reason))?
            .key
        {
            Some(crate::kubeconfig::Source::Embedded { pem, .. }) => pem,
            _ => return Err(unusable(&item.path, "no embedded client key".into())),
        }
    } else {
        let key_path = item.path.with_extension("key");
        read_pem(&key_path).map_err(|reason| unusable(&key_path, reason))?
    };
    crate::key::from_pem(&pem_bytes).map_err(|reason| unusable(&item.path, reason))?;
    let pair = KeyPair::from_pem(&String::from_utf8_lossy(&pem_bytes))
        .map_err(|_| unusable(&item.path, "the existing key cannot be loaded".into()))?;
    Ok((pair, pem_bytes))
}

/// The old certificate's CN, O, SANs and usages: what kubeadm copies.
fn profile(item: &Item) -> Result<Profile, RenewError> {
    let old = &item.old;
    let usages = old
        .extended_key_usages
        .iter()
        .map(|usage| match usage.as_str() {
            "serverAuth" => Ok(Usage::ServerAuth),
            "clientAuth" => Ok(Usage::ClientAuth),
            other => Err(RenewError::Unusable {
                name: item.name.clone(),
                path: item.path.clone(),
                reason: format!("extended key usage {other} is not one kubeadm writes"),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Profile {
        common_name: old.common_name.clone(),
        groups: old.groups.clone(),
        dns_names: old.dns_names.clone(),
        ip_addresses: old.ip_addresses.clone(),
        usages,
    })
}

/// Checks a new certificate before it may replace the old one.
fn verify(
    item: &Item,
    cert_pem: &str,
    ca: &Certificate,
    public_key: &[u8],
) -> Result<Certificate, RenewError> {
    let fail = |reason: String| RenewError::Verification {
        name: item.name.clone(),
        reason,
    };
    let der = pem::parse(cert_pem.as_bytes())
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .ok_or_else(|| fail("it does not parse".into()))?;
    let new = Certificate::from_der(&der.der).map_err(fail)?;
    new.verify_signed_by(ca)
        .map_err(|err| fail(format!("it does not verify against {} ({err:?})", item.ca)))?;
    if new.public_key_raw != public_key {
        return Err(fail("its public key is not the new key's".into()));
    }
    let old = &item.old;
    let same = [
        ("common name", old.common_name == new.common_name),
        ("groups", old.groups == new.groups),
        ("subject", old.subject == new.subject),
        ("DNS names", old.dns_names == new.dns_names),
        ("IP addresses", old.ip_addresses == new.ip_addresses),
        (
            "extended key usages",
            old.extended_key_usages == new.extended_key_usages,
        ),
        (
            "validity",
            new.not_before == item.not_before && new.not_after == item.not_after,
        ),
    ];
    if let Some((what, _)) = same.iter().find(|(_, equal)| !equal) {
        return Err(fail(format!(
            "its {what} differ from the certificate it replaces"
        )));
    }
    Ok(new)
}

/// The kubeconfig with the current user's new certificate and key, and the
/// cluster's CA data refreshed from `ca.crt`; every other field as it was.
fn kubeconfig_change(
    item: &Item,
    cert_pem: &str,
    key_pem: &[u8],
    ca_pem: &[u8],
) -> Result<Change, RenewError> {
    let unusable = |reason: String| RenewError::Unusable {
        name: item.name.clone(),
        path: item.path.clone(),
        reason,
    };
    let bytes = read_pem(&item.path).map_err(unusable)?;
    let mut config = Kubeconfig::parse(&bytes).map_err(unusable)?;
    config
        .replace_credentials(cert_pem.as_bytes(), key_pem, ca_pem)
        .map_err(unusable)?;
    let yaml = config.to_yaml().map_err(unusable)?;
    Ok(Change::write(
        item.path.clone(),
        yaml.into_bytes(),
        0o600,
        true,
    ))
}

/// The static pods that must restart to load renewed certificates, in kubeadm's words.
pub fn pods_to_restart(names: &[String]) -> Vec<&'static str> {
    let mut pods = Vec::new();
    for name in names {
        let pod = match name.as_str() {
            "apiserver"
            | "apiserver-etcd-client"
            | "apiserver-kubelet-client"
            | "front-proxy-client" => "kube-apiserver",
            "controller-manager.conf" => "kube-controller-manager",
            "scheduler.conf" => "kube-scheduler",
            "etcd-server" | "etcd-peer" | "etcd-healthcheck-client" => "etcd",
            _ => continue,
        };
        if !pods.contains(&pod) {
            pods.push(pod);
        }
    }
    pods
}
