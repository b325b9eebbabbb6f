//! What kubecred asks of the Kubernetes API server, as one credential sees
//! it: a trait the edge's HTTPS client implements (and tests fake), the
//! answers as values, and the kinds of failure the steps tell apart.

use std::time::Duration;

use crate::domain::binding::{Binding, Created};

/// The calls the migration and `check --online` make with one credential,
/// and the wait between two attempts of a call that is retried.
pub trait Api {
    /// Reads the ClusterRoleBinding `name`; `None` when it does not exist.
    fn get_binding(&self, name: &str) -> Result<Option<Binding>, ApiFailure>;

    /// Creates `binding`; AlreadyExists is success.
    fn create_binding(&self, binding: &Binding) -> Result<Created, ApiFailure>;

    /// Who the API server says this credential is (SelfSubjectReview).
    fn self_subject_review(&self) -> Result<UserInfo, ApiFailure>;

    /// Whether this credential may do `verb` on `resource` of `group`
    /// (SelfSubjectAccessReview).
    fn may(&self, verb: &str, group: &str, resource: &str) -> Result<bool, ApiFailure>;

    /// Lets `time` pass before the next attempt; says instead when the run
    /// was interrupted or this credential's time to keep asking is over.
    fn wait(&self, time: Duration) -> Wait;
}

/// What became of a wait between two attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The time passed: try again.
    Again,
    /// The time to keep asking is over.
    Deadline,
    /// SIGINT or SIGTERM: stop.
    Interrupted,
}

/// Who the API server says a credential is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub username: String,
    /// The groups.
    pub groups: Vec<String>,
}

/// A call that failed: what kind of failure, and the edge's words for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for a person (names the server, never a key).
    pub message: String,
}

impl ApiFailure {
    /// A failure of `kind`, told as `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// The failures the steps answer differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// 403: the credential is known but may not do this.
    Forbidden,
    /// The server answered, but TLS failed: its certificate does not verify
    /// against the kubeconfig's CA or does not name the host, or it refused ours.
    Identity,
    /// SIGINT or SIGTERM while waiting for an answer.
    Interrupted,
    /// Anything else: another HTTP error, an unreadable answer, a credential
    /// that cannot be used.
    Other,
    /// 401: the credential is not accepted (expired, or another CA's).
    Unauthorized,
    /// The server could not be reached at all: the only case in which
    /// working offline is the answer.
    Unreachable(Unreachable),
}

/// Why the server could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Its host name does not resolve.
    Dns,
    /// Nothing listens at its address.
    Refused,
    /// No answer within the time allowed.
    Timeout,
}
