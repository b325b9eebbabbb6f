//! A small Kubernetes API client over mutual TLS, for the four calls of the
//! domain's [`Api`]: create and get a ClusterRoleBinding, SelfSubjectReview and
//! SelfSubjectAccessReview. Timeouts and retries as kubeadm's, except that an
//! answer no retry can change (a name that does not resolve, a refused
//! connection, a server that fails TLS verification) is final at once.

use std::net::ToSocketAddrs as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::domain::api::{self, Api, ApiFailure, FailureKind, UserInfo, Wait};
use crate::domain::binding::{Binding, Created};

const RBAC: &str = "rbac.authorization.k8s.io";

/// One request's timeout, as kubeadm's.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep retrying, as kubeadm's.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting (TCP and the TLS handshake) may take, per attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long resolving the server's name may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Set by a SIGINT or SIGTERM handler: calls in flight stop at their next retry.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every call in flight (and every later one) to stop with [`ApiError::Interrupted`].
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

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

/// Why the API server could not be reached at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Its host name does not resolve (final: asking again does not help).
    Dns(String),
    /// Nothing listens at its address (final).
    Refused(String),
    /// No answer within the total timeout.
    Timeout(Duration),
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
    /// The server could not be reached.
    #[error("{}", unreachable_message(server, why, last))]
    Unreachable {
        /// The server.
        server: String,
        /// Why.
        why: Unreachable,
        /// The last error seen.
        last: String,
    },
    /// The server answered, but TLS failed: its certificate does not verify
    /// against the kubeconfig's CA or does not name the host, or it refused ours.
    #[error("the API server at {server} failed TLS verification: {reason}")]
    Identity {
        /// The server.
        server: String,
        /// What TLS said.
        reason: String,
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
    /// Interrupted (SIGINT or SIGTERM) while waiting.
    #[error("interrupted while waiting for the API server")]
    Interrupted,
}

fn unreachable_message(server: &str, why: &Unreachable, last: &str) -> String {
    match why {
        Unreachable::Dns(host) => {
            format!("the API server's host name `{host}` ({server}) does not resolve: {last}")
        }
        Unreachable::Refused(_) => {
            format!("nothing listens at {server}: the connection was refused")
        }
        Unreachable::Timeout(timeout) => format!(
            "the API server at {server} did not answer within {}: {last}",
            crate::domain::span::exact(
                time::Duration::try_from(*timeout).unwrap_or(time::Duration::ZERO)
            )
        ),
    }
}

impl ApiError {
    /// The HTTP status of an error answer.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A client for one credential.
pub struct Client {
    agent: ureq::Agent,
    server: String,
    total_timeout: Duration,
    /// When it was made: its waits end `total_timeout` later.
    made: Instant,
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
            .timeout_connect(Some(CONNECT_TIMEOUT.min(total_timeout)))
            .max_redirects(0)
            .build()
            .into();
        Ok(Self {
            agent,
            server: credentials.server.trim_end_matches('/').to_owned(),
            total_timeout,
            made: Instant::now(),
        })
    }

    /// One call, retried every 500 ms on timeouts, resets and 5xx until the
    /// total timeout; final at once on a name that does not resolve, a refused
    /// connection, a TLS failure and any other 4xx.
    fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.server);
        let started = Instant::now();
        resolve(&self.server, RESOLVE_TIMEOUT.min(self.total_timeout))?;
        loop {
            if interrupted() {
                return Err(ApiError::Interrupted);
            }
            // No attempt may outlast the total timeout.
            let left = self
                .total_timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            let attempt = match body {
                Some(body) => self
                    .agent
                    .post(&url)
                    .config()
                    .timeout_global(Some(REQUEST_TIMEOUT.min(left)))
                    .timeout_connect(Some(CONNECT_TIMEOUT.min(left)))
                    .build()
                    .send_json(body),
                None => self
                    .agent
                    .get(&url)
                    .config()
                    .timeout_global(Some(REQUEST_TIMEOUT.min(left)))
                    .timeout_connect(Some(CONNECT_TIMEOUT.min(left)))
                    .build()
                    .call(),
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
                Err(err) => match classify(&err) {
                    Failure::Refused => {
                        return Err(ApiError::Unreachable {
                            server: self.server.clone(),
                            why: Unreachable::Refused(err.to_string()),
                            last: err.to_string(),
                        });
                    }
                    Failure::Dns => {
                        return Err(ApiError::Unreachable {
                            server: self.server.clone(),
                            why: Unreachable::Dns(host_of(&self.server).to_owned()),
                            last: err.to_string(),
                        });
                    }
                    Failure::Tls(reason) => {
                        return Err(ApiError::Identity {
                            server: self.server.clone(),
                            reason,
                        });
                    }
                    Failure::Transient => err.to_string(),
                },
            };
            if interrupted() {
                return Err(ApiError::Interrupted);
            }
            if started.elapsed() + RETRY_EVERY >= self.total_timeout {
                return Err(ApiError::Unreachable {
                    server: self.server.clone(),
                    why: Unreachable::Timeout(self.total_timeout),
                    last,
                });
            }
            pause(RETRY_EVERY);
        }
    }
}

impl Api for Client {
    fn get_binding(&self, name: &str) -> Result<Option<Binding>, ApiFailure> {
        let path = format!("/apis/{RBAC}/v1/clusterrolebindings/{name}");
        match self.call("GET", &path, None) {
            Ok(value) => decode("GET", &path, value).map(Some),
            Err(err) if err.code() == Some(404) => Ok(None),
            Err(err) => Err(err),
        }
        .map_err(ApiFailure::from)
    }

    fn create_binding(&self, binding: &Binding) -> Result<Created, ApiFailure> {
        let path = format!("/apis/{RBAC}/v1/clusterrolebindings");
        match self.call("POST", &path, Some(&binding.manifest())) {
            Ok(_) => Ok(Created::Created),
            Err(err) if err.code() == Some(409) => Ok(Created::AlreadyExists),
            Err(err) => Err(err.into()),
        }
    }

    fn self_subject_review(&self) -> Result<UserInfo, ApiFailure> {
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

    fn may(&self, verb: &str, group: &str, resource: &str) -> Result<bool, ApiFailure> {
        let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
        let body = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}},
        });
        let answer = self.call("POST", path, Some(&body))?;
        Ok(answer["status"]["allowed"].as_bool().unwrap_or(false))
    }

    /// As [`pause`]; this client's time to keep asking ends its total
    /// timeout after it was made.
    fn wait(&self, time: Duration) -> Wait {
        if self.made.elapsed() >= self.total_timeout {
            return Wait::Deadline;
        }
        if interrupted() {
            return Wait::Interrupted;
        }
        pause(time);
        if interrupted() {
            Wait::Interrupted
        } else {
            Wait::Again
        }
    }
}

impl From<ApiError> for ApiFailure {
    fn from(err: ApiError) -> Self {
        let kind = match &err {
            ApiError::Unreachable { why, .. } => FailureKind::Unreachable(match why {
                Unreachable::Dns(_) => api::Unreachable::Dns,
                Unreachable::Refused(_) => api::Unreachable::Refused,
                Unreachable::Timeout(_) => api::Unreachable::Timeout,
            }),
            ApiError::Identity { .. } => FailureKind::Identity,
            ApiError::Status { code: 401, .. } => FailureKind::Unauthorized,
            ApiError::Status { code: 403, .. } => FailureKind::Forbidden,
            ApiError::Interrupted => FailureKind::Interrupted,
            ApiError::Tls { .. } | ApiError::Status { .. } | ApiError::Decode { .. } => {
                FailureKind::Other
            }
        };
        Self::new(kind, err.to_string())
    }
}

/// Sleeps `time`, in short steps so that an interruption is seen at once.
pub fn pause(time: Duration) {
    let step = Duration::from_millis(50);
    let started = Instant::now();
    while !interrupted() && started.elapsed() < time {
        thread::sleep(step.min(time.saturating_sub(started.elapsed())));
    }
}

/// What a failed attempt means for the next one.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The name does not resolve: final.
    Dns,
    /// Connection refused: final.
    Refused,
    /// TLS verification failed (either side): final.
    Tls(String),
    /// A timeout, a reset, a broken answer: worth another try.
    Transient,
}

fn classify(err: &ureq::Error) -> Failure {
    match err {
        ureq::Error::HostNotFound => Failure::Dns,
        ureq::Error::Rustls(tls) => Failure::Tls(tls.to_string()),
        ureq::Error::Tls(reason) => Failure::Tls((*reason).to_owned()),
        ureq::Error::Io(io) => {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Failure::Tls(tls.to_string());
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Failure::Refused,
                _ if io
                    .to_string()
                    .starts_with("failed to lookup address information") =>
                {
                    Failure::Dns
                }
                _ => Failure::Transient,
            }
        }
        _ => Failure::Transient,
    }
}

/// The host of an `https://host:port/...` URL (brackets kept off IPv6 literals).
fn host_of(server: &str) -> &str {
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Resolves the server's host name once, within `timeout`: a name that does
/// not resolve is reported at once, never retried as if the server were slow.
fn resolve(server: &str, timeout: Duration) -> Result<(), ApiError> {
    let host = host_of(server);
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let fail = |last: String| ApiError::Unreachable {
        server: server.to_owned(),
        why: Unreachable::Dns(host.to_owned()),
        last,
    };
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    thread::spawn(move || {
        let answer = (name.as_str(), 443)
            .to_socket_addrs()
            .map(|mut addrs| addrs.next().is_some());
        let _ = tx.send(answer);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(fail("no address".into())),
        Ok(Err(err)) => Err(fail(err.to_string())),
        Err(_) => Err(fail(format!(
            "no answer from the resolver within {}s",
            timeout.as_secs()
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host_of("https://10.0.0.1:6443"), "10.0.0.1");
        assert_eq!(host_of("https://cp.example:6443/x"), "cp.example");
        assert_eq!(host_of("https://[::1]:6443"), "::1");
        assert_eq!(host_of("https://cp.example"), "cp.example");
    }

    #[test]
    fn failures_no_retry_can_change_are_final() {
        let io = |kind| ureq::Error::Io(std::io::Error::from(kind));
        assert_eq!(classify(&ureq::Error::HostNotFound), Failure::Dns);
        assert_eq!(
            classify(&io(std::io::ErrorKind::ConnectionRefused)),
            Failure::Refused
        );
        assert_eq!(
            classify(&io(std::io::ErrorKind::ConnectionReset)),
            Failure::Transient
        );
        assert_eq!(
            classify(&ureq::Error::Timeout(ureq::Timeout::Connect)),
            Failure::Transient
        );
        let tls = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert!(matches!(classify(&tls), Failure::Tls(_)));
    }

    #[test]
    fn a_name_that_does_not_resolve_is_reported_at_once() {
        let started = Instant::now();
        let err = resolve("https://kubecred-test.invalid:6443", RESOLVE_TIMEOUT).unwrap_err();
        assert!(started.elapsed() <= RESOLVE_TIMEOUT);
        assert!(
            matches!(&err, ApiError::Unreachable { why: Unreachable::Dns(host), .. } if host == "kubecred-test.invalid"),
            "{err:?}"
        );
        assert!(err.to_string().contains("does not resolve"), "{err}");
        assert!(resolve("https://127.0.0.1:6443", RESOLVE_TIMEOUT).is_ok());
    }
}
