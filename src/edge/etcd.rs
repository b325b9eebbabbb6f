//! Asks the local etcd for its members and each member's health, over HTTPS
//! to its v3 gateway with the node's `etcd/healthcheck-client` credential,
//! trusting `etcd/ca.crt`. Every call is bounded by [`CALL_TIMEOUT`]; the
//! members' health is asked all at once. A member is asked only at client
//! URLs on loopback or at this node's own addresses: other nodes are never
//! contacted, and such a member's health is [`Health::Unknown`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::domain::manifest::{self, Pod};
use crate::domain::quorum::{self, Health, Listed, Member, Quorum};
use crate::edge::inventory::{Links, read_file};
use crate::edge::live::{Probing, is_local};

/// The longest any one call to etcd may take (connecting included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the local etcd could not be asked for its members.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The manifest names no client URL kubecred can use.
    #[error("etcd's manifest: {0}")]
    Manifest(String),
    /// A credential file could not be read or used.
    #[error("cannot use {}: {why}", path.display())]
    Credential {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The local etcd did not answer, or answered something else than a member list.
    #[error("the local etcd at {address}: {why}")]
    Answer {
        /// Where it was asked.
        address: SocketAddr,
        /// What went wrong.
        why: String,
    },
}

/// The members of the etcd cluster and their health, as the etcd that
/// `pod` (etcd's static pod manifest) runs answers at its client URL
/// (`--listen-client-urls`, loopback where it binds every address), with the
/// credentials under `cert_dir/etcd`. `probing` redirects the addresses and
/// keeps to loopback as it does for `--live` (tests).
pub fn ask(pod: &Pod, cert_dir: &Path, probing: &Probing) -> Result<Quorum, AskError> {
    let urls = pod
        .flag("listen-client-urls")
        .ok_or_else(|| AskError::Manifest("it sets no --listen-client-urls".into()))?;
    let address = manifest::listen_url_address(urls)
        .map_err(|why| AskError::Manifest(format!("--listen-client-urls: {why}")))?;
    let agent = agent(&cert_dir.join("etcd"))?;
    let to = probing.destination(address);
    if probing.loopback_only && !to.ip().is_loopback() {
        return Err(AskError::Answer {
            address: to,
            why: "not on loopback, and this test run asks loopback only".into(),
        });
    }
    let answer = |why: String| AskError::Answer { address: to, why };
    let body = post(&agent, to, "/v3/cluster/member/list", "{}").map_err(answer)?;
    let (local, listed) = quorum::parse_member_list(&body).map_err(answer)?;
    let members = std::thread::scope(|scope| {
        let handles: Vec<_> = listed
            .iter()
            .map(|member| {
                let agent = &agent;
                let first = (Some(member.id) == local).then_some(to);
                scope.spawn(move || health(agent, member, first, probing))
            })
            .collect();
        handles
            .into_iter()
            .zip(&listed)
            .map(|(handle, member)| Member {
                health: handle
                    .join()
                    .unwrap_or_else(|_| Health::Unhealthy("asking it failed unexpectedly".into())),
                id: member.id,
                name: member.name.clone(),
                client_urls: member.client_urls.clone(),
            })
            .collect()
    });
    Ok(Quorum { local, members })
}

/// A member's health, asked at `first` (for the member that answered: where
/// it answered) and then at the first of its client URLs that is on this node
/// and answers.
fn health(
    agent: &ureq::Agent,
    member: &Listed,
    first: Option<SocketAddr>,
    probing: &Probing,
) -> Health {
    if member.client_urls.is_empty() && first.is_none() {
        return Health::Unhealthy("it has not started (it has no client URL)".into());
    }
    let mut tried = Vec::new();
    let urls = member
        .client_urls
        .iter()
        .filter_map(|url| quorum::client_url_address(url))
        .map(|address| probing.destination(address));
    for to in first.into_iter().chain(urls) {
        let on_node = if probing.loopback_only {
            to.ip().is_loopback()
        } else {
            to.ip().is_loopback() || is_local(to.ip())
        };
        if !on_node {
            continue;
        }
        match get(agent, to, "/health").and_then(|body| quorum::parse_health(&body)) {
            Ok(true) => return Health::Healthy,
            Ok(false) => {
                return Health::Unhealthy(format!("it says it is not healthy (at {to})"));
            }
            Err(why) => tried.push(format!("{to}: {why}")),
        }
    }
    if tried.is_empty() {
        Health::Unknown(format!(
            "its client URLs ({}) are not on this node, and kubecred does not contact other nodes",
            member.client_urls.join(", ")
        ))
    } else {
        Health::Unhealthy(tried.join("; "))
    }
}

/// An HTTPS agent with the healthcheck-client credential, trusting etcd's CA.
fn agent(etcd_dir: &Path) -> Result<ureq::Agent, AskError> {
    let read = |name: &str| {
        let path = etcd_dir.join(name);
        match read_file(&path, Links::Refuse) {
            Ok(Some((bytes, _))) => Ok((bytes, path)),
            Ok(None) => Err(AskError::Credential {
                path,
                why: "the file is absent".into(),
            }),
            Err(why) => Err(AskError::Credential { path, why }),
        }
    };
    let (ca, ca_path) = read("ca.crt")?;
    let (cert, cert_path) = read("healthcheck-client.crt")?;
    let (key, key_path) = read("healthcheck-client.key")?;
    let roots = certificates(&ca);
    if roots.is_empty() {
        return Err(AskError::Credential {
            path: ca_path,
            why: "no certificate in it".into(),
        });
    }
    let chain = certificates(&cert);
    if chain.is_empty() {
        return Err(AskError::Credential {
            path: cert_path,
            why: "no certificate in it".into(),
        });
    }
    let key = PrivateKey::from_pem(&key).map_err(|_| AskError::Credential {
        path: key_path,
        why: "not a usable private key".into(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .root_certs(RootCerts::new_with_certs(&roots))
        .client_cert(Some(ClientCert::new_with_certs(&chain, key)))
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(CALL_TIMEOUT))
        .timeout_connect(Some(CALL_TIMEOUT))
        .max_redirects(0)
        .build()
        .into())
}

fn url(address: SocketAddr, path: &str) -> String {
    format!("https://{address}{path}")
}

fn post(
    agent: &ureq::Agent,
    address: SocketAddr,
    path: &str,
    body: &str,
) -> Result<Vec<u8>, String> {
    let response = agent
        .post(&url(address, path))
        .header("Content-Type", "application/json")
        .send(body);
    read(response)
}

fn get(agent: &ureq::Agent, address: SocketAddr, path: &str) -> Result<Vec<u8>, String> {
    read(agent.get(&url(address, path)).call())
}

fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Vec<u8>, String> {
    let mut response = response.map_err(|err| describe(&err))?;
    let code = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|err| format!("unreadable answer ({})", describe(&err)))?;
    if (200..300).contains(&code) {
        Ok(body)
    } else {
        Err(format!("HTTP {code}"))
    }
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        ureq::Error::Timeout(_) => format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
        other => other.to_string(),
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
