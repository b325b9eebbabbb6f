//! The migration's conversation with the API server, in SPEC.md's order: the
//! preflight before anything changes, the binding created and read back, and
//! the new admin.conf proven just before it replaces the old one. Each step
//! runs over an [`Api`] the edge provides; no clock and no sleep here, the
//! wait between two attempts is the `Api`'s.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::domain::api::{Api, ApiFailure, Wait};
use crate::domain::binding::{self, BINDING, Binding, BindingState, Created, REFUSED, Verdict};
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};

/// How long to let pass between two access reviews of the new admin.conf: a
/// new binding reaches the authorizer's cache within moments.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);

/// What the preflight found, when the migration may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preflight {
    /// The binding is exactly kubeadm's already.
    Bound,
    /// The binding is missing, or hidden (403) from every credential asked:
    /// the plan's system:masters credential creates it.
    Unbound,
}

/// Why the migration stops before anything changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// admin.conf is not accepted (401); what super-admin.conf got.
    AdminRefused(SuperAdminAnswer),
    /// The API server answered, but could not be asked (TLS, another error).
    Failed(String),
    /// The binding is missing (or hidden) and no system:masters credential can create it.
    NoCreator,
    /// The binding grants cluster-admin to kubeadm's group and to others.
    TooBroad(Binding),
    /// The API server could not be reached: the one case `--offline` is for.
    Unreachable(String),
    /// The binding grants something else.
    Wrong(Binding),
}

/// What super-admin.conf got, once admin.conf was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuperAdminAnswer {
    /// There is no super-admin.conf to ask with.
    Absent,
    /// It is accepted: the migration still stops, it must start from a working admin.conf.
    Accepted,
    /// It could not ask either, for this reason.
    Failed(String),
    /// It is refused (401) too.
    Refused,
}

impl Stop {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::AdminRefused(_) => {
                "renew admin.conf (`kubecred check` shows whether it expired), or make sure ca.crt is the CA the API server trusts, then migrate again; nothing was changed"
            }
            Self::Failed(_) => {
                "check that --server (or admin.conf's server) is this cluster's API server and that admin.conf's certificate-authority-data is its CA; nothing was changed"
            }
            Self::NoCreator => {
                "create it with a system:masters credential from another control-plane node; nothing was changed"
            }
            Self::TooBroad(_) => {
                "remove every subject but Group kubeadm:cluster-admins from the binding, then migrate again; nothing was changed"
            }
            Self::Unreachable(_) => {
                "nothing was changed; without the API server, `kubecred migrate --offline` writes the binding manifest to apply later"
            }
            Self::Wrong(_) => "fix or delete the binding first; nothing was changed",
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kubeadm = Binding::kubeadm().to_json();
        match self {
            Self::AdminRefused(SuperAdminAnswer::Refused) => write!(
                f,
                "the API server accepts neither admin.conf nor super-admin.conf ({REFUSED})"
            ),
            Self::AdminRefused(SuperAdminAnswer::Absent) => write!(
                f,
                "the API server does not accept admin.conf ({REFUSED}), and there is no super-admin.conf to try"
            ),
            Self::AdminRefused(SuperAdminAnswer::Failed(reason)) => write!(
                f,
                "the API server does not accept admin.conf ({REFUSED}); super-admin.conf could not ask either: {reason}"
            ),
            Self::AdminRefused(SuperAdminAnswer::Accepted) => write!(
                f,
                "the API server does not accept admin.conf ({REFUSED}); super-admin.conf is accepted, but kubecred stops: a migration must start from a working admin.conf"
            ),
            Self::Failed(reason) => write!(f, "the API server could not be asked: {reason}"),
            Self::NoCreator => write!(
                f,
                "the {BINDING} binding is missing and there is no system:masters credential (admin.conf or super-admin.conf) to create it"
            ),
            Self::TooBroad(binding) => write!(
                f,
                "the {BINDING} binding also grants cluster-admin to {}: has {}, kubeadm's is {kubeadm}",
                binding.extra_subjects().join(", "),
                binding.to_json()
            ),
            Self::Unreachable(reason) => write!(f, "cannot reach the API server: {reason}"),
            Self::Wrong(binding) => write!(
                f,
                "the {BINDING} binding exists but differs from kubeadm's: has {}, kubeadm's is {kubeadm}",
                binding.to_json()
            ),
        }
    }
}

impl std::error::Error for Stop {}

/// Step 1: asks about the binding with each credential in turn (admin.conf,
/// then super-admin.conf, as [`binding::probe`]) before anything changes.
///
/// An unreachable server, a refused admin.conf, a failed TLS verification or
/// a binding that is not kubeadm's stops the migration; so does a missing
/// binding when `creator` (the plan's system:masters credential) is `None`.
pub fn preflight<A: Api>(
    credentials: impl IntoIterator<Item = (&'static str, Result<A, ApiFailure>)>,
    creator: Option<&str>,
) -> Result<Preflight, Stop> {
    let probe = binding::probe(credentials);
    if probe.refused.contains(&"admin.conf") {
        let super_admin = match probe.state {
            _ if probe.refused.contains(&"super-admin.conf") => SuperAdminAnswer::Refused,
            _ if !probe.asked.contains(&"super-admin.conf") => SuperAdminAnswer::Absent,
            BindingState::Failed(reason) | BindingState::Unreachable(reason) => {
                SuperAdminAnswer::Failed(reason)
            }
            _ => SuperAdminAnswer::Accepted,
        };
        return Err(Stop::AdminRefused(super_admin));
    }
    match probe.state {
        BindingState::Bound => Ok(Preflight::Bound),
        BindingState::Missing | BindingState::Forbidden(_) => match creator {
            Some(_) => Ok(Preflight::Unbound),
            None => Err(Stop::NoCreator),
        },
        BindingState::Wrong(binding) => Err(Stop::Wrong(binding)),
        BindingState::TooBroad(binding) => Err(Stop::TooBroad(binding)),
        BindingState::Unreachable(reason) => Err(Stop::Unreachable(reason)),
        BindingState::Failed(reason) => Err(Stop::Failed(reason)),
    }
}

/// Why a step after the backup failed: the reason to restore it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The access review of the new admin.conf failed.
    Access(ApiFailure),
    /// Creating the binding failed.
    Create(ApiFailure),
    /// The new admin.conf may not do `*` on `*` within the time allowed.
    Denied,
    /// The binding read back is not kubeadm's.
    Differs(Binding),
    /// The API server sees the new admin.conf in the wrong groups.
    Groups(Vec<String>),
    /// SIGINT or SIGTERM.
    Interrupted,
    /// Reading the binding back failed.
    ReadBack(ApiFailure),
    /// The SelfSubjectReview of the new admin.conf failed.
    Review(ApiFailure),
    /// The binding is not there after it was created.
    Vanished,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNPROVEN: &str = "the new admin.conf failed verification";
        match self {
            Self::Access(err) => write!(f, "{UNPROVEN}: SelfSubjectAccessReview: {err}"),
            Self::Create(err) => write!(f, "creating the {BINDING} binding failed: {err}"),
            Self::Denied => write!(
                f,
                "{UNPROVEN}: it may not do `*` on `*` (is the binding effective?)"
            ),
            Self::Differs(binding) => write!(
                f,
                "the {BINDING} binding differs from kubeadm's after creation: {}",
                binding.to_json()
            ),
            Self::Groups(groups) => write!(
                f,
                "{UNPROVEN}: the API server sees groups [{}]",
                groups.join(", ")
            ),
            Self::Interrupted => f.write_str("interrupted (SIGINT or SIGTERM)"),
            Self::ReadBack(err) => write!(f, "reading the {BINDING} binding back failed: {err}"),
            Self::Review(err) => write!(f, "{UNPROVEN}: SelfSubjectReview: {err}"),
            Self::Vanished => write!(f, "the {BINDING} binding is not there after creation"),
        }
    }
}

impl std::error::Error for StepError {}

/// Step 3: creates kubeadm's binding (AlreadyExists is success) and reads it
/// back; anything but kubeadm's binding there is an error.
pub fn bind(api: &impl Api) -> Result<Created, StepError> {
    let created = api
        .create_binding(&Binding::kubeadm())
        .map_err(StepError::Create)?;
    match api.get_binding(BINDING).map_err(StepError::ReadBack)? {
        Some(binding) if binding.verdict() == Verdict::Exact => Ok(created),
        Some(binding) => Err(StepError::Differs(binding)),
        None => Err(StepError::Vanished),
    }
}

/// Step 5's proof, with the new admin.conf: SelfSubjectReview must show
/// `kubeadm:cluster-admins` and not `system:masters`, and
/// SelfSubjectAccessReview must allow `*` on `*`, asked again every
/// [`RETRY_EVERY`] until the `Api`'s wait says the time is over. Returns the
/// groups the API server sees.
pub fn prove(api: &impl Api) -> Result<Vec<String>, StepError> {
    let who = api.self_subject_review().map_err(StepError::Review)?;
    if !who.groups.iter().any(|g| g == KUBEADM_CLUSTER_ADMINS)
        || who.groups.iter().any(|g| g == SYSTEM_MASTERS)
    {
        return Err(StepError::Groups(who.groups));
    }
    loop {
        if api.may("*", "*", "*").map_err(StepError::Access)? {
            return Ok(who.groups);
        }
        match api.wait(RETRY_EVERY) {
            Wait::Again => {}
            Wait::Deadline => return Err(StepError::Denied),
            Wait::Interrupted => return Err(StepError::Interrupted),
        }
    }
}

/// One step of the change, inside the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<W> {
    /// Create the binding and read it back ([`bind`]).
    Bind,
    /// Prove the new admin.conf ([`prove`]).
    Prove,
    /// Write this file.
    Write(W),
}

/// Steps 3 to 6 in order: the binding first when `bind`, then every write
/// (each at the `path` it names), the one to `prove_before` (admin.conf,
/// online) preceded by the proof of what it writes: the new admin.conf
/// replaces the old one only once proven.
pub fn sequence<W>(
    bind: bool,
    prove_before: Option<&Path>,
    writes: impl IntoIterator<Item = W>,
    path: impl Fn(&W) -> &Path,
) -> Vec<Step<W>> {
    let mut steps = Vec::new();
    if bind {
        steps.push(Step::Bind);
    }
    for write in writes {
        if prove_before == Some(path(&write)) {
            steps.push(Step::Prove);
        }
        steps.push(Step::Write(write));
    }
    steps
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
