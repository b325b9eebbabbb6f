//! Renewal as `kubeadm certs renew` does it: which certificates, with which
//! key and validity (the plan, pure), then the new files, each one verified
//! against its CA and the certificate it replaces before anything is written.

use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

use crate::domain::cert::{self, Certificate};
use crate::domain::clock;
use crate::domain::issue::{self, IssueError, KeyAlgorithm, Profile, Usage};
use crate::domain::kubeconfig::Kubeconfig;
use crate::domain::layout::{self, Kind};
use crate::domain::migrate::{self, CopyRef};
use crate::domain::model::{
    self, Credential, Inventory, KeyState, Origin, PERMISSION_DENIED, State,
};
use crate::domain::pem;
use crate::domain::plan::{Source, Write};
use crate::domain::span;

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
    /// Renew even when the clock disagrees with the tree (`--trust-clock`).
    pub trust_clock: bool,
    /// With `all`: refuse everything when one credential cannot be renewed
    /// (`--all-or-nothing`), instead of skipping it.
    pub all_or_nothing: bool,
    /// Rewrite the copies of admin.conf's credential (`~/.kube/config`) with
    /// the one admin.conf holds after the run (`--update-copies`).
    pub update_copies: bool,
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
    /// The time the plan was made at (whole seconds); the new certificates must be valid then.
    pub now: OffsetDateTime,
    /// Whether a credential that fails while it is issued is skipped (a fault)
    /// rather than refusing the whole renewal.
    pub skip_faults: bool,
    /// The copies of admin.conf's credential this run leaves behind: every one
    /// when admin.conf is renewed, else (with `update_copies`) those that do
    /// not hold its current certificate.
    pub copies: Vec<CopyRef>,
    /// Whether the copies are rewritten (`--update-copies`), or only named.
    pub update_copies: bool,
}

impl Plan {
    /// Whether the plan writes nothing: no certificate, no copy.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.copies_to_update().is_empty()
    }

    /// The copies the run rewrites.
    pub fn copies_to_update(&self) -> &[CopyRef] {
        if self.update_copies {
            &self.copies
        } else {
            &[]
        }
    }

    /// Whether admin.conf is renewed.
    pub fn renews_admin(&self) -> bool {
        self.items.iter().any(|item| item.name == ADMIN)
    }

    /// Every file the run writes, in order: each leaf's key (rewritten with
    /// the same bytes under `--reuse-key`) and certificate, each kubeconfig;
    /// then the copies.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for item in &self.items {
            if item.kind == Kind::Kubeconfig {
                paths.push(item.path.clone());
            } else {
                paths.push(key_path(&item.path));
                paths.push(item.path.clone());
            }
        }
        paths.extend(self.copies_to_update().iter().map(|copy| copy.path.clone()));
        paths
    }
}

/// The credential whose copies `--update-copies` keeps current.
const ADMIN: &str = "admin.conf";

/// A leaf certificate's key file.
fn key_path(cert: &Path) -> PathBuf {
    cert.with_extension("key")
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
    /// It cannot be renewed as it is: a fault, which `renew all` reports and exits 1 for.
    Fault {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl SkipReason {
    /// Whether the skip is a fault (exit 1), not a normal state (absent, external CA, not due).
    pub fn is_fault(&self) -> bool {
        matches!(self, Self::Fault { .. })
    }
}

/// Why renewal cannot go ahead; nothing has been written.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// An argument names no renewable credential, or a duration is out of range.
    #[error("{0}")]
    Usage(String),
    /// The clock disagrees with the tree (and `--trust-clock` was not given).
    #[error("refusing to renew: {0}")]
    Clock(String),
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
///
/// Refuses durations out of range, a `--validity` under a day or not longer
/// than `--within`, and (unless `trust_clock`) a clock that disagrees with the tree.
/// A credential whose renewal the CA's expiry would make pointless (see
/// `capped_in_vain`) cannot be renewed: a fault naming the CA.
/// With `all` and not `all_or_nothing`, a credential that cannot be renewed is
/// skipped as a fault; otherwise it refuses the plan.
pub fn plan(
    inventory: &Inventory,
    request: &Request,
    now: OffsetDateTime,
) -> Result<Plan, RenewError> {
    let all = request.names.is_empty() || request.names.iter().any(|name| name == "all");
    for name in &request.names {
        refuse_unrenewable(name)?;
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    check_durations(request.validity, request.within, now)?;
    if !request.trust_clock
        && let Some(doubt) = clock::doubt(inventory, now)
    {
        return Err(RenewError::Clock(doubt.message()));
    }
    let mut plan = Plan {
        items: Vec::new(),
        skipped: Vec::new(),
        now,
        skip_faults: all && !request.all_or_nothing,
        copies: Vec::new(),
        update_copies: request.update_copies,
    };
    for name in renewable() {
        if !all && !request.names.iter().any(|wanted| wanted == name) {
            continue;
        }
        let Some(credential) = inventory.credential(name) else {
            continue;
        };
        let planned = match &credential.state {
            State::Absent { .. } => {
                plan.skipped.push(Skipped {
                    name: name.to_owned(),
                    reason: SkipReason::Absent,
                });
                continue;
            }
            State::Malformed { path, reason } => Err(RenewError::Unusable {
                name: name.to_owned(),
                path: path.clone(),
                reason: reason.clone(),
            }),
            State::Unreadable { path, .. } => Err(RenewError::Unusable {
                name: name.to_owned(),
                path: path.clone(),
                reason: PERMISSION_DENIED.into(),
            }),
            State::Present(material) => {
                plan_one(inventory, credential, material, request, now, &mut plan)
            }
        };
        match planned {
            Ok(Some(item)) => plan.items.push(item),
            Ok(None) => {}
            Err(err) if plan.skip_faults => plan.skipped.push(fault(err, name, &credential.path)),
            Err(err) => return Err(err),
        }
    }
    let renews_admin = plan.renews_admin();
    if (renews_admin || request.update_copies)
        && let Some(admin) = inventory.material(ADMIN)
    {
        plan.copies = migrate::admin_copies(inventory, &admin.certificate, renews_admin);
    }
    Ok(plan)
}

/// Refuses a validity under a day, a window no shorter than the validity,
/// durations that reach past the last date a certificate can carry (usage
/// errors), and a clock too early for any certificate (a clock error, whatever
/// `--trust-clock` says).
pub(crate) fn check_durations(
    validity: Duration,
    within: Option<Duration>,
    now: OffsetDateTime,
) -> Result<(), RenewError> {
    let usage = |message: String| Err(RenewError::Usage(message));
    if validity < Duration::DAY {
        return usage(format!(
            "--validity {} is shorter than a day: the new certificates would expire before the next check",
            span::exact(validity)
        ));
    }
    let reaches = |by: Duration| now.checked_add(by).is_some_and(|end| end <= issue::DATES.1);
    if !reaches(validity) {
        return usage(format!(
            "--validity {} is out of range: from {} it ends after 9999-12-31, the last date a certificate can carry",
            span::exact(validity),
            span::date(now)
        ));
    }
    if let Some(within) = within {
        if !reaches(within) {
            return usage(format!(
                "--within {} is out of range: from {} it ends after 9999-12-31",
                span::exact(within),
                span::date(now)
            ));
        }
        if within >= validity {
            return usage(format!(
                "--within {} must be shorter than --validity {}: every new certificate would be due again at once",
                span::exact(within),
                span::exact(validity)
            ));
        }
    }
    if now
        .checked_sub(BACKDATE)
        .is_none_or(|start| start < issue::DATES.0)
    {
        return Err(RenewError::Clock(format!(
            "the node clock ({}) is before the first date a certificate can carry (year 0000)",
            span::date(now)
        )));
    }
    Ok(())
}

/// How far before `now` a new certificate's not-before is, as kubeadm does.
const BACKDATE: Duration = Duration::minutes(5);

/// A credential that cannot be renewed, as a skip.
fn fault(err: RenewError, name: &str, path: &Path) -> Skipped {
    let (path, reason) = match err {
        RenewError::Unusable { path, reason, .. } => (path, reason),
        RenewError::Issue { source, .. } => (path.to_path_buf(), source.to_string()),
        RenewError::Verification { reason, .. } => (
            path.to_path_buf(),
            format!("the new certificate failed verification: {reason}"),
        ),
        other => (path.to_path_buf(), other.to_string()),
    };
    Skipped {
        name: name.to_owned(),
        reason: SkipReason::Fault { path, reason },
    }
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
    material: &model::Material,
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
        State::Unreadable { path, .. } => {
            return Err(unusable(
                path,
                format!("its CA `{ca_name}`: {PERMISSION_DENIED}"),
            ));
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
        KeyState::Unreadable(path) => {
            return Err(unusable(path, format!("CA key: {PERMISSION_DENIED}")));
        }
    }
    if let Some(reason) = clock::ca_unusable(&ca_name, &ca_material.certificate, now) {
        return Err(unusable(&ca.path, reason));
    }
    let old = &material.certificate;
    if let Some(window) = request.within
        && now
            .checked_add(window)
            .is_some_and(|due| old.not_after > due)
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
            KeyState::Absent(path)
            | KeyState::Malformed { path, .. }
            | KeyState::Unreadable(path) => {
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
    let out_of_range = || {
        RenewError::Usage(format!(
            "--validity {} is out of range",
            span::exact(request.validity)
        ))
    };
    let not_before = now.checked_sub(BACKDATE).ok_or_else(out_of_range)?;
    let wanted = now.checked_add(request.validity).ok_or_else(out_of_range)?;
    let ca_not_after = ca_material.certificate.not_after;
    if not_before >= wanted.min(ca_not_after) {
        return Err(unusable(
            &ca.path,
            format!(
                "the new certificate would never be valid (its CA {ca_name} expires {})",
                span::date(ca_not_after)
            ),
        ));
    }
    let capped = wanted > ca_not_after;
    let not_after = wanted.min(ca_not_after);
    if capped
        && let Some(reason) =
            capped_in_vain(&ca_name, ca_not_after, old.not_after, now, request.within)
    {
        return Err(unusable(&ca.path, reason));
    }
    Ok(Some(Item {
        name,
        kind: credential.kind,
        path: credential.path.clone(),
        ca: ca_name,
        old: old.clone(),
        not_before,
        not_after,
        capped,
        key,
    }))
}

/// Why renewing a certificate whose new not-after is capped at its CA's
/// (`ca_not_after`) would not help, if it would not: the new not-after is no
/// later than the old one, or leaves less than a day, or falls inside the
/// `--within` window (the certificate would be due again at once, so every
/// timer run would renew it again).
fn capped_in_vain(
    ca_name: &str,
    ca_not_after: OffsetDateTime,
    old_not_after: OffsetDateTime,
    now: OffsetDateTime,
    within: Option<Duration>,
) -> Option<String> {
    // Whether the CA expires before `now + by` (`or_equal`: at it too).
    let before = |by: Duration, or_equal: bool| {
        now.checked_add(by)
            .is_none_or(|end| ca_not_after < end || (or_equal && ca_not_after == end))
    };
    let life = span::exact(ca_not_after - now);
    let why = if ca_not_after <= old_not_after {
        format!(
            "expire no later than the current one ({})",
            span::date(old_not_after)
        )
    } else if before(Duration::DAY, false) {
        format!("be valid for only {life}, less than a day")
    } else if let Some(window) = within.filter(|window| before(*window, true)) {
        format!(
            "be valid for only {life}, inside the --within {} window, and be due again at once",
            span::exact(window)
        )
    } else {
        return None;
    };
    Some(format!(
        "its CA {ca_name} expires on {} and must be rotated first: capped there, the new certificate would {why} (see \"Manual Rotation of CA Certificates\" in the Kubernetes docs)",
        span::date(ca_not_after)
    ))
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
    pub changes: Vec<Write>,
}

/// What `prepare` made: the renewed credentials, and those skipped as faults.
#[derive(Debug)]
pub struct Prepared {
    /// Issued and verified, in the plan's order.
    pub renewed: Vec<Renewed>,
    /// Planned but not issued (only when the plan skips faults), and why.
    pub skipped: Vec<Skipped>,
    /// The copies rewritten with admin.conf's credential (`--update-copies`).
    pub copies: Vec<Write>,
    /// The copies that cannot be rewritten, and why.
    pub skipped_copies: Vec<(PathBuf, String)>,
}

impl Prepared {
    /// Every write, in order: the credentials' (admin.conf's among them), then the copies'.
    pub fn changes(&self) -> Vec<Write> {
        self.renewed
            .iter()
            .flat_map(|renewed| renewed.changes.iter().cloned())
            .chain(self.copies.iter().cloned())
            .collect()
    }
}

/// Issues every planned certificate and verifies it, with the CA keys and
/// (with `--reuse-key`) the old keys from `source`; each write expects the
/// file `source` holds. Writes nothing. When the plan skips
/// faults, a credential that fails is skipped; otherwise the first failure
/// refuses them all.
pub fn prepare(
    plan: &Plan,
    inventory: &Inventory,
    source: &dyn Source,
) -> Result<Prepared, RenewError> {
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
    let mut prepared = Prepared {
        renewed: Vec::new(),
        skipped: Vec::new(),
        copies: Vec::new(),
        skipped_copies: Vec::new(),
    };
    for item in &plan.items {
        // Taken first, so that a skipped item never shifts the keys of the next ones.
        let new_key = match item.key {
            KeyAction::Generate(_) => Some(new_keys.next().ok_or_else(|| RenewError::Issue {
                name: item.name.clone(),
                source: IssueError::KeyGeneration(KeyAlgorithm::Rsa2048),
            })?),
            KeyAction::Reuse => None,
        };
        match renew_one(item, new_key, inventory, source, &mut issuers, plan.now) {
            Ok(renewed) => prepared.renewed.push(renewed),
            Err(err) if plan.skip_faults => {
                prepared.skipped.push(fault(err, &item.name, &item.path));
            }
            Err(err) => return Err(err),
        }
    }
    update_copies(plan, inventory, source, &mut prepared)?;
    Ok(prepared)
}

/// With `--update-copies`: each planned copy rewritten with the credential
/// admin.conf holds after the run, the new one when it was renewed (a copy
/// keeps its owner, mode and every other entry; see `migrate`).
fn update_copies(
    plan: &Plan,
    inventory: &Inventory,
    source: &dyn Source,
    prepared: &mut Prepared,
) -> Result<(), RenewError> {
    let copies = plan.copies_to_update();
    let Some(admin) = inventory.credential(ADMIN).filter(|_| !copies.is_empty()) else {
        return Ok(());
    };
    let unusable = |path: &Path, reason: String| RenewError::Unusable {
        name: ADMIN.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    let renewed = prepared
        .renewed
        .iter()
        .filter(|renewed| renewed.name == ADMIN)
        .flat_map(|renewed| &renewed.changes)
        .find_map(|change| match &change.action {
            crate::domain::plan::Action::Write(bytes, _) => Some(bytes.clone()),
            crate::domain::plan::Action::Remove => None,
        });
    let dir = admin.path.parent().unwrap_or_else(|| Path::new("."));
    let credential = match renewed {
        Some(bytes) => Ok(bytes),
        None => read_pem(source, &admin.path),
    }
    .and_then(|bytes| migrate::admin_credential(&bytes, dir));
    // admin.conf's credential cannot be copied: the copies stay, the renewal goes on.
    let (cert, key) = match credential {
        Ok(credential) => credential,
        Err(reason) => {
            prepared.skipped_copies = copies
                .iter()
                .map(|copy| (copy.path.clone(), format!("admin.conf: {reason}")))
                .collect();
            return Ok(());
        }
    };
    let (rewritten, skipped) = migrate::rewrite_copies(source, copies, &cert, &key);
    for (path, bytes) in &rewritten {
        prepared.copies.push(
            migrate::copy_write(path, bytes, source)
                .map_err(|err| unusable(&err.path, err.message))?,
        );
    }
    prepared.skipped_copies = skipped;
    Ok(())
}

fn renew_one(
    item: &Item,
    new_key: Option<issue::NewKey>,
    inventory: &Inventory,
    source: &dyn Source,
    issuers: &mut Vec<(String, Issuer<'static, KeyPair>, Certificate, Vec<u8>)>,
    now: OffsetDateTime,
) -> Result<Renewed, RenewError> {
    if !issuers.iter().any(|(name, ..)| *name == item.ca) {
        issuers.push(load_ca(inventory, source, &item.ca, &item.name)?);
    }
    let Some((_, issuer, ca_cert, ca_pem)) = issuers.iter().find(|(name, ..)| *name == item.ca)
    else {
        return Err(RenewError::Unusable {
            name: item.name.clone(),
            path: item.path.clone(),
            reason: format!("its CA {} cannot be loaded", item.ca),
        });
    };
    let (pair, key_pem) = match new_key {
        Some(key) => (key.pair, key.pem.into_bytes()),
        None => existing_key(item, source)?,
    };
    let profile = profile(item)?;
    let cert_pem = issue::leaf(&profile, &pair, issuer, item.not_before, item.not_after).map_err(
        |source| RenewError::Issue {
            name: item.name.clone(),
            source,
        },
    )?;
    let certificate = verify(item, &cert_pem, ca_cert, pair.public_key_raw(), now)?;
    let changes = if item.kind == Kind::Kubeconfig {
        vec![kubeconfig_change(
            item, source, &cert_pem, &key_pem, ca_pem,
        )?]
    } else {
        let key_path = key_path(&item.path);
        let expect = |path: &Path| {
            source.expect(path).map_err(|reason| RenewError::Unusable {
                name: item.name.clone(),
                path: path.to_path_buf(),
                reason,
            })
        };
        vec![
            Write::credential(key_path.clone(), key_pem, 0o600, false, expect(&key_path)?),
            Write::credential(
                item.path.clone(),
                cert_pem.into_bytes(),
                0o644,
                false,
                expect(&item.path)?,
            ),
        ]
    };
    Ok(Renewed {
        name: item.name.clone(),
        certificate,
        changes,
    })
}

pub(crate) fn load_ca(
    inventory: &Inventory,
    source: &dyn Source,
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
    let ca_pem = read_pem(source, &crt).map_err(|reason| unusable(&crt, reason))?;
    let key_pem = read_pem(source, &key_path).map_err(|reason| unusable(&key_path, reason))?;
    crate::domain::key::from_pem(&key_pem).map_err(|reason| unusable(&key_path, reason))?;
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

pub(crate) fn read_pem(source: &dyn Source, path: &Path) -> Result<Vec<u8>, String> {
    source
        .read(path)?
        .ok_or_else(|| "file is absent".to_owned())
}

/// The existing key of `item` and its original PEM bytes (never re-encoded).
fn existing_key(item: &Item, source: &dyn Source) -> Result<(KeyPair, Vec<u8>), RenewError> {
    let unusable = |path: &Path, reason: String| RenewError::Unusable {
        name: item.name.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let pem_bytes = if item.kind == Kind::Kubeconfig {
        let bytes = read_pem(source, &item.path).map_err(|reason| unusable(&item.path, reason))?;
        let config = Kubeconfig::parse(&bytes).map_err(|reason| unusable(&item.path, reason))?;
        let dir = item.path.parent().unwrap_or_else(|| Path::new("."));
        match config
            .current_credentials(dir)
            .map_err(|reason| unusable(&item.path, reason))?
            .key
        {
            Some(crate::domain::kubeconfig::Source::Embedded { pem, .. }) => pem,
            _ => return Err(unusable(&item.path, "no embedded client key".into())),
        }
    } else {
        let key_path = item.path.with_extension("key");
        read_pem(source, &key_path).map_err(|reason| unusable(&key_path, reason))?
    };
    crate::domain::key::from_pem(&pem_bytes).map_err(|reason| unusable(&item.path, reason))?;
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

/// Checks a new certificate before it may replace the old one: it parses, is
/// signed by its CA, carries the new key, is valid at `now` and within its
/// CA's validity, and keeps everything the old one had.
fn verify(
    item: &Item,
    cert_pem: &str,
    ca: &Certificate,
    public_key: &[u8],
    now: OffsetDateTime,
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
    if let Some(reason) = valid_at(&new, ca, now) {
        return Err(fail(reason));
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

/// Why a new certificate may not be installed at `now`, if it may not: not
/// valid at `now` (not-before ≤ now < not-after), or valid past its CA.
pub(crate) fn valid_at(new: &Certificate, ca: &Certificate, now: OffsetDateTime) -> Option<String> {
    if new.not_before > now || new.not_after <= now {
        Some(format!(
            "it is not valid at {} (valid from {} to {})",
            span::date(now),
            span::date(new.not_before),
            span::date(new.not_after)
        ))
    } else if new.not_after > ca.not_after {
        Some(format!(
            "it would outlive its CA (until {}, the CA until {})",
            span::date(new.not_after),
            span::date(ca.not_after)
        ))
    } else {
        None
    }
}

/// The kubeconfig with the current user's new certificate and key, and the
/// cluster's CA data refreshed from `ca.crt`; every other field as it was.
fn kubeconfig_change(
    item: &Item,
    source: &dyn Source,
    cert_pem: &str,
    key_pem: &[u8],
    ca_pem: &[u8],
) -> Result<Write, RenewError> {
    let unusable = |reason: String| RenewError::Unusable {
        name: item.name.clone(),
        path: item.path.clone(),
        reason,
    };
    let bytes = read_pem(source, &item.path).map_err(unusable)?;
    let mut config = Kubeconfig::parse(&bytes).map_err(unusable)?;
    config
        .replace_credentials(cert_pem.as_bytes(), key_pem, ca_pem)
        .map_err(unusable)?;
    let yaml = config.to_checked_yaml().map_err(unusable)?;
    let expect = source.expect(&item.path).map_err(unusable)?;
    Ok(Write::credential(
        item.path.clone(),
        yaml.into_bytes(),
        0o600,
        true,
        expect,
    ))
}

/// The renewable credential a file of the tree belongs to (its kubeconfig,
/// its certificate or its key), if any: what a restored backup put back.
pub fn credential_at(path: &Path, kubernetes_dir: &Path, cert_dir: &Path) -> Option<&'static str> {
    layout::CREDENTIALS
        .iter()
        .filter(|spec| spec.renewable)
        .find(|spec| match spec.kind {
            Kind::Kubeconfig => path == kubernetes_dir.join(spec.file),
            Kind::Leaf | Kind::Ca => ["crt", "key"]
                .iter()
                .any(|ext| path == cert_dir.join(format!("{}.{ext}", spec.file))),
        })
        .map(|spec| spec.name)
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "the tests build hosts on disk"
)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::domain::demo::{self, AdminLayout, HostSpec};
    use crate::domain::model::Scope;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    /// A generated node at `NOW`, with `overrides` of validity and `edit` applied to its files.
    fn node(
        admin: AdminLayout,
        overrides: &[(&str, OffsetDateTime, OffsetDateTime)],
        edit: impl FnOnce(&Path),
    ) -> (tempfile::TempDir, Inventory) {
        let mut spec = HostSpec::new(NOW, KeyAlgorithm::EcdsaP256, admin);
        spec.overrides = overrides
            .iter()
            .map(|(name, from, to)| ((*name).to_owned(), (*from, *to)))
            .collect::<BTreeMap<_, _>>();
        let dir = tempfile::tempdir().unwrap();
        crate::edge::apply::tree::write(dir.path(), &demo::generate(&spec).unwrap()).unwrap();
        edit(dir.path());
        let inventory = Inventory::scan(&Scope {
            kubernetes_dir: dir.path().to_path_buf(),
            cert_dir: dir.path().join("pki"),
            copies: Vec::new(),
            expected_owner: 0,
        });
        (dir, inventory)
    }

    fn request(names: &[&str]) -> Request {
        Request {
            names: names.iter().map(|name| (*name).to_owned()).collect(),
            within: None,
            validity: Duration::hours(8760),
            key: KeyChoice::Auto,
            trust_clock: false,
            all_or_nothing: false,
            update_copies: false,
        }
    }

    fn days(n: i64) -> Duration {
        Duration::days(n)
    }

    fn names(plan: &Plan) -> Vec<&str> {
        plan.items.iter().map(|item| item.name.as_str()).collect()
    }

    fn skip<'a>(plan: &'a Plan, name: &str) -> &'a SkipReason {
        &plan
            .skipped
            .iter()
            .find(|skip| skip.name == name)
            .unwrap_or_else(|| panic!("{name} not skipped: {:?}", plan.skipped))
            .reason
    }

    fn fault_text(reason: &SkipReason) -> &str {
        match reason {
            SkipReason::Fault { reason, .. } => reason,
            other => panic!("not a fault: {other:?}"),
        }
    }

    #[test]
    fn plans_what_is_due_and_skips_the_rest() {
        let (_dir, inventory) = node(
            AdminLayout::Joined129,
            &[("etcd-peer", NOW - days(350), NOW + days(10))],
            |root| fs_remove(&root.join("pki/front-proxy-ca.key")),
        );
        let cases: &[(Option<Duration>, &[&str])] = &[
            (Some(days(30)), &["etcd-peer"]),
            (Some(days(9)), &[]),
            (
                None,
                &[
                    "admin.conf",
                    "apiserver",
                    "apiserver-etcd-client",
                    "apiserver-kubelet-client",
                    "controller-manager.conf",
                    "etcd-healthcheck-client",
                    "etcd-peer",
                    "etcd-server",
                    "scheduler.conf",
                ],
            ),
        ];
        for (within, due) in cases {
            let plan = plan(
                &inventory,
                &Request {
                    within: *within,
                    ..request(&[])
                },
                NOW,
            )
            .unwrap();
            assert_eq!(names(&plan), *due, "{within:?}");
            assert_eq!(skip(&plan, "super-admin.conf"), &SkipReason::Absent);
            assert_eq!(
                skip(&plan, "front-proxy-client"),
                &SkipReason::ExternalCa("front-proxy-ca".into())
            );
            assert!(plan.skipped.iter().all(|skip| !skip.reason.is_fault()));
            if within.is_some() {
                assert!(matches!(skip(&plan, "apiserver"), SkipReason::NotDue(_)));
            }
            for item in &plan.items {
                assert_eq!(item.not_before, NOW - Duration::minutes(5));
                assert_eq!(item.not_after, NOW + Duration::hours(8760));
                assert!(!item.capped);
            }
        }
    }

    #[test]
    fn not_after_is_capped_at_the_ca() {
        let (_dir, inventory) = node(
            AdminLayout::Init129,
            &[
                ("etcd-ca", NOW - days(3000), NOW + days(100)),
                ("etcd-server", NOW - days(300), NOW + days(20)),
            ],
            |_| {},
        );
        let plan = plan(&inventory, &request(&["etcd-server", "apiserver"]), NOW).unwrap();
        let server = plan.items.iter().find(|i| i.name == "etcd-server").unwrap();
        assert!(server.capped);
        assert_eq!(server.not_after, NOW + days(100));
        let apiserver = plan.items.iter().find(|i| i.name == "apiserver").unwrap();
        assert!(!apiserver.capped);
    }

    #[test]
    fn a_renewal_the_ca_would_cap_in_vain_is_a_fault_naming_the_ca() {
        // The CAs end at CA_END; the leaves a year after NOW, but apiserver, which ends with them.
        const CA_END: OffsetDateTime = datetime!(2036-11-23 12:00 UTC);
        let (_dir, inventory) = node(
            AdminLayout::Init129,
            &[("apiserver", NOW - Duration::minutes(5), CA_END)],
            |_| {},
        );
        let second = Duration::SECOND;
        let rotate = "expires on 2036-11-23 12:00 UTC and must be rotated first: capped there, the new certificate would";
        let not_later = "expire no later than the current one (2036-11-23 12:00 UTC)";
        // (clock, --within, a fault reason for every leaf but apiserver, or None: renewed, capped)
        let cases: &[(OffsetDateTime, Option<Duration>, Option<&str>)] = &[
            (CA_END - days(19), None, None),
            (
                CA_END - days(19),
                Some(days(30)),
                Some(
                    "be valid for only 19d, inside the --within 30d window, and be due again at once",
                ),
            ),
            (
                CA_END - days(30),
                Some(days(30)),
                Some("be valid for only 30d, inside the --within 30d window"),
            ),
            (CA_END - days(30) - second, Some(days(30)), None),
            (CA_END - Duration::DAY, None, None),
            (
                CA_END - Duration::DAY + second,
                None,
                Some("be valid for only 23h59m59s, less than a day"),
            ),
            (
                CA_END - second,
                None,
                Some("be valid for only 1s, less than a day"),
            ),
        ];
        for (now, within, fault) in cases {
            let request = Request {
                within: *within,
                trust_clock: true,
                ..request(&[])
            };
            let planned = plan(&inventory, &request, *now).unwrap();
            // apiserver already ends with its CA: renewing it never helps, once it is due.
            let apiserver_due = within.is_none_or(|window| CA_END <= *now + window);
            if apiserver_due {
                assert!(
                    fault_text(skip(&planned, "apiserver"))
                        .contains(&format!("its CA ca {rotate} {not_later}")),
                    "{now}: {planned:?}"
                );
                let SkipReason::Fault { path, .. } = skip(&planned, "apiserver") else {
                    panic!("{now}");
                };
                assert!(path.ends_with("pki/ca.crt"), "{}", path.display());
            } else {
                assert_eq!(skip(&planned, "apiserver"), &SkipReason::NotDue(CA_END));
            }
            match fault {
                None => {
                    assert_eq!(planned.items.len(), 10, "{now}: {planned:?}");
                    let faults = planned.skipped.iter().filter(|s| s.reason.is_fault());
                    assert_eq!(faults.count(), usize::from(apiserver_due), "{now}");
                    for item in &planned.items {
                        assert!(item.capped, "{}", item.name);
                        assert_eq!(item.not_after, CA_END, "{}", item.name);
                        assert!(item.not_after > item.old.not_after, "{}", item.name);
                    }
                }
                Some(why) => {
                    assert!(planned.items.is_empty(), "{now}: {planned:?}");
                    assert_eq!(planned.skipped.len(), 11, "{now}");
                    for skipped in planned.skipped.iter().filter(|s| s.name != "apiserver") {
                        let text = fault_text(&skipped.reason);
                        assert!(text.contains(rotate), "{now}: {text}");
                        assert!(text.contains(why), "{now}: {text}");
                    }
                }
            }
            // Named, the same fault refuses with the same message.
            let named = Request {
                names: vec!["apiserver".into(), "etcd-peer".into()],
                ..request.clone()
            };
            match (plan(&inventory, &named, *now), apiserver_due) {
                (Err(RenewError::Unusable { name, reason, path }), true) => {
                    assert_eq!(name, "apiserver");
                    assert!(
                        reason.contains(rotate) && reason.contains(not_later),
                        "{reason}"
                    );
                    assert!(path.ends_with("pki/ca.crt"));
                }
                (Ok(planned), false) if fault.is_none() => {
                    assert_eq!(names(&planned), ["etcd-peer"]);
                }
                (other, _) => panic!("{now}: {other:?}"),
            }
            let named = Request {
                names: vec!["etcd-peer".into()],
                ..request.clone()
            };
            match (plan(&inventory, &named, *now), fault) {
                (Ok(planned), None) => assert_eq!(names(&planned), ["etcd-peer"]),
                (Err(RenewError::Unusable { reason, path, .. }), Some(why)) => {
                    assert!(
                        reason.contains(&format!("its CA etcd-ca {rotate} {why}")),
                        "{reason}"
                    );
                    assert!(path.ends_with("pki/etcd/ca.crt"));
                }
                (other, _) => panic!("{now}: {other:?}"),
            }
        }
    }

    #[test]
    fn durations_out_of_range_or_too_short_are_usage_errors() {
        let (_dir, inventory) = node(AdminLayout::Init129, &[], |_| {});
        let end = datetime!(9999-12-25 00:00 UTC);
        let cases: &[(Duration, Option<Duration>, OffsetDateTime, &str)] = &[
            (
                Duration::ZERO,
                None,
                NOW,
                "--validity 0s is shorter than a day",
            ),
            (
                Duration::hours(23),
                None,
                NOW,
                "--validity 23h is shorter than a day",
            ),
            (
                days(10),
                Some(days(30)),
                NOW,
                "--within 30d must be shorter than --validity 10d",
            ),
            (
                days(30),
                Some(days(30)),
                NOW,
                "--within 30d must be shorter than --validity 30d: every new certificate would be due again at once",
            ),
            (
                Duration::hours(8760),
                Some(days(365)),
                NOW,
                "--within 1y must be shorter than --validity 1y",
            ),
            (
                days(10_000 * 365),
                None,
                NOW,
                "--validity 10000y is out of range",
            ),
            (
                days(365),
                Some(days(10_000 * 365)),
                NOW,
                "--within 10000y is out of range",
            ),
            (Duration::MAX, None, NOW, "--validity 292471208677y"),
            (
                days(365),
                None,
                end,
                "--validity 1y is out of range: from 9999-12-25",
            ),
        ];
        for (validity, within, now, why) in cases {
            let request = Request {
                validity: *validity,
                within: *within,
                trust_clock: true,
                ..request(&[])
            };
            match plan(&inventory, &request, *now) {
                Err(RenewError::Usage(message)) => assert!(message.contains(why), "{message}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // The edges are accepted: a day, and a validity a second longer than the window.
        for (validity, within) in [
            (Duration::DAY, None),
            (days(30) + Duration::SECOND, Some(days(30))),
        ] {
            let request = Request {
                within,
                validity,
                ..request(&[])
            };
            assert!(plan(&inventory, &request, NOW).is_ok(), "{validity}");
        }
    }

    #[test]
    fn a_doubted_clock_refuses_unless_trusted() {
        let (_dir, inventory) = node(AdminLayout::Init129, &[], |_| {});
        let cases: &[(OffsetDateTime, &str)] = &[
            (
                datetime!(2020-11-26 12:00 UTC),
                "the node clock (2020-11-26 12:00 UTC) is earlier than the not-before of",
            ),
            (
                datetime!(2028-11-26 12:00 UTC),
                "the node clock (2028-11-26 12:00 UTC) is later than the expiry of",
            ),
            (
                datetime!(2037-01-01 00:00 UTC),
                "the node clock (2037-01-01 00:00 UTC) is later than the expiry of",
            ),
        ];
        for (now, why) in cases {
            match plan(&inventory, &request(&[]), *now) {
                Err(RenewError::Clock(message)) => assert!(message.contains(why), "{message}"),
                other => panic!("{now}: {other:?}"),
            }
        }
        // A minute before the newest not-before is already doubted; the plan's own clock is not.
        assert!(matches!(
            plan(&inventory, &request(&[]), NOW - Duration::minutes(6)),
            Err(RenewError::Clock(_))
        ));
        assert!(plan(&inventory, &request(&[]), NOW).is_ok());
    }

    #[test]
    fn a_trusted_clock_still_never_plans_past_the_ca() {
        let (_dir, inventory) = node(AdminLayout::Init129, &[], |_| {});
        let trusted = Request {
            trust_clock: true,
            ..request(&[])
        };
        // Too early for any certificate: refused even though trusted.
        match plan(&inventory, &trusted, datetime!(0000-01-01 00:04 UTC)) {
            Err(RenewError::Clock(message)) => assert!(
                message.contains("before the first date a certificate can carry"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        // Two years ahead: the CAs are valid, so every leaf is planned, valid at that clock.
        let ahead = datetime!(2028-11-26 12:00 UTC);
        let plan_ahead = plan(&inventory, &trusted, ahead).unwrap();
        assert_eq!(plan_ahead.items.len(), 11, "super-admin.conf included");
        for item in &plan_ahead.items {
            assert!(
                item.not_before <= ahead && ahead < item.not_after,
                "{}",
                item.name
            );
        }
        // After the CAs' not-after, or before their not-before: every leaf is a fault, naming the CA.
        for (now, why) in [
            (
                datetime!(2037-01-01 00:00 UTC),
                "expired on 2036-11-23 12:00 UTC (the clock says 2037-01-01 00:00 UTC): the CA must be rotated",
            ),
            (
                datetime!(2020-11-26 12:00 UTC),
                "is not valid before 2026-11-26 11:55 UTC (the clock says 2020-11-26 12:00 UTC)",
            ),
        ] {
            let planned = plan(&inventory, &trusted, now).unwrap();
            assert!(planned.items.is_empty(), "{now}");
            assert_eq!(planned.skipped.len(), 11, "{now}");
            for skipped in &planned.skipped {
                assert!(fault_text(&skipped.reason).contains(why), "{skipped:?}");
            }
            // Named, the same fault refuses.
            let named = Request {
                names: vec!["apiserver".into()],
                ..trusted.clone()
            };
            match plan(&inventory, &named, now) {
                Err(RenewError::Unusable { name, reason, .. }) => {
                    assert_eq!(name, "apiserver");
                    assert!(reason.contains(why), "{reason}");
                }
                other => panic!("{now}: {other:?}"),
            }
        }
    }

    #[test]
    fn all_skips_a_fault_named_or_all_or_nothing_refuses() {
        let (_dir, inventory) = node(AdminLayout::Init129, &[], |root| {
            std::fs::write(root.join("pki/apiserver.crt"), b"not a certificate").unwrap();
        });
        let planned = plan(&inventory, &request(&["all"]), NOW).unwrap();
        assert_eq!(planned.items.len(), 10);
        assert!(!names(&planned).contains(&"apiserver"));
        let SkipReason::Fault { path, .. } = skip(&planned, "apiserver") else {
            panic!("{planned:?}");
        };
        assert!(path.ends_with("pki/apiserver.crt"));
        for refused in [
            request(&["apiserver"]),
            request(&["apiserver", "etcd-peer"]),
            Request {
                all_or_nothing: true,
                ..request(&["all"])
            },
        ] {
            assert!(
                matches!(plan(&inventory, &refused, NOW), Err(RenewError::Unusable { ref name, .. }) if name == "apiserver"),
                "{:?}",
                refused.names
            );
        }
    }

    #[test]
    fn new_certificates_are_valid_at_the_plans_clock() {
        let (_dir, inventory) = node(AdminLayout::Init129, &[], |_| {});
        let mut planned =
            plan(&inventory, &request(&["apiserver", "scheduler.conf"]), NOW).unwrap();
        let prepared = prepare(
            &planned,
            &inventory,
            &crate::edge::inventory::Host::new(&inventory),
        )
        .unwrap();
        assert_eq!(prepared.renewed.len(), 2);
        for renewed in &prepared.renewed {
            assert!(renewed.certificate.not_before <= NOW && NOW < renewed.certificate.not_after);
        }
        // A plan whose clock is past its dates fails verification: nothing is prepared.
        planned.now = NOW + days(400);
        match prepare(
            &planned,
            &inventory,
            &crate::edge::inventory::Host::new(&inventory),
        ) {
            Err(RenewError::Verification { reason, .. }) => {
                assert!(
                    reason.contains("is not valid at 2027-12-31 12:00 UTC"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Skipping faults, it is reported per credential instead.
        planned.skip_faults = true;
        let prepared = prepare(
            &planned,
            &inventory,
            &crate::edge::inventory::Host::new(&inventory),
        )
        .unwrap();
        assert!(prepared.renewed.is_empty());
        assert_eq!(prepared.skipped.len(), 2);
        assert!(
            prepared
                .skipped
                .iter()
                .all(|skip| fault_text(&skip.reason).starts_with("the new certificate failed verification: it is not valid at 2027-12-31 12:00 UTC"))
        );
    }

    fn fs_remove(path: &Path) {
        std::fs::remove_file(path).unwrap();
    }
}
