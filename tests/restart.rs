//! `renew --restart=auto` against a fake kubelet: a thread that watches the
//! manifests folder and, as a manifest disappears and comes back, stops and
//! starts the test double of its component (tests/common/live.rs) and its
//! entry in a fake `/proc`, logging each stop and start. Every probe stays on
//! loopback and every wait is bounded.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration as StdDuration, Instant};

use common::live::{Double, FakeProc, Source, closed_port, touch};
use common::{Run, kubecred_with_env, now, state_dir};
use kubecred::domain::demo::{self, AdminLayout, Manifests};
use kubecred::domain::manifest::{Component, Pod};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const RESTARTED: [Component; 3] = [
    Component::KubeApiserver,
    Component::KubeControllerManager,
    Component::KubeScheduler,
];

/// A generated node with kubeadm's manifests on closed loopback ports, its
/// credential files written two hours ago (test time).
struct Node {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("node");
        let mut spec = common::spec(AdminLayout::Init129);
        let issued = now() - Duration::days(30);
        spec.leaf_validity = (issued, issued + Duration::days(365));
        let mut manifests = Manifests::kubeadm(&root);
        manifests.etcd_data_dir = PathBuf::from("/var/lib/etcd");
        manifests.advertise = IpAddr::from([127, 0, 0, 2]);
        manifests.apiserver_port = closed_port();
        manifests.etcd_ports = (closed_port(), closed_port(), closed_port());
        manifests.secure_ports = Some((closed_port(), closed_port()));
        spec.manifests = Some(manifests);
        kubecred::edge::apply::tree::write(&root, &demo::generate(&spec).unwrap()).unwrap();
        let node = Self {
            dir,
            state: state_dir(),
        };
        for rel in [
            "pki/apiserver.crt",
            "pki/apiserver-kubelet-client.crt",
            "pki/apiserver-etcd-client.crt",
            "pki/front-proxy-client.crt",
            "controller-manager.conf",
            "scheduler.conf",
        ] {
            touch(&node.file(rel), now() - Duration::hours(2));
        }
        node
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn manifest(&self, component: Component) -> PathBuf {
        self.root()
            .join("manifests")
            .join(component.manifest_file().unwrap())
    }

    fn pod(&self, component: Component) -> Pod {
        Pod::parse(&fs::read(self.manifest(component)).unwrap(), component).unwrap()
    }

    fn port(&self, component: Component) -> u16 {
        let pod = self.pod(component);
        pod.flag("secure-port").unwrap().parse().unwrap()
    }

    fn global(&self) -> Vec<String> {
        vec![
            "--kubernetes-dir".into(),
            self.root().display().to_string(),
            "--state-dir".into(),
            self.state.path().display().to_string(),
            "--no-copies".into(),
        ]
    }
}

/// One component the fake kubelet runs: its double and its fake process.
struct Running {
    _double: Double,
    pid: u32,
}

/// The fake kubelet: looks at the manifests folder every 20 ms and starts or
/// stops each component's double (and `/proc` entry) to match.
struct Kubelet {
    proc: Arc<FakeProc>,
    endpoint: Double,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// What a double serves, as the real component does for certificates.
fn source(root: &Path, component: Component) -> Source {
    match component {
        // kube-apiserver serves its files as they are on every handshake.
        Component::KubeApiserver => Source::Files(
            root.join("pki/apiserver.crt"),
            root.join("pki/apiserver.key"),
        ),
        // controller-manager and scheduler serve an in-memory certificate.
        _ => Source::in_memory("localhost@1764158400", now() + Duration::days(364)),
    }
}

/// When a process the fake kubelet starts now started: after anything written so far.
fn started_now() -> OffsetDateTime {
    OffsetDateTime::now_utc().max(now()) + Duration::seconds(1)
}

impl Kubelet {
    /// Starts the kubelet with every component running since an hour ago;
    /// `never_back` is not started again once stopped.
    fn start(node: &Node, never_back: Option<Component>) -> Self {
        Self::start_with(node, never_back, None)
    }

    /// As [`Kubelet::start`]; `unready` comes back serving but its `/livez`
    /// and `/readyz` never answer OK.
    fn start_with(node: &Node, never_back: Option<Component>, unready: Option<Component>) -> Self {
        let proc = Arc::new(FakeProc::new(now() - Duration::days(10)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = node.root();
        let mut running: Vec<(Component, Option<Running>)> = Vec::new();
        let mut next_pid = 1000;
        for component in RESTARTED {
            next_pid += 1;
            let double = Double::tls(
                &format!("127.0.0.1:{}", node.port(component)),
                source(&root, component),
            );
            proc.add(
                next_pid,
                &node.pod(component).command,
                now() - Duration::hours(1),
            );
            running.push((
                component,
                Some(Running {
                    _double: double,
                    pid: next_pid,
                }),
            ));
        }
        let ports: Vec<(Component, u16, Vec<String>)> = RESTARTED
            .iter()
            .map(|c| (*c, node.port(*c), node.pod(*c).command))
            .collect();
        let (proc2, log2, stop2) = (proc.clone(), log.clone(), stop.clone());
        let manifests = root.join("manifests");
        let handle = thread::spawn(move || {
            let mut stopped_once: Vec<Component> = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                for (component, slot) in &mut running {
                    let present = manifests.join(component.manifest_file().unwrap()).exists();
                    match (present, slot.is_some()) {
                        (false, true) => {
                            let gone = slot.take().unwrap();
                            proc2.remove(gone.pid);
                            drop(gone);
                            stopped_once.push(*component);
                            log2.lock().unwrap().push(format!("stop {component}"));
                        }
                        (true, false) => {
                            if never_back == Some(*component) && stopped_once.contains(component) {
                                continue;
                            }
                            let (_, port, command) =
                                ports.iter().find(|(c, _, _)| c == component).unwrap();
                            next_pid += 1;
                            let address = format!("127.0.0.1:{port}");
                            let files = source(manifests.parent().unwrap(), *component);
                            let double = if unready == Some(*component) {
                                Double::tls_unready(&address, files)
                            } else {
                                Double::tls(&address, files)
                            };
                            proc2.add(next_pid, command, started_now());
                            *slot = Some(Running {
                                _double: double,
                                pid: next_pid,
                            });
                            log2.lock().unwrap().push(format!("start {component}"));
                        }
                        _ => {}
                    }
                }
                thread::sleep(StdDuration::from_millis(20));
            }
        });
        let kubelet = Double::tls(
            "127.0.0.1:0",
            Source::in_memory("cp-1@1764158400", now() + Duration::days(300)),
        );
        Self {
            proc,
            endpoint: kubelet,
            log,
            stop,
            handle: Some(handle),
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn vars(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            (
                "KUBECRED_TEST_PROBE_MAP",
                format!("127.0.0.1:10250=127.0.0.1:{}", self.endpoint.port()).into(),
            ),
            ("KUBECRED_TEST_PROC_ROOT", self.proc.path().into()),
            ("KUBECRED_TEST_FILE_CHECK_MS", "300".into()),
        ]
    }

    fn run(&self, node: &Node, command: &[&str]) -> Run {
        let mut args = node.global();
        args.extend(command.iter().map(|arg| (*arg).to_owned()));
        let vars = self.vars();
        let vars: Vec<(&str, &OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        kubecred_with_env(&args, &vars)
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

const RENEWED: [&str; 4] = [
    "apiserver",
    "apiserver-kubelet-client",
    "controller-manager.conf",
    "scheduler.conf",
];

fn live_states(run: &Run) -> Vec<(String, String)> {
    let json: Value = run.json();
    json["live"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| RENEWED.contains(&c["credential"].as_str().unwrap()))
        .map(|c| {
            (
                c["credential"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn manifests(node: &Node) -> Vec<(PathBuf, Vec<u8>, u32)> {
    kubecred::domain::manifest::STATIC_PODS
        .iter()
        .map(|c| {
            let path = node.manifest(*c);
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            (path.clone(), fs::read(&path).unwrap(), mode)
        })
        .collect()
}

#[test]
fn renewed_without_restart_is_stale_and_the_default_only_names_the_components() {
    let node = Node::new();
    let kubelet = Kubelet::start(&node, None);
    let mut renew = vec!["renew"];
    renew.extend(RENEWED);
    renew.push("--yes");
    let run = kubelet.run(&node, &renew);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("You must restart"), "{}", run.stderr);
    for rel in [
        "pki/apiserver.crt",
        "pki/apiserver-kubelet-client.crt",
        "controller-manager.conf",
        "scheduler.conf",
    ] {
        touch(&node.file(rel), now() - Duration::minutes(1));
    }
    let check = kubelet.run(&node, &["check", "-o", "json", "--live"]);
    assert_eq!(
        live_states(&check),
        common::pairs(&[
            ("apiserver", "in-use"),
            ("apiserver-kubelet-client", "stale"),
            ("controller-manager.conf", "stale"),
            ("scheduler.conf", "stale"),
        ]),
        "{}",
        check.stderr
    );
    assert!(kubelet.log().is_empty(), "{:?}", kubelet.log());
}

#[test]
fn restart_auto_restarts_each_component_that_must_once_in_order_and_each_uses_the_new_files() {
    let node = Node::new();
    let kubelet = Kubelet::start(&node, None);
    let before = manifests(&node);
    let mut renew = vec!["renew"];
    renew.extend(RENEWED);
    renew.extend(["--yes", "--restart=auto", "--restart-timeout", "30s"]);
    let run = kubelet.run(&node, &renew);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        kubelet.log(),
        [
            "stop kube-apiserver",
            "start kube-apiserver",
            "stop kube-controller-manager",
            "start kube-controller-manager",
            "stop kube-scheduler",
            "start kube-scheduler",
        ],
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("restarted kube-scheduler (its process ended"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("You must restart"), "{}", run.stderr);
    assert_eq!(
        manifests(&node),
        before,
        "every manifest is back, byte for byte"
    );
    let check = kubelet.run(&node, &["check", "-o", "json", "--live"]);
    assert_eq!(
        live_states(&check),
        common::pairs(&[
            ("apiserver", "in-use"),
            ("apiserver-kubelet-client", "in-use"),
            ("controller-manager.conf", "in-use"),
            ("scheduler.conf", "in-use"),
        ]),
        "{}",
        check.stderr
    );
    assert!(!node.state.path().join("journal").exists());
}

#[test]
fn what_reloads_is_not_restarted() {
    let node = Node::new();
    let kubelet = Kubelet::start(&node, None);
    let run = kubelet.run(
        &node,
        &[
            "renew",
            "apiserver",
            "front-proxy-client",
            "apiserver-etcd-client",
            "etcd-server",
            "etcd-peer",
            "--yes",
            "--restart=auto",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("no component needs a restart"),
        "{}",
        run.stderr
    );
    assert!(kubelet.log().is_empty(), "{:?}", kubelet.log());
}

#[test]
fn a_component_that_never_comes_back_fails_the_run_naming_it_with_its_manifest_restored() {
    let node = Node::new();
    let kubelet = Kubelet::start(&node, Some(Component::KubeControllerManager));
    let before = manifests(&node);
    let mut renew = vec!["renew"];
    renew.extend(RENEWED);
    renew.extend(["--yes", "--restart=auto", "--restart-timeout", "3s"]);
    let started = Instant::now();
    let run = kubelet.run(&node, &renew);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(started.elapsed() < StdDuration::from_secs(20));
    assert!(
        run.stderr.contains(
            "kube-controller-manager did not come back with the renewed credentials within 3 s"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("not restarted: kube-controller-manager, kube-scheduler"),
        "{}",
        run.stderr
    );
    assert_eq!(
        manifests(&node),
        before,
        "the manifest is back, byte for byte"
    );
    let log = kubelet.log();
    assert_eq!(
        log,
        [
            "stop kube-apiserver",
            "start kube-apiserver",
            "stop kube-controller-manager",
        ]
    );
}

/// `renew --restart=auto` started in the background against a kube-apiserver
/// that never stops: returned once its manifest is out of the folder, where
/// it stays until the run is signalled.
fn renew_held_out(
    node: &Node,
    kubelet_vars: &[(&'static str, std::ffi::OsString)],
) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    command
        .args(node.global())
        .args([
            "renew",
            "apiserver-kubelet-client",
            "--yes",
            "--restart=auto",
        ])
        .args(["--restart-timeout", "60s"])
        .env(
            "KUBECRED_TEST_NOW",
            now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        )
        .env_remove("KUBECRED_RENEW_RESTART")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in kubelet_vars {
        command.env(key, value);
    }
    let child = command.spawn().unwrap();
    let manifest = node.manifest(Component::KubeApiserver);
    let start = Instant::now();
    while manifest.exists() {
        assert!(
            start.elapsed() < StdDuration::from_secs(30),
            "the manifest never moved out"
        );
        thread::sleep(StdDuration::from_millis(20));
    }
    child
}

/// A fake `/proc` where kube-apiserver runs and never stops (no kubelet acts).
fn never_stopping(node: &Node) -> (FakeProc, Vec<(&'static str, std::ffi::OsString)>) {
    let proc = FakeProc::new(now() - Duration::days(10));
    proc.add(
        4242,
        &node.pod(Component::KubeApiserver).command,
        now() - Duration::hours(1),
    );
    let vars = vec![
        (
            "KUBECRED_TEST_PROBE_MAP",
            format!("127.0.0.1:10250=127.0.0.1:{}", closed_port()).into(),
        ),
        ("KUBECRED_TEST_PROC_ROOT", proc.path().into()),
    ];
    (proc, vars)
}

#[test]
fn sigkill_while_a_manifest_is_out_is_repaired_by_the_next_run() {
    let node = Node::new();
    let before = manifests(&node);
    let (_proc, vars) = never_stopping(&node);
    let mut child = renew_held_out(&node, &vars);
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(!node.manifest(Component::KubeApiserver).exists());
    assert!(node.state.path().join("journal").exists());
    let mut args = node.global();
    args.push("recover".into());
    let run = kubecred_with_env(&args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        manifests(&node),
        before,
        "put back byte for byte, mode kept"
    );
    assert!(!node.state.path().join("journal").exists());
}

#[test]
fn sigterm_while_a_manifest_is_out_puts_it_back_before_exiting() {
    let node = Node::new();
    let before = manifests(&node);
    let (_proc, vars) = never_stopping(&node);
    let child = renew_held_out(&node, &vars);
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while restarting kube-apiserver"),
        "{stderr}"
    );
    assert_eq!(manifests(&node), before);
    assert!(!node.state.path().join("journal").exists());
}

#[test]
fn a_kube_apiserver_that_serves_but_is_never_ready_fails_the_run_with_its_manifest_restored() {
    let node = Node::new();
    let kubelet = Kubelet::start_with(&node, None, Some(Component::KubeApiserver));
    let before = manifests(&node);
    let run = kubelet.run(
        &node,
        &[
            "renew",
            "apiserver-kubelet-client",
            "--yes",
            "--restart=auto",
            "--restart-timeout",
            "3s",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("kube-apiserver /livez: /livez answered `HTTP/1.1 503 Service Unavailable`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        manifests(&node),
        before,
        "the manifest is back, byte for byte"
    );
    assert_eq!(
        kubelet.log(),
        ["stop kube-apiserver", "start kube-apiserver"]
    );
}
