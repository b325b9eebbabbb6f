//! The `kubeadm:cluster-admins` ClusterRoleBinding as values: kubeadm's, one
//! the API server holds, how the two compare, and what asking for it with
//! admin.conf (then super-admin.conf) found.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::api::{Api, ApiFailure, FailureKind};
use crate::domain::layout::KUBEADM_CLUSTER_ADMINS;

/// The binding kubeadm 1.29+ creates.
pub const BINDING: &str = "kubeadm:cluster-admins";
const RBAC: &str = "rbac.authorization.k8s.io";

/// Why a credential is refused with 401.
pub const REFUSED: &str =
    "401 Unauthorized: its certificate is expired, or not signed by the CA the API server trusts";

/// A ClusterRoleBinding, as far as kubecred reads it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// `roleRef`
    pub role_ref: RoleRef,
    /// `subjects`
    #[serde(default)]
    pub subjects: Vec<Subject>,
}

/// A binding's `roleRef`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `apiGroup`
    #[serde(default)]
    pub api_group: String,
    /// `kind`
    pub kind: String,
    /// `name`
    pub name: String,
}

/// A binding subject.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `apiGroup`
    #[serde(default)]
    pub api_group: String,
    /// `kind`
    pub kind: String,
    /// `name`
    pub name: String,
}

impl Binding {
    /// kubeadm's binding: ClusterRole `cluster-admin` to Group `kubeadm:cluster-admins`.
    pub fn kubeadm() -> Self {
        Self {
            role_ref: RoleRef {
                api_group: RBAC.into(),
                kind: "ClusterRole".into(),
                name: "cluster-admin".into(),
            },
            subjects: vec![Subject {
                api_group: RBAC.into(),
                kind: "Group".into(),
                name: KUBEADM_CLUSTER_ADMINS.into(),
            }],
        }
    }

    /// Whether it grants `cluster-admin` to Group `kubeadm:cluster-admins`.
    pub fn grants_cluster_admins(&self) -> bool {
        self.verdict() != Verdict::Wrong
    }

    /// How it compares with kubeadm's.
    pub fn verdict(&self) -> Verdict {
        let wanted = Self::kubeadm();
        if self.role_ref != wanted.role_ref
            || !self
                .subjects
                .iter()
                .any(|subject| wanted.subjects.contains(subject))
        {
            return Verdict::Wrong;
        }
        if self
            .subjects
            .iter()
            .all(|subject| wanted.subjects.contains(subject))
        {
            Verdict::Exact
        } else {
            Verdict::TooBroad
        }
    }

    /// The subjects beyond kubeadm's group, as `Kind/name`.
    pub fn extra_subjects(&self) -> Vec<String> {
        let wanted = Self::kubeadm();
        self.subjects
            .iter()
            .filter(|subject| !wanted.subjects.contains(subject))
            .map(|subject| format!("{}/{}", subject.kind, subject.name))
            .collect()
    }

    /// The binding as the API and `kubectl apply` take it.
    pub fn manifest(&self) -> Value {
        json!({
            "apiVersion": format!("{RBAC}/v1"),
            "kind": "ClusterRoleBinding",
            "metadata": {"name": BINDING},
            "roleRef": self.role_ref,
            "subjects": self.subjects,
        })
    }

    /// The binding as one line of JSON, for messages.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A binding compared with kubeadm's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Exactly kubeadm's roleRef and subject.
    Exact,
    /// kubeadm's roleRef and subject, and more subjects: cluster-admin for them too.
    TooBroad,
    /// Another roleRef, or without kubeadm's subject.
    Wrong,
}

/// What creating the binding found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// It existed (kubeadm counts AlreadyExists as success).
    AlreadyExists,
    /// It was created now.
    Created,
}

/// The binding as the API server reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingState {
    /// It exists and is exactly kubeadm's.
    Bound,
    /// The server answered, but no credential could ask: TLS verification
    /// failed, every credential was refused (401), or another error.
    Failed(String),
    /// Every credential was Forbidden to read it: without system:masters, that
    /// means the binding is missing or does not grant cluster-admin.
    Forbidden(String),
    /// It does not exist.
    Missing,
    /// It grants cluster-admin to kubeadm's group and to other subjects too.
    TooBroad(Binding),
    /// The server could not be reached (the only case `--offline` is for).
    Unreachable(String),
    /// It exists but grants something else.
    Wrong(Binding),
}

/// What asking the API server found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The binding.
    pub state: BindingState,
    /// The credentials the API server did not accept (401), in the order tried.
    pub refused: Vec<&'static str>,
    /// Every credential asked with, in order.
    pub asked: Vec<&'static str>,
}

/// Reads the binding with each credential in turn (admin.conf, then
/// super-admin.conf), going on to the next only when one is Forbidden (403)
/// or not accepted (401). A credential that could not even be made into a
/// client counts as a failed call.
pub fn probe<A: Api>(
    credentials: impl IntoIterator<Item = (&'static str, Result<A, ApiFailure>)>,
) -> Probe {
    let mut forbidden = None;
    let mut refused = Vec::new();
    let mut asked = Vec::new();
    for (name, client) in credentials {
        asked.push(name);
        let state = match client.and_then(|client| client.get_binding(BINDING)) {
            Ok(Some(binding)) => match binding.verdict() {
                Verdict::Exact => BindingState::Bound,
                Verdict::TooBroad => BindingState::TooBroad(binding),
                Verdict::Wrong => BindingState::Wrong(binding),
            },
            Ok(None) => BindingState::Missing,
            Err(err) => match err.kind {
                FailureKind::Forbidden => {
                    forbidden = Some(format!("{name} is Forbidden: {err}"));
                    continue;
                }
                FailureKind::Unauthorized => {
                    refused.push(name);
                    continue;
                }
                FailureKind::Unreachable(_) => BindingState::Unreachable(err.message),
                FailureKind::Identity | FailureKind::Interrupted | FailureKind::Other => {
                    BindingState::Failed(err.message)
                }
            },
        };
        return Probe {
            state,
            refused,
            asked,
        };
    }
    let state = match forbidden {
        Some(reason) => BindingState::Forbidden(reason),
        None if !refused.is_empty() => BindingState::Failed(format!(
            "the API server does not accept {} ({REFUSED})",
            refused.join(" nor ")
        )),
        None => BindingState::Failed("neither admin.conf nor super-admin.conf can be used".into()),
    };
    Probe {
        state,
        refused,
        asked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_judged_against_kubeadms() {
        let mut binding = Binding::kubeadm();
        assert_eq!(binding.verdict(), Verdict::Exact);
        binding.subjects.push(Subject {
            api_group: RBAC.into(),
            kind: "Group".into(),
            name: "system:authenticated".into(),
        });
        assert_eq!(binding.verdict(), Verdict::TooBroad);
        assert_eq!(binding.extra_subjects(), ["Group/system:authenticated"]);
        binding.role_ref.name = "view".into();
        assert_eq!(binding.verdict(), Verdict::Wrong);
        let mut other = Binding::kubeadm();
        other.subjects[0].name = "system:authenticated".into();
        assert_eq!(other.verdict(), Verdict::Wrong);
    }
}
