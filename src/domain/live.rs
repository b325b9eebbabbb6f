//! `--live`: which credential each running component actually uses. Pure:
//! [`plan`] says, from the static pod manifests, what to probe and which file
//! each component uses; `edge::live` observes (TLS handshakes, `/proc`, file
//! times); [`judge`] turns the observations into a state per credential
//! (`in-use`, `stale`, `not-running`, `unknown`) and [`findings`] into findings.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::domain::cert::Certificate;
use crate::domain::findings::{Code, Finding, Severity, Thresholds};
use crate::domain::kubeconfig::{Kubeconfig, Source};
use crate::domain::manifest::{self, Component, Pod, STATIC_PODS};
use crate::domain::model::{FileRead, Inventory};
use crate::domain::pem::{self, BlockKind};
use crate::domain::span::{date, left};

/// How long one probe (TCP connect and TLS handshake) may take; all run at once.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The kubelet's serving port (its default `port`; it has no manifest).
pub const KUBELET_PORT: u16 = 10250;

/// The server name kube-apiserver answers with its in-memory loopback certificate.
pub const LOOPBACK_SERVER_NAME: &str = "apiserver-loopback-client";

/// The name findings give kube-apiserver's in-memory loopback certificate.
pub const LOOPBACK_CREDENTIAL: &str = "apiserver-loopback";

/// The endpoint of a component a probe asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// etcd's client port (`--listen-client-urls`).
    Client,
    /// kube-apiserver's secure port asked for `apiserver-loopback-client`.
    Loopback,
    /// etcd's peer port (`--listen-peer-urls`).
    Peer,
    /// The component's secure port.
    Serving,
}

impl Role {
    /// Lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Loopback => "loopback",
            Self::Peer => "peer",
            Self::Serving => "serving",
        }
    }
}

/// One TLS handshake to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Whose endpoint.
    pub component: Component,
    /// Which of its endpoints.
    pub role: Role,
    /// Where to connect.
    pub address: SocketAddr,
    /// The server name to send (SNI); `None` sends none, as a client dialling an IP.
    pub server_name: Option<&'static str>,
}

/// How a component picks up a new version of a credential file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Read once, at start: a newer file needs a restart.
    AtStart,
    /// Watched and reloaded when it changes.
    OnChange,
    /// Read again for each new connection; open connections keep the old one.
    PerConnection,
}

/// How a component holds a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Served on an endpoint: judged by what the endpoint serves.
    Served(Role),
    /// Read from its file: judged by the process's start time.
    Loaded(Reload),
}

/// One credential file a component uses, as its manifest names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    /// kubeadm's name of the credential.
    pub credential: &'static str,
    /// The component that uses it.
    pub component: Component,
    /// The flag that names it.
    pub flag: &'static str,
    /// How it is held.
    pub how: Use,
    /// The host file the manifest names, or why it is not known.
    pub file: Result<PathBuf, String>,
}

/// kubeadm's credentials by the component that uses them, the flag that names
/// each and how it is picked up (README, "Which component reloads what").
const USES: &[(&str, Component, &str, Use)] = &[
    (
        "apiserver",
        Component::KubeApiserver,
        "tls-cert-file",
        Use::Served(Role::Serving),
    ),
    (
        "apiserver-etcd-client",
        Component::KubeApiserver,
        "etcd-certfile",
        Use::Loaded(Reload::PerConnection),
    ),
    (
        "apiserver-kubelet-client",
        Component::KubeApiserver,
        "kubelet-client-certificate",
        Use::Loaded(Reload::AtStart),
    ),
    (
        "controller-manager.conf",
        Component::KubeControllerManager,
        "kubeconfig",
        Use::Loaded(Reload::AtStart),
    ),
    (
        "etcd-peer",
        Component::Etcd,
        "peer-cert-file",
        Use::Served(Role::Peer),
    ),
    (
        "etcd-server",
        Component::Etcd,
        "cert-file",
        Use::Served(Role::Client),
    ),
    (
        "front-proxy-client",
        Component::KubeApiserver,
        "proxy-client-cert-file",
        Use::Loaded(Reload::OnChange),
    ),
    (
        "scheduler.conf",
        Component::KubeScheduler,
        "kubeconfig",
        Use::Loaded(Reload::AtStart),
    ),
];

/// The static pods that must restart to use the renewed credentials `renewed`
/// (kubeadm names): those that read one of them only at start, in restart
/// order (etcd, kube-apiserver, kube-controller-manager, kube-scheduler).
/// What a component serves or reloads (kube-apiserver's serving, front-proxy
/// and etcd client files, etcd's own certificates) needs none.
pub fn restarts_needed(renewed: &[String]) -> Vec<Component> {
    crate::domain::manifest::STATIC_PODS
        .into_iter()
        .filter(|component| {
            USES.iter().any(|(credential, user, _, how)| {
                user == component
                    && *how == Use::Loaded(Reload::AtStart)
                    && renewed.iter().any(|name| name == credential)
            })
        })
        .collect()
}

/// What to observe: the handshakes, the files and the components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The handshakes to make, all at once.
    pub targets: Vec<Target>,
    /// The credentials to judge, sorted by name.
    pub usages: Vec<Usage>,
    /// The components in scope, in kubeadm's restart order (the kubelet last).
    pub components: Vec<Component>,
    /// Endpoints that cannot be probed, and why (no manifest, a bad flag, ...).
    pub unprobed: Vec<(Component, Role, String)>,
}

impl Plan {
    /// The host files whose times and certificates `judge` needs.
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self
            .usages
            .iter()
            .filter_map(|usage| usage.file.as_deref().ok())
            .collect();
        files.sort();
        files.dedup();
        files
    }
}

/// What the probes to plan, from the inventory's manifests: every component,
/// or only those named (a restart step asks about the one it restarted).
pub fn plan(inventory: &Inventory, only: Option<&[Component]>) -> Plan {
    let wanted = |component: Component| only.is_none_or(|only| only.contains(&component));
    let components: Vec<Component> = STATIC_PODS
        .iter()
        .copied()
        .chain([Component::Kubelet])
        .filter(|component| wanted(*component))
        .collect();
    let mut targets = Vec::new();
    let mut unprobed = Vec::new();
    for component in &components {
        let pod = match pod_of(inventory, *component) {
            Ok(pod) => pod,
            Err(why) => {
                for role in roles(*component) {
                    unprobed.push((*component, role, why.clone()));
                }
                continue;
            }
        };
        for role in roles(*component) {
            match target(pod, *component, role) {
                Ok(target) => targets.push(target),
                Err(why) => unprobed.push((*component, role, why)),
            }
        }
    }
    let usages = USES
        .iter()
        .filter(|(_, component, _, _)| wanted(*component))
        .map(|(credential, component, flag, how)| Usage {
            credential,
            component: *component,
            flag,
            how: *how,
            file: pod_of(inventory, *component).and_then(|pod| named_file(pod, *component, flag)),
        })
        .collect();
    Plan {
        targets,
        usages,
        components,
        unprobed,
    }
}

/// The endpoints a component serves.
fn roles(component: Component) -> Vec<Role> {
    match component {
        Component::Etcd => vec![Role::Client, Role::Peer],
        Component::KubeApiserver => vec![Role::Serving, Role::Loopback],
        Component::KubeControllerManager | Component::KubeScheduler | Component::Kubelet => {
            vec![Role::Serving]
        }
    }
}

/// The parsed manifest of a component (`Ok(None)` for the kubelet, which has none).
fn pod_of(inventory: &Inventory, component: Component) -> Result<Option<&Pod>, String> {
    if component == Component::Kubelet {
        return Ok(None);
    }
    let name = component.manifest_file().unwrap_or_default();
    match inventory.static_pod(component).map(|pod| &pod.state) {
        None | Some(FileRead::Absent(_)) => Err(format!(
            "there is no static pod manifest {}/{name}",
            manifest::MANIFESTS_DIR
        )),
        Some(FileRead::Malformed { .. }) => Err(format!(
            "its static pod manifest {}/{name} is malformed",
            manifest::MANIFESTS_DIR
        )),
        Some(FileRead::Unreadable(_)) => Err(format!(
            "its static pod manifest {}/{name} cannot be read (permission denied)",
            manifest::MANIFESTS_DIR
        )),
        Some(FileRead::Present((pod, _))) => Ok(Some(pod)),
    }
}

/// Where to reach one endpoint, from the manifest's flags (kubeadm's defaults
/// where a flag is absent).
fn target(pod: Option<&Pod>, component: Component, role: Role) -> Result<Target, String> {
    if let Some(pod) = pod.filter(|pod| !pod.host_network) {
        return Err(format!(
            "the `{}` pod does not use the host network: its ports are not the node's",
            pod.name
        ));
    }
    let flag = |name| pod.and_then(|pod| pod.flag(name));
    let port = |default: u16| match flag("secure-port") {
        None => Ok(default),
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("--secure-port={text} is not a port kubecred can probe")),
    };
    let (address, server_name) = match (component, role) {
        (Component::Etcd, Role::Client | Role::Peer) => {
            let name = if role == Role::Client {
                "listen-client-urls"
            } else {
                "listen-peer-urls"
            };
            let urls = flag(name).ok_or_else(|| format!("the manifest sets no --{name}"))?;
            let address =
                manifest::listen_url_address(urls).map_err(|why| format!("--{name}: {why}"))?;
            (address, None)
        }
        (Component::KubeApiserver, Role::Serving | Role::Loopback) => {
            let address = manifest::connect_address(flag("bind-address"), port(6443)?)
                .map_err(|why| format!("--bind-address: {why}"))?;
            let name = if role == Role::Serving {
                "kubernetes"
            } else {
                LOOPBACK_SERVER_NAME
            };
            (address, Some(name))
        }
        (Component::KubeControllerManager, _) => (
            manifest::connect_address(flag("bind-address"), port(10257)?)
                .map_err(|why| format!("--bind-address: {why}"))?,
            None,
        ),
        (Component::KubeScheduler, _) => (
            manifest::connect_address(flag("bind-address"), port(10259)?)
                .map_err(|why| format!("--bind-address: {why}"))?,
            None,
        ),
        (Component::Kubelet, _) => (manifest::connect_address(None, KUBELET_PORT)?, None),
        (_, role) => {
            return Err(format!(
                "{} has no {} endpoint",
                component.as_str(),
                role.as_str()
            ));
        }
    };
    Ok(Target {
        component,
        role,
        address,
        server_name,
    })
}

/// The host file a flag names, through the pod's hostPath mounts.
fn named_file(pod: Option<&Pod>, component: Component, flag: &str) -> Result<PathBuf, String> {
    let pod = pod.ok_or_else(|| format!("{} has no manifest", component.as_str()))?;
    let value = pod
        .flag(flag)
        .ok_or_else(|| format!("its manifest sets no --{flag}"))?;
    pod.host_path(Path::new(value)).ok_or_else(|| {
        format!("--{flag}={value} is not on a hostPath volume of the pod: kubecred cannot read it")
    })
}

/// What a handshake got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server sent its chain (DER, leaf first), whether or not the
    /// handshake then completed (a server that requires a client certificate
    /// ends it after sending its own).
    Served(Vec<Vec<u8>>),
    /// Nothing listens there.
    Refused,
    /// No certificate within [`PROBE_TIMEOUT`].
    TimedOut,
    /// The connection or TLS failed before the server's certificate came.
    Failed(String),
    /// Not attempted, and why.
    Skipped(String),
}

/// A process of the node whose program is one of the components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its id.
    pub pid: u32,
    /// Its command line.
    pub argv: Vec<String>,
    /// When it started (boot time plus its start in clock ticks), or why unknown.
    pub started: Result<OffsetDateTime, String>,
}

/// The facts of a credential file at the time of the probes.
#[derive(Clone, Debug)]
pub struct FileFacts {
    /// Its modification time, or why unknown.
    pub modified: Result<OffsetDateTime, String>,
    /// Its certificate (a kubeconfig's client certificate), or why unknown.
    pub certificate: Result<Certificate, String>,
}

/// Everything `edge::live` saw, for [`judge`].
#[derive(Clone, Debug)]
pub struct Observations {
    /// Each of the plan's targets and what its handshake got.
    pub probes: Vec<(Target, Outcome)>,
    /// The component processes found, or why none could be looked for.
    pub processes: Result<Vec<Process>, String>,
    /// The plan's files.
    pub files: Vec<(PathBuf, FileFacts)>,
}

/// What is known of a component's process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Running {
    /// Found.
    Process {
        /// Its id.
        pid: u32,
        /// When it started, or why unknown.
        started: Result<OffsetDateTime, String>,
        /// Whether its command line is exactly the manifest's (else: by program name only).
        exact: bool,
    },
    /// No process of that program.
    Absent,
    /// Several processes of that program, none running the manifest's command.
    Ambiguous(Vec<u32>),
    /// Processes could not be listed.
    Unknown(String),
}

/// What an endpoint answered.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A certificate (the leaf, parsed) in a chain of `chain` certificates.
    Served {
        /// The leaf.
        leaf: Box<Certificate>,
        /// How many certificates the server sent.
        chain: usize,
    },
    /// Nothing listens.
    Refused,
    /// No certificate in time.
    TimedOut,
    /// Failed, and why.
    Failed(String),
    /// Not probed, and why.
    Skipped(String),
}

/// One endpoint and what it answered.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Whose endpoint.
    pub component: Component,
    /// Which.
    pub role: Role,
    /// Where it was asked (`None`: it could not be).
    pub address: Option<SocketAddr>,
    /// The server name sent.
    pub server_name: Option<&'static str>,
    /// The answer.
    pub answer: Answer,
}

/// A credential's live state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LiveState {
    /// The component uses the file on disk.
    InUse,
    /// The component is not running (nothing listens, no process).
    NotRunning,
    /// The component uses an older version: it must restart to load the file.
    Stale,
    /// kubecred cannot tell; the reason says why.
    Unknown,
}

impl LiveState {
    /// Every state, in metric order.
    pub const ALL: [Self; 4] = [Self::InUse, Self::NotRunning, Self::Stale, Self::Unknown];

    /// The kebab-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InUse => "in-use",
            Self::NotRunning => "not-running",
            Self::Stale => "stale",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for LiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential's live state and the evidence for it.
#[derive(Clone, Debug)]
pub struct LiveCredential {
    /// kubeadm's name.
    pub credential: &'static str,
    /// The component that uses it (and must restart when it is stale).
    pub component: Component,
    /// The state.
    pub state: LiveState,
    /// The host file compared, when the manifest names one kubecred can read.
    pub path: Option<PathBuf>,
    /// Why this state, one sentence.
    pub reason: String,
    /// How it was judged.
    pub how: Use,
    /// For served credentials: the not-after of what the endpoint serves.
    pub served_not_after: Option<OffsetDateTime>,
}

/// A component and what is known of its process.
#[derive(Clone, Debug)]
pub struct ComponentState {
    /// The component.
    pub component: Component,
    /// Its manifest, when the scan found one.
    pub manifest: Option<PathBuf>,
    /// Its process (the kubelet's is not looked for).
    pub running: Option<Running>,
}

/// The judged live state of the node.
#[derive(Clone, Debug)]
pub struct Live {
    /// The components in scope.
    pub components: Vec<ComponentState>,
    /// Every endpoint, asked or not, in plan order.
    pub endpoints: Vec<Endpoint>,
    /// Every credential a component uses, sorted by name.
    pub credentials: Vec<LiveCredential>,
}

impl Live {
    /// The states of the credentials one component uses.
    pub fn of(&self, component: Component) -> impl Iterator<Item = &LiveCredential> {
        self.credentials
            .iter()
            .filter(move |cred| cred.component == component)
    }

    /// How many credentials are in each state, in [`LiveState::ALL`] order.
    pub fn counts(&self) -> Vec<(LiveState, usize)> {
        LiveState::ALL
            .iter()
            .map(|state| {
                (
                    *state,
                    self.credentials
                        .iter()
                        .filter(|cred| cred.state == *state)
                        .count(),
                )
            })
            .collect()
    }

    /// The endpoint of a component's role, if it is in scope.
    pub fn endpoint(&self, component: Component, role: Role) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|endpoint| endpoint.component == component && endpoint.role == role)
    }
}

/// How much later than a process's computed start a file must have changed
/// to count as newer: the boot time `/proc/stat` gives is whole seconds.
const START_SLACK: Duration = Duration::SECOND;

/// Judges the observations of `plan`.
pub fn judge(inventory: &Inventory, plan: &Plan, seen: &Observations) -> Live {
    let mut endpoints: Vec<Endpoint> = seen
        .probes
        .iter()
        .map(|(target, outcome)| Endpoint {
            component: target.component,
            role: target.role,
            address: Some(target.address),
            server_name: target.server_name,
            answer: answer(outcome),
        })
        .collect();
    for (component, role, why) in &plan.unprobed {
        endpoints.push(Endpoint {
            component: *component,
            role: *role,
            address: None,
            server_name: None,
            answer: Answer::Skipped(why.clone()),
        });
    }
    endpoints.sort_by_key(|endpoint| (endpoint.component, endpoint.role));
    let components: Vec<ComponentState> = plan
        .components
        .iter()
        .map(|component| ComponentState {
            component: *component,
            manifest: inventory.static_pod(*component).map(|pod| pod.path.clone()),
            running: (*component != Component::Kubelet).then(|| {
                running(
                    inventory
                        .static_pod(*component)
                        .and_then(crate::domain::model::StaticPod::pod),
                    *component,
                    &seen.processes,
                )
            }),
        })
        .collect();
    let credentials = plan
        .usages
        .iter()
        .map(|usage| {
            let running = components
                .iter()
                .find(|state| state.component == usage.component)
                .and_then(|state| state.running.as_ref());
            credential(inventory, usage, seen, &endpoints, running)
        })
        .collect();
    Live {
        components,
        endpoints,
        credentials,
    }
}

fn answer(outcome: &Outcome) -> Answer {
    match outcome {
        Outcome::Served(chain) => match chain.first() {
            None => Answer::Failed("the server sent no certificate".into()),
            Some(der) => match Certificate::from_der(der) {
                Ok(leaf) => Answer::Served {
                    leaf: Box::new(leaf),
                    chain: chain.len(),
                },
                Err(why) => Answer::Failed(format!("the served certificate does not parse: {why}")),
            },
        },
        Outcome::Refused => Answer::Refused,
        Outcome::TimedOut => Answer::TimedOut,
        Outcome::Failed(why) => Answer::Failed(why.clone()),
        Outcome::Skipped(why) => Answer::Skipped(why.clone()),
    }
}

/// Finds a component's process: the one running exactly the manifest's
/// command, else the only one of that program.
fn running(
    pod: Option<&Pod>,
    component: Component,
    processes: &Result<Vec<Process>, String>,
) -> Running {
    let processes = match processes {
        Ok(processes) => processes,
        Err(why) => return Running::Unknown(why.clone()),
    };
    let program = component.as_str();
    let named: Vec<&Process> = processes
        .iter()
        .filter(|process| {
            process
                .argv
                .first()
                .and_then(|arg0| Path::new(arg0).file_name())
                .is_some_and(|name| name == program)
        })
        .collect();
    let exact: Vec<&&Process> = named
        .iter()
        .filter(|process| pod.is_some_and(|pod| process.argv == pod.command))
        .collect();
    let found = |process: &Process, exact: bool| Running::Process {
        pid: process.pid,
        started: process.started.clone(),
        exact,
    };
    match (exact.as_slice(), named.as_slice()) {
        ([one], _) => found(one, true),
        ([], [one]) => found(one, false),
        ([], []) => Running::Absent,
        (many, _) if !many.is_empty() => Running::Ambiguous(many.iter().map(|p| p.pid).collect()),
        (_, many) => Running::Ambiguous(many.iter().map(|p| p.pid).collect()),
    }
}

fn credential(
    inventory: &Inventory,
    usage: &Usage,
    seen: &Observations,
    endpoints: &[Endpoint],
    running: Option<&Running>,
) -> LiveCredential {
    let mut live = LiveCredential {
        credential: usage.credential,
        component: usage.component,
        state: LiveState::Unknown,
        path: usage.file.as_ref().ok().cloned(),
        reason: String::new(),
        how: usage.how,
        served_not_after: None,
    };
    let name = usage.component.as_str();
    let unknown = |mut live: LiveCredential, why: String| {
        live.state = LiveState::Unknown;
        live.reason = why;
        live
    };
    let path = match &usage.file {
        Ok(path) => path,
        Err(why) => return unknown(live, format!("{name}: {why}")),
    };
    let shown = crate::domain::exact::path(path);
    let facts = seen
        .files
        .iter()
        .find(|(file, _)| file == path)
        .map(|(_, facts)| facts);
    let certificate = match facts
        .map(|facts| facts.certificate.clone())
        .or_else(|| inventory_certificate(inventory, path).map(Ok))
    {
        Some(Ok(certificate)) => certificate,
        Some(Err(why)) => return unknown(live, format!("{shown}: {why}")),
        None => return unknown(live, format!("{shown} was not read")),
    };
    match usage.how {
        Use::Served(role) => {
            let Some(endpoint) = endpoints
                .iter()
                .find(|endpoint| endpoint.component == usage.component && endpoint.role == role)
            else {
                return unknown(
                    live,
                    format!("the {} endpoint of {name} was not probed", role.as_str()),
                );
            };
            let at = endpoint
                .address
                .map_or_else(|| "its endpoint".to_owned(), |address| address.to_string());
            match &endpoint.answer {
                Answer::Served { leaf, .. } => {
                    live.served_not_after = Some(leaf.not_after);
                    if leaf.fingerprint == certificate.fingerprint {
                        live.state = LiveState::InUse;
                        live.reason = format!("{name} serves {shown} at {at}");
                    } else {
                        live.state = LiveState::Stale;
                        live.reason = format!(
                            "{name} serves another certificate at {at} (serial {}, expires {}) than {shown} (serial {}): restart {name} to serve it",
                            leaf.serial,
                            date(leaf.not_after),
                            certificate.serial
                        );
                    }
                    live
                }
                Answer::Refused => {
                    if let Some(Running::Process { pid, .. }) = running {
                        unknown(
                            live,
                            format!(
                                "{name} runs (pid {pid}) but nothing listens at {at} (starting or stopping?)"
                            ),
                        )
                    } else {
                        live.state = LiveState::NotRunning;
                        live.reason = format!("nothing listens at {at}: {name} is not running");
                        live
                    }
                }
                Answer::TimedOut => unknown(
                    live,
                    format!(
                        "{at} sent no certificate within {} s",
                        PROBE_TIMEOUT.as_secs()
                    ),
                ),
                Answer::Failed(why) => unknown(live, format!("TLS with {at} failed: {why}")),
                Answer::Skipped(why) => unknown(live, format!("{name}: {why}")),
            }
        }
        Use::Loaded(reload) => {
            let modified = match facts.map(|facts| &facts.modified) {
                Some(Ok(modified)) => *modified,
                Some(Err(why)) => return unknown(live, format!("{shown}: {why}")),
                None => return unknown(live, format!("{shown} was not looked at")),
            };
            let (pid, started, exact) = match running {
                Some(Running::Process {
                    pid,
                    started,
                    exact,
                }) => (*pid, started, *exact),
                Some(Running::Absent) => {
                    live.state = LiveState::NotRunning;
                    live.reason = format!("no {name} process runs on the node");
                    return live;
                }
                Some(Running::Ambiguous(pids)) => {
                    return unknown(
                        live,
                        format!(
                            "{} {name} processes run ({}), none with the manifest's command",
                            pids.len(),
                            pids.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                Some(Running::Unknown(why)) => return unknown(live, why.clone()),
                None => return unknown(live, format!("{name}'s process was not looked for")),
            };
            let started = match started {
                Ok(started) => *started,
                Err(why) => {
                    return unknown(
                        live,
                        format!("the start of {name} (pid {pid}) is unknown: {why}"),
                    );
                }
            };
            let process = if exact {
                format!("{name} (pid {pid}, started {})", date(started))
            } else {
                format!(
                    "{name} (pid {pid}, found by program name, started {})",
                    date(started)
                )
            };
            let newer = started
                .checked_add(START_SLACK)
                .is_none_or(|limit| modified > limit)
                || certificate.not_before > started;
            live.state = LiveState::InUse;
            live.reason = match (reload, newer) {
                (_, false) => format!("{process} after {shown} was written ({})", date(modified)),
                (Reload::AtStart, true) => {
                    live.state = LiveState::Stale;
                    format!(
                        "{process} before {shown} changed ({}, certificate valid from {}): it still uses the certificate it read at start; restart {name}",
                        date(modified),
                        date(certificate.not_before)
                    )
                }
                (Reload::OnChange, true) => {
                    format!("{shown} changed after {process}; {name} reloads it when it changes")
                }
                (Reload::PerConnection, true) => format!(
                    "{shown} changed after {process}; {name} reads it for each new connection, so connections opened before {} keep the old certificate until they reconnect",
                    date(modified)
                ),
            };
            live
        }
    }
}

/// The certificate a credential file holds: the first of a PEM file, or a
/// kubeconfig's current client certificate when it is embedded.
pub fn certificate_in(bytes: &[u8], path: &Path) -> Result<Certificate, String> {
    let is_pem = bytes.windows(11).any(|window| window == b"-----BEGIN ");
    let pem_bytes = if is_pem {
        bytes.to_vec()
    } else {
        let config = Kubeconfig::parse(bytes)?;
        let dir = path.parent().unwrap_or_else(|| Path::new("/"));
        match config.current_credentials(dir)?.certificate {
            Some(Source::Embedded { pem, .. }) => pem,
            Some(Source::File(file)) => {
                return Err(format!(
                    "its client certificate is in another file, {}",
                    crate::domain::exact::path(&file)
                ));
            }
            None => return Err("its current user has no client certificate".into()),
        }
    };
    let blocks = pem::parse(&pem_bytes)?;
    let block = blocks
        .iter()
        .find(|block| block.kind == BlockKind::Certificate)
        .ok_or("no certificate in the file")?;
    Certificate::from_der(&block.der)
}

/// The certificate of the inventory's credential at `path`, if the scan read one there.
fn inventory_certificate(inventory: &Inventory, path: &Path) -> Option<Certificate> {
    inventory
        .credentials
        .iter()
        .find(|cred| cred.path == path)
        .and_then(|cred| cred.material())
        .map(|material| material.certificate.clone())
}

/// The findings of a judged node.
pub fn findings(live: &Live, now: OffsetDateTime, thresholds: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for cred in &live.credentials {
        if cred.state != LiveState::Stale {
            continue;
        }
        let name = cred.component.as_str();
        let remedy = format!(
            "restart {name} (move its manifest out of the manifests folder until it stops, then back), then run `kubecred check --live` again"
        );
        let (code, severity) = match cred.how {
            Use::Served(_) => {
                let soon = cred
                    .served_not_after
                    .is_some_and(|not_after| not_after - now <= thresholds.crit);
                (
                    Code::ServedCertificateStale,
                    if soon {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                )
            }
            Use::Loaded(_) => (Code::ComponentNotRestarted, Severity::Warning),
        };
        out.push(Finding {
            code,
            severity,
            credential: cred.credential.to_owned(),
            path: cred.path.clone().unwrap_or_default(),
            message: cred.reason.clone(),
            remedy,
        });
    }
    if let Some(Endpoint {
        answer: Answer::Served { leaf, .. },
        ..
    }) = live.endpoint(Component::KubeApiserver, Role::Loopback)
    {
        let remaining = leaf.not_after - now;
        let severity = if remaining <= thresholds.crit {
            Some(Severity::Critical)
        } else if remaining <= thresholds.warn {
            Some(Severity::Warning)
        } else {
            None
        };
        if let Some(severity) = severity {
            let when = if remaining.is_positive() {
                format!("expires {} (in {})", date(leaf.not_after), left(remaining))
            } else {
                format!("expired {}", date(leaf.not_after))
            };
            out.push(Finding {
                code: Code::LoopbackCertificateExpiresSoon,
                severity,
                credential: LOOPBACK_CREDENTIAL.to_owned(),
                path: live
                    .components
                    .iter()
                    .find(|state| state.component == Component::KubeApiserver)
                    .and_then(|state| state.manifest.clone())
                    .unwrap_or_default(),
                message: format!(
                    "kube-apiserver's in-memory loopback certificate {when}: it is made at start and never renewed, and kube-apiserver's calls to itself fail once it expires"
                ),
                remedy: format!(
                    "restart kube-apiserver before {}: it makes a new loopback certificate when it starts",
                    date(leaf.not_after)
                ),
            });
        }
    }
    out
}

/// The findings about the manifests themselves: one that cannot be used is
/// `malformed` (the kubelet cannot run that component from it).
pub fn manifest_findings(inventory: &Inventory) -> Vec<Finding> {
    inventory
        .static_pods
        .iter()
        .filter_map(|pod| match &pod.state {
            FileRead::Malformed { path, reason } => Some(Finding {
                code: Code::Malformed,
                severity: Severity::Critical,
                credential: manifest_name(pod.component),
                path: path.clone(),
                message: format!("{}: {reason}", path.display()),
                remedy: format!(
                    "restore the manifest from a backup: the kubelet cannot run {} from it",
                    pod.component.as_str()
                ),
            }),
            _ => None,
        })
        .collect()
}

/// How findings name a component's manifest: `manifests/etcd.yaml`.
pub fn manifest_name(component: Component) -> String {
    format!(
        "{}/{}",
        manifest::MANIFESTS_DIR,
        component.manifest_file().unwrap_or_default()
    )
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
