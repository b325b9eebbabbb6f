//! A loopback Kubernetes API server for tests: TLS with client certificates
//! checked against the host's CA at the fixed test clock, a small RBAC model (system:masters may do
//! everything, a group bound to cluster-admin may do everything, anyone else
//! gets 403 with a `Status` body), 409 on duplicate creates, and faults on
//! demand: 500s, slow answers, connection resets, a pre-existing wrong binding.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use kubecred::domain::cert::Certificate;
use kubecred::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use rcgen::{Issuer, KeyPair};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde_json::{Value, json};

/// Faults to inject.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer the next N requests with 500.
    pub errors: usize,
    /// Close the next N connections without answering.
    pub resets: usize,
    /// Wait this long before answering every request.
    pub delay: Option<Duration>,
    /// Answer 500 to every request after this many.
    pub fail_after: Option<usize>,
    /// Ignore bindings when authorizing (a binding that does not take effect).
    pub ignore_bindings: bool,
    /// Client certificates (by serial) answered 401 Unauthorized, as an
    /// expired or foreign-CA certificate is by kube-apiserver.
    pub unauthorized: Vec<String>,
}

/// One request seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The client certificate's CN.
    pub user: String,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct State {
    pub bindings: BTreeMap<String, Value>,
    pub seen: Vec<Seen>,
    pub faults: Faults,
}

/// A running server.
pub struct ApiServer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl ApiServer {
    /// Starts a server whose certificate (for 127.0.0.1) is signed by the host's
    /// `pki/ca.crt` and which trusts client certificates from the same CA.
    pub fn start(host_root: &Path) -> Self {
        let ca_pem = std::fs::read_to_string(host_root.join("pki/ca.crt")).unwrap();
        let ca_key =
            KeyPair::from_pem(&std::fs::read_to_string(host_root.join("pki/ca.key")).unwrap())
                .unwrap();
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
        let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let profile = Profile {
            common_name: "kube-apiserver".into(),
            groups: vec![],
            dns_names: vec!["localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            usages: vec![Usage::ServerAuth],
        };
        let now = time::OffsetDateTime::now_utc();
        let cert_pem = issue::leaf(
            &profile,
            &key.pair,
            &issuer,
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap();
        let cert_der = kubecred::domain::pem::parse(cert_pem.as_bytes())
            .unwrap()
            .remove(0)
            .der;
        let ca_der = kubecred::domain::pem::parse(ca_pem.as_bytes())
            .unwrap()
            .remove(0)
            .der;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(ca_der)).unwrap();
        let verifier = Arc::new(AtTestClock(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap(),
        ));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(cert_der)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pair.serialize_der())),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = config.clone();
                let state = shared.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &config, &state);
                });
            }
        });
        Self { url, state }
    }

    pub fn faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    /// Adds a binding as if someone had created it.
    pub fn put_binding(&self, name: &str, binding: Value) {
        self.state
            .lock()
            .unwrap()
            .bindings
            .insert(name.into(), binding);
    }

    pub fn binding(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().bindings.get(name).cloned()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// webpki's client-certificate check, made at the fixed test clock instead of
/// the wall clock: the host's certificates are minted at `common::NOW`, and a
/// test must pass whatever day it runs on.
#[derive(Debug)]
struct AtTestClock(Arc<dyn ClientCertVerifier>);

impl AtTestClock {
    fn now() -> UnixTime {
        let seconds = u64::try_from(super::now().unix_timestamp()).unwrap();
        UnixTime::since_unix_epoch(Duration::from_secs(seconds))
    }
}

impl ClientCertVerifier for AtTestClock {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _wall_clock: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .verify_client_cert(end_entity, intermediates, Self::now())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// kubeadm's binding as the API stores it.
pub fn kubeadm_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "kubeadm:cluster-admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}],
    })
}

fn serve(
    tcp: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    state: &Arc<Mutex<State>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    {
        let mut state_guard = state.lock().unwrap();
        if state_guard.faults.resets > 0 {
            state_guard.faults.resets -= 1;
            drop(state_guard);
            tls.sock.shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
    }
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    drop(reader);
    let peer = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| Certificate::from_der(der).ok());
    let serial = peer
        .as_ref()
        .map(|cert| cert.serial.clone())
        .unwrap_or_default();
    let (user, groups) = peer.map_or_else(
        || (String::new(), vec![]),
        |cert| (cert.common_name, cert.groups),
    );
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let delay = state.lock().unwrap().faults.delay;
    if let Some(delay) = delay {
        thread::sleep(delay);
    }
    let (status, answer) = {
        let mut state = state.lock().unwrap();
        let count = state.seen.len();
        let (status, answer) = if state.faults.errors > 0 {
            state.faults.errors -= 1;
            status_body(500, "InternalError", "injected failure")
        } else if state.faults.unauthorized.contains(&serial) {
            status_body(401, "Unauthorized", "Unauthorized")
        } else if state.faults.fail_after.is_some_and(|after| count >= after) {
            status_body(
                500,
                "InternalError",
                "injected failure after the first requests",
            )
        } else {
            route(&mut state, &method, &path, &body, &user, &groups)
        };
        state.seen.push(Seen {
            method,
            path,
            user,
            status,
        });
        (status, answer)
    };
    let text = answer.to_string();
    write!(
        tls,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    Ok(())
}

fn status_body(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

fn allowed(state: &State, user: &str, groups: &[String]) -> bool {
    if groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    if state.faults.ignore_bindings {
        return false;
    }
    state.bindings.values().any(|binding| {
        binding["roleRef"]["kind"] == "ClusterRole"
            && binding["roleRef"]["name"] == "cluster-admin"
            && binding["subjects"].as_array().is_some_and(|subjects| {
                subjects.iter().any(|s| {
                    (s["kind"] == "Group" && groups.iter().any(|g| s["name"] == g.as_str()))
                        || (s["kind"] == "User" && s["name"] == user)
                })
            })
    })
}

fn route(
    state: &mut State,
    method: &str,
    path: &str,
    body: &[u8],
    user: &str,
    groups: &[String],
) -> (u16, Value) {
    const CRB: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
    let forbidden = || {
        status_body(
            403,
            "Forbidden",
            &format!(
                "clusterrolebindings.rbac.authorization.k8s.io is forbidden: User \"{user}\" cannot do this"
            ),
        )
    };
    match (method, path) {
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews") => {
            let mut all = groups.to_vec();
            all.push("system:authenticated".into());
            (
                201,
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "status": {"userInfo": {"username": user, "groups": all}}}),
            )
        }
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let allowed = allowed(state, user, groups);
            (
                201,
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": request["spec"], "status": {"allowed": allowed}}),
            )
        }
        ("POST", CRB) => {
            if !allowed(state, user, groups) {
                return forbidden();
            }
            let binding: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let name = binding["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if state.bindings.contains_key(&name) {
                return status_body(
                    409,
                    "AlreadyExists",
                    &format!(
                        "clusterrolebindings.rbac.authorization.k8s.io \"{name}\" already exists"
                    ),
                );
            }
            state.bindings.insert(name, binding.clone());
            (201, binding)
        }
        ("GET", path) if path.starts_with(&format!("{CRB}/")) => {
            if !allowed(state, user, groups) {
                return forbidden();
            }
            let name = &path[CRB.len() + 1..];
            match state.bindings.get(name) {
                Some(binding) => (200, binding.clone()),
                None => status_body(
                    404,
                    "NotFound",
                    &format!("clusterrolebindings.rbac.authorization.k8s.io \"{name}\" not found"),
                ),
            }
        }
        _ => status_body(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}
