//! A small Kubernetes API client over mutual TLS, for the four calls kubecred
//! needs: create and get a ClusterRoleBinding, SelfSubjectReview and
//! SelfSubjectAccessReview. Timeouts and retries as kubeadm's.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::layout::KUBEADM_CLUSTER_ADMINS;

/// The binding kubeadm 1.29+ creates.
pub const BINDING: &str = "kubeadm:cluster-admins";
const RBAC: &str = "rbac.authorization.k8s.io";

/// One request's timeout, as kubeadm's.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep retrying, as kubeadm's.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Credentials {
    /// The API server URL.
    pub server: String,
    /// The CA that signs the server's certificate (PEM).
    pub ca_pem: Vec<u8>,
    /// The client certificate (PEM).
    pub cert_pem: Vec<u8>,
    /// The client key (PEM). Never printed.
    pub key_pem: Vec<u8>,
    /// What to call this credential in messages (e.g. `admin.conf`).
    pub name: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The credentials could not be used for TLS.
    #[error("cannot use {name} for TLS: {reason}")]
    Tls {
        /// The credential.
        name: String,
        /// Why.
        reason: String,
    },
    /// No answer within the total timeout.
    #[error("the API server at {server} did not answer within {}s: {last}", timeout.as_secs())]
    Unreachable {
        /// The server.
        server: String,
        /// The total timeout.
        timeout: Duration,
        /// The last error seen.
        last: String,
    },
    /// An answer that is an error.
    #[error("{method} {path}: HTTP {code} {reason}: {message}")]
    Status {
        /// The request method.
        method: &'static str,
        /// The request path.
        path: String,
        /// The HTTP status.
        code: u16,
        /// The API `Status` reason (`Forbidden`, `AlreadyExists`, ...).
        reason: String,
        /// The API `Status` message.
        message: String,
    },
    /// An answer that could not be read.
    #[error("{method} {path}: unreadable answer: {reason}")]
    Decode {
        /// The request method.
        method: &'static str,
        /// The request path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl ApiError {
    /// The HTTP status of an error answer.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

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
        let wanted = Self::kubeadm();
        self.role_ref == wanted.role_ref
            && self
                .subjects
                .iter()
                .any(|subject| wanted.subjects.contains(subject))
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
}

/// What creating the binding found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// It was created now.
    Created,
    /// It existed (kubeadm counts AlreadyExists as success).
    AlreadyExists,
}

/// Who the API server says a credential is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub username: String,
    /// The groups.
    pub groups: Vec<String>,
}

/// A client for one credential.
pub struct Client {
    agent: ureq::Agent,
    server: String,
    total_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client that verifies the server against `ca_pem` and presents the client certificate.
    pub fn new(credentials: &Credentials, total_timeout: Duration) -> Result<Self, ApiError> {
        let tls_error = |reason: String| ApiError::Tls {
            name: credentials.name.clone(),
            reason,
        };
        let roots = certificates(&credentials.ca_pem);
        if roots.is_empty() {
            return Err(tls_error("no CA certificate".into()));
        }
        let chain = certificates(&credentials.cert_pem);
        if chain.is_empty() {
            return Err(tls_error("no client certificate".into()));
        }
        let key = PrivateKey::from_pem(&credentials.key_pem)
            .map_err(|err| tls_error(format!("bad client key ({err})")))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(RootCerts::new_with_certs(&roots))
            .client_cert(Some(ClientCert::new_with_certs(&chain, key)))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT.min(total_timeout)))
            .max_redirects(0)
            .build()
            .into();
        Ok(Self {
            agent,
            server: credentials.server.trim_end_matches('/').to_owned(),
            total_timeout,
        })
    }

    /// Reads the binding; `None` when it does not exist.
    pub fn get_binding(&self, name: &str) -> Result<Option<Binding>, ApiError> {
        let path = format!("/apis/{RBAC}/v1/clusterrolebindings/{name}");
        match self.call("GET", &path, None) {
            Ok(value) => decode("GET", &path, value).map(Some),
            Err(err) if err.code() == Some(404) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Creates the binding; AlreadyExists is success.
    pub fn create_binding(&self, binding: &Binding) -> Result<Created, ApiError> {
        let path = format!("/apis/{RBAC}/v1/clusterrolebindings");
        match self.call("POST", &path, Some(&binding.manifest())) {
            Ok(_) => Ok(Created::Created),
            Err(err) if err.code() == Some(409) => Ok(Created::AlreadyExists),
            Err(err) => Err(err),
        }
    }

    /// Asks the server who this credential is.
    pub fn self_subject_review(&self) -> Result<UserInfo, ApiError> {
        let path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
        let answer = self.call("POST", path, Some(&body))?;
        let info = &answer["status"]["userInfo"];
        Ok(UserInfo {
            username: info["username"].as_str().unwrap_or_default().to_owned(),
            groups: info["groups"]
                .as_array()
                .map(|groups| {
                    groups
                        .iter()
                        .filter_map(|g| g.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Asks the server whether this credential may do `verb` on `resource` of `group`.
    pub fn may(&self, verb: &str, group: &str, resource: &str) -> Result<bool, ApiError> {
        let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
        let body = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}},
        });
        let answer = self.call("POST", path, Some(&body))?;
        Ok(answer["status"]["allowed"].as_bool().unwrap_or(false))
    }

    /// One call, retried every 500 ms on connection errors and 5xx until the total timeout.
    fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.server);
        let started = Instant::now();
        loop {
            let attempt = match body {
                Some(body) => self.agent.post(&url).send_json(body),
                None => self.agent.get(&url).call(),
            };
            let last = match attempt {
                Ok(mut response) => {
                    let code = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if (200..300).contains(&code) {
                        return Ok(value);
                    }
                    let error = ApiError::Status {
                        method,
                        path: path.to_owned(),
                        code,
                        reason: value["reason"].as_str().unwrap_or_default().to_owned(),
                        message: value["message"]
                            .as_str()
                            .map_or_else(|| text.chars().take(200).collect(), str::to_owned),
                    };
                    // 429: API Priority and Fairness asks to come back; 5xx: the server's trouble.
                    if code < 500 && code != 429 {
                        return Err(error);
                    }
                    error.to_string()
                }
                Err(err) => err.to_string(),
            };
            if started.elapsed() + RETRY_EVERY >= self.total_timeout {
                return Err(ApiError::Unreachable {
                    server: self.server.clone(),
                    timeout: self.total_timeout,
                    last,
                });
            }
            thread::sleep(RETRY_EVERY);
        }
    }
}

/// The certificates of a PEM text.
fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect()
}

fn decode<T: serde::de::DeserializeOwned>(
    method: &'static str,
    path: &str,
    value: Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|err| ApiError::Decode {
        method,
        path: path.to_owned(),
        reason: err.to_string(),
    })
}
