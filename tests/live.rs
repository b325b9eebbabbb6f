//! `check --live` and `inspect --live` against running components: a real
//! etcd (Debian's etcd-server) on loopback ports, and for the components this
//! machine cannot run, test doubles that load their certificates as the real
//! ones do (tests/common/live.rs), with a fake `/proc` saying since when each
//! runs. Every probe stays on loopback (the probe map makes kubecred refuse
//! anything else) and every wait is bounded; times are the fixed test clock's.

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
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::live::{
    Behaviour, Double, Etcd, FakeProc, Source, closed_port, openssl_fingerprint, served_by_openssl,
    touch,
};
use common::{Run, judge, kubecred_with_env, now, state_dir};
use kubecred::domain::demo::{self, AdminLayout, Manifests};
use kubecred::domain::manifest::{Component, Pod};
use serde_json::Value;
use time::Duration;

/// A generated 1.29 node (ECDSA, the fixed clock) with its static pod
/// manifests, whose leaves were issued 30 days ago.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(manifests: impl FnOnce(&Path) -> Manifests) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("node");
        let mut spec = common::spec(AdminLayout::Init129);
        let issued = now() - Duration::days(30);
        spec.leaf_validity = (issued, issued + Duration::days(365));
        spec.manifests = Some(manifests(&root));
        kubecred::edge::apply::tree::write(&root, &demo::generate(&spec).unwrap()).unwrap();
        Self { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn pod(&self, component: Component) -> Pod {
        let path = self
            .root()
            .join("manifests")
            .join(component.manifest_file().unwrap());
        Pod::parse(&fs::read(path).unwrap(), component).unwrap()
    }

    /// `kubecred [global] COMMAND --live ARGS...` with the probe map (and a fake /proc).
    fn live(&self, command: &[&str], map: &str, proc: Option<&Path>) -> Run {
        let root = self.root().display().to_string();
        let mut args = vec!["--kubernetes-dir", root.as_str(), "--no-copies"];
        args.extend_from_slice(command);
        args.push("--live");
        let mut vars: Vec<(&str, &OsStr)> = vec![("KUBECRED_TEST_PROBE_MAP", OsStr::new(map))];
        if let Some(proc) = proc {
            vars.push(("KUBECRED_TEST_PROC_ROOT", proc.as_os_str()));
        }
        kubecred_with_env(&args, &vars)
    }

    fn renew(&self, names: &[&str]) {
        let state = state_dir();
        let root = self.root().display().to_string();
        let state_path = state.path().display().to_string();
        let mut args = vec![
            "--kubernetes-dir",
            root.as_str(),
            "--state-dir",
            state_path.as_str(),
            "renew",
        ];
        args.extend_from_slice(names);
        args.push("--yes");
        let run = kubecred_with_env(&args, &[]);
        assert_eq!(run.code, 0, "renew: {}", run.stderr);
    }
}

/// The node's manifests with every port a closed loopback port and etcd's
/// advertise address 127.0.0.2, all paths as kubeadm's unless `same_paths`
/// (the pods then see the tree's own paths, so a real etcd can run the command).
fn manifests(root: &Path, same_paths: bool, data: PathBuf) -> Manifests {
    let mut spec = Manifests::kubeadm(root);
    if same_paths {
        spec.pod_kubernetes_dir = root.to_path_buf();
        spec.pod_cert_dir = root.join("pki");
    }
    spec.etcd_data_dir = data;
    spec.advertise = IpAddr::from([127, 0, 0, 2]);
    spec.apiserver_port = closed_port();
    spec.etcd_ports = (closed_port(), closed_port(), closed_port());
    spec.secure_ports = Some((closed_port(), closed_port()));
    spec
}

/// The probe map: the kubelet's port to `kubelet` (a closed port by default).
fn map(kubelet: Option<u16>) -> String {
    format!(
        "127.0.0.1:10250=127.0.0.1:{}",
        kubelet.unwrap_or_else(closed_port)
    )
}

fn live_state(json: &Value, credential: &str) -> (String, String) {
    let cred = json["live"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["credential"] == credential)
        .unwrap_or_else(|| panic!("no live state for {credential} in {json:#}"));
    (
        cred["state"].as_str().unwrap().to_owned(),
        cred["reason"].as_str().unwrap().to_owned(),
    )
}

fn states(json: &Value) -> Vec<(String, String)> {
    json["live"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["credential"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    common::pairs(list)
}

fn endpoint<'a>(json: &'a Value, component: &str, role: &str) -> &'a Value {
    json["live"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["component"] == component && e["endpoint"] == role)
        .unwrap_or_else(|| panic!("no endpoint {component} {role}"))
}

fn live_codes(json: &Value) -> Vec<(String, String)> {
    common::codes(json)
        .into_iter()
        .filter(|(_, code)| {
            matches!(
                code.as_str(),
                "served-certificate-stale"
                    | "component-not-restarted"
                    | "loopback-certificate-expires-soon"
            )
        })
        .collect()
}

/// openssl's fingerprint as kubecred prints fingerprints.
fn fingerprint_of(pem: &[u8]) -> String {
    openssl_fingerprint(pem)
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

#[test]
fn a_real_etcd_serves_its_renewed_certificates_on_the_next_handshake_without_a_restart() {
    let node = Node::new(|root| {
        let data = root.parent().unwrap().join("etcd-data");
        manifests(root, true, data)
    });
    let pod = node.pod(Component::Etcd);
    let client: SocketAddr = format!("127.0.0.1:{}", manifests_port(&pod, "listen-client-urls"))
        .parse()
        .unwrap();
    let peer: SocketAddr = format!("127.0.0.2:{}", manifests_port(&pod, "listen-peer-urls"))
        .parse()
        .unwrap();
    let mut etcd = Etcd::start(&pod.command, node.dir.path().join("etcd.log"), client);
    let pid = etcd.pid();

    let run = node.live(&["check", "-o", "json"], &map(None), None);
    let json = run.json();
    assert_eq!(
        states(&json),
        pairs(&[
            ("apiserver", "not-running"),
            ("apiserver-etcd-client", "not-running"),
            ("apiserver-kubelet-client", "not-running"),
            ("controller-manager.conf", "not-running"),
            ("etcd-peer", "in-use"),
            ("etcd-server", "in-use"),
            ("front-proxy-client", "not-running"),
            ("scheduler.conf", "not-running"),
        ]),
        "{}",
        run.stderr
    );
    let etcd_state = json["live"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "etcd")
        .unwrap();
    assert_eq!(etcd_state["process"]["pid"], pid);
    assert_eq!(etcd_state["process"]["matchedBy"], "command");
    let old_server = fs::read(node.file("pki/etcd/server.crt")).unwrap();
    assert_eq!(
        endpoint(&json, "etcd", "client")["certificate"]["fingerprintSha256"],
        fingerprint_of(&old_server).as_str()
    );

    node.renew(&["etcd-server", "etcd-peer"]);
    let new_server = fs::read(node.file("pki/etcd/server.crt")).unwrap();
    let new_peer = fs::read(node.file("pki/etcd/peer.crt")).unwrap();
    assert_ne!(new_server, old_server);

    // The answer, recorded: etcd 3.4 reads its certificate and key files on
    // every handshake, so the very next one gets the renewed certificate, from
    // the same process. openssl, not kubecred, says what is served.
    assert_eq!(
        fingerprint_of(served_by_openssl(client, None).as_bytes()),
        fingerprint_of(&new_server)
    );
    assert_eq!(
        fingerprint_of(served_by_openssl(peer, None).as_bytes()),
        fingerprint_of(&new_peer)
    );
    assert!(etcd.running(), "etcd stopped");
    assert_eq!(etcd.pid(), pid);

    // And kubecred agrees: in use, no finding, no restart asked for.
    let json = node.live(&["check", "-o", "json"], &map(None), None).json();
    assert_eq!(live_state(&json, "etcd-server").0, "in-use");
    assert_eq!(live_state(&json, "etcd-peer").0, "in-use");
    assert_eq!(
        endpoint(&json, "etcd", "peer")["certificate"]["fingerprintSha256"],
        fingerprint_of(&new_peer).as_str()
    );
    assert!(live_codes(&json).is_empty(), "{json:#}");
}

/// The port of the first URL of an etcd listen flag.
fn manifests_port(pod: &Pod, flag: &str) -> u16 {
    let urls = pod.flag(flag).unwrap();
    let first = urls.split(',').next().unwrap();
    first.rsplit(':').next().unwrap().parse().unwrap()
}

/// A node with doubles for kube-apiserver (serving its files, reloaded per
/// handshake, and an in-memory loopback certificate), controller-manager and
/// scheduler (in-memory serving certificates: their kubeconfigs are loaded
/// at start), the kubelet, and a fake /proc where each started an hour ago.
struct Doubles {
    node: Node,
    proc: FakeProc,
    scheduler: Option<Double>,
    kubelet: Double,
    /// The others, kept running until the test ends.
    _running: Vec<Double>,
}

const APISERVER_PID: u32 = 1001;
const CONTROLLER_MANAGER_PID: u32 = 1002;
const SCHEDULER_PID: u32 = 1003;

impl Doubles {
    fn start(apiserver_serving: fn(&Path) -> Source) -> Self {
        let now = now();
        let ports = std::cell::Cell::new((0, 0, 0));
        let node = Node::new(|root| {
            let spec = manifests(root, false, PathBuf::from("/var/lib/etcd"));
            ports.set((
                spec.apiserver_port,
                spec.secure_ports.unwrap().0,
                spec.secure_ports.unwrap().1,
            ));
            spec
        });
        let (apiserver_port, cm_port, scheduler_port) = ports.get();
        // Every credential file was written two hours ago; the components started one hour ago.
        for rel in [
            "pki/apiserver.crt",
            "pki/apiserver-kubelet-client.crt",
            "pki/apiserver-etcd-client.crt",
            "pki/front-proxy-client.crt",
            "controller-manager.conf",
            "scheduler.conf",
            "pki/etcd/server.crt",
            "pki/etcd/peer.crt",
        ] {
            touch(&node.file(rel), now - Duration::hours(2));
        }
        let root = node.root();
        let apiserver = Double::start(
            &format!("127.0.0.1:{apiserver_port}"),
            Behaviour::Tls {
                default: apiserver_serving(&root),
                by_name: vec![(
                    "apiserver-loopback-client".into(),
                    Source::in_memory(
                        "apiserver-loopback-client@1764158400",
                        now + Duration::days(20),
                    ),
                )],
            },
        );
        let controller_manager = Double::tls(
            &format!("127.0.0.1:{cm_port}"),
            Source::in_memory("localhost@1764158400", now + Duration::days(364)),
        );
        let scheduler = Double::tls(
            &format!("127.0.0.1:{scheduler_port}"),
            Source::in_memory("localhost@1764158400", now + Duration::days(364)),
        );
        let kubelet = Double::tls(
            "127.0.0.1:0",
            Source::in_memory("cp-1@1764158400", now + Duration::days(300)),
        );
        let proc = FakeProc::new(now - Duration::days(10));
        let started = now - Duration::hours(1);
        proc.add(
            APISERVER_PID,
            &node.pod(Component::KubeApiserver).command,
            started,
        );
        proc.add(
            CONTROLLER_MANAGER_PID,
            &node.pod(Component::KubeControllerManager).command,
            started,
        );
        proc.add(
            SCHEDULER_PID,
            &node.pod(Component::KubeScheduler).command,
            started,
        );
        Self {
            node,
            proc,
            scheduler: Some(scheduler),
            kubelet,
            _running: vec![apiserver, controller_manager],
        }
    }

    fn check(&self, format: &str, extra: &[&str]) -> Run {
        let mut command = vec!["check", "-o", format];
        command.extend_from_slice(extra);
        self.node.live(
            &command,
            &map(Some(self.kubelet.port())),
            Some(self.proc.path()),
        )
    }
}

fn reloading_files(root: &Path) -> Source {
    Source::Files(
        root.join("pki/apiserver.crt"),
        root.join("pki/apiserver.key"),
    )
}

fn loaded_once(root: &Path) -> Source {
    Source::loaded_once(
        &root.join("pki/apiserver.crt"),
        &root.join("pki/apiserver.key"),
    )
}

#[test]
fn renewed_but_not_restarted_is_stale_only_where_the_component_does_not_reload() {
    let mut doubles = Doubles::start(reloading_files);
    let run = doubles.check("json", &[]);
    let json = run.json();
    assert_eq!(
        states(&json),
        pairs(&[
            ("apiserver", "in-use"),
            ("apiserver-etcd-client", "in-use"),
            ("apiserver-kubelet-client", "in-use"),
            ("controller-manager.conf", "in-use"),
            ("etcd-peer", "not-running"),
            ("etcd-server", "not-running"),
            ("front-proxy-client", "in-use"),
            ("scheduler.conf", "in-use"),
        ]),
        "{}",
        run.stderr
    );
    // The loopback certificate expires in 20 days: a warning of its own.
    assert_eq!(
        live_codes(&json),
        pairs(&[("apiserver-loopback", "loopback-certificate-expires-soon")])
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        endpoint(&json, "kubelet", "serving")["state"],
        "served",
        "{json:#}"
    );

    // Renewed, not restarted. In test time the renewal happened a minute ago,
    // after every component started.
    let renewed = [
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "scheduler.conf",
    ];
    doubles.node.renew(&renewed);
    for rel in [
        "pki/apiserver.crt",
        "pki/apiserver-kubelet-client.crt",
        "pki/front-proxy-client.crt",
        "scheduler.conf",
    ] {
        touch(&doubles.node.file(rel), now() - Duration::minutes(1));
    }
    let json = doubles.check("json", &[]).json();
    assert_eq!(
        states(&json),
        pairs(&[
            // kube-apiserver serves its files as they are now...
            ("apiserver", "in-use"),
            ("apiserver-etcd-client", "in-use"),
            // ...but its kubelet client certificate is the one it read at start.
            ("apiserver-kubelet-client", "stale"),
            ("controller-manager.conf", "in-use"),
            ("etcd-peer", "not-running"),
            ("etcd-server", "not-running"),
            // It reloads the front proxy's.
            ("front-proxy-client", "in-use"),
            ("scheduler.conf", "stale"),
        ])
    );
    let (_, why) = live_state(&json, "apiserver-kubelet-client");
    assert!(why.contains("restart kube-apiserver"), "{why}");
    assert!(
        live_state(&json, "front-proxy-client")
            .1
            .contains("reloads it")
    );
    assert_eq!(
        live_codes(&json),
        pairs(&[
            ("apiserver-kubelet-client", "component-not-restarted"),
            ("apiserver-loopback", "loopback-certificate-expires-soon"),
            ("scheduler.conf", "component-not-restarted"),
        ])
    );
    assert!(
        common::message(&json, "scheduler.conf", "component-not-restarted")
            .contains("restart kube-scheduler")
    );

    // Stopped: nothing listens, no process.
    doubles.scheduler.take().unwrap().stop();
    doubles.proc.remove(SCHEDULER_PID);
    let json = doubles.check("json", &[]).json();
    assert_eq!(live_state(&json, "scheduler.conf").0, "not-running");
    assert_eq!(
        endpoint(&json, "kube-scheduler", "serving")["state"],
        "refused"
    );

    // Restarted after the renewal: in use.
    let port = doubles
        .node
        .pod(Component::KubeScheduler)
        .flag("secure-port")
        .unwrap()
        .to_owned();
    doubles.scheduler = Some(Double::tls(
        &format!("127.0.0.1:{port}"),
        Source::in_memory("localhost@1764158460", now() + Duration::days(365)),
    ));
    doubles.proc.add(
        1004,
        &doubles.node.pod(Component::KubeScheduler).command,
        now(),
    );
    let json = doubles.check("json", &[]).json();
    assert_eq!(live_state(&json, "scheduler.conf").0, "in-use");
    let scheduler = json["live"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "kube-scheduler")
        .unwrap();
    assert_eq!(scheduler["process"]["pid"], 1004);
}

#[test]
fn a_served_certificate_loaded_at_start_is_stale_after_a_renewal_and_critical_near_its_end() {
    let doubles = Doubles::start(loaded_once);
    assert_eq!(
        live_state(&doubles.check("json", &[]).json(), "apiserver").0,
        "in-use"
    );
    doubles.node.renew(&["apiserver"]);
    let json = doubles.check("json", &[]).json();
    let (state, why) = live_state(&json, "apiserver");
    assert_eq!(state, "stale");
    assert!(
        why.contains("serves another certificate at 127.0.0.1:"),
        "{why}"
    );
    let finding = common::finding(&json, "apiserver", "served-certificate-stale");
    assert_eq!(finding["severity"], "warning");
    // What it still serves expires within --crit: critical.
    let json = doubles
        .check("json", &["--warn", "400d", "--crit", "380d"])
        .json();
    let finding = common::finding(&json, "apiserver", "served-certificate-stale");
    assert_eq!(finding["severity"], "critical");
    assert_eq!(
        common::finding(
            &json,
            "apiserver-loopback",
            "loopback-certificate-expires-soon"
        )["severity"],
        "critical"
    );
    assert_eq!(json["exitCode"], 2);
}

#[test]
fn every_output_carries_the_live_state_and_its_judges_accept_it() {
    let doubles = Doubles::start(reloading_files);
    // Prometheus: promtool, not kubecred, judges the exposition.
    let run = doubles.check("prometheus", &[]);
    let (ok, said) = judge("promtool", &["check", "metrics"], run.stdout.as_bytes());
    assert!(ok, "promtool: {said}\n{}", run.stdout);
    assert!(run.stdout.contains(
        "kubecred_credential_live_state{component=\"kube-scheduler\",credential=\"scheduler.conf\",state=\"in-use\"} 1\n"
    ));
    let loopback = (now() + Duration::days(20)).unix_timestamp();
    assert!(
        run.stdout.contains(&format!(
            "kubecred_served_certificate_expiry_timestamp_seconds{{component=\"kube-apiserver\",endpoint=\"loopback\"}} {loopback}\n"
        )),
        "{}",
        run.stdout
    );
    // Nagios: the plugin-output grammar, the live summary and the served perfdata.
    let run = doubles.check("nagios", &[]);
    let (ok, said) = judge(
        "python3",
        &["tests/judges/nagios.py", "--exit", &run.code.to_string()],
        run.stdout.as_bytes(),
    );
    assert!(ok, "{said}\n{}", run.stdout);
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/judges-venv/bin/python");
    assert!(
        python.exists(),
        "the nagiosplugin judge needs its virtual environment; create it with:\n  \
         python3 -m venv target/judges-venv && target/judges-venv/bin/pip install -r tests/judges/requirements.txt"
    );
    let (ok, said) = judge(
        python.to_str().unwrap(),
        &[
            "tests/judges/plugin_output.py",
            "--exit",
            &run.code.to_string(),
        ],
        run.stdout.as_bytes(),
    );
    assert!(ok, "nagiosplugin: {said}\n{}", run.stdout);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.contains("live: 6 in-use, 2 not-running"), "{first}");
    assert!(
        first.contains("'served kube-apiserver/loopback'=1728000s;2592000:;604800:;0"),
        "{first}"
    );
    assert!(
        run.stdout
            .contains("WARNING: apiserver-loopback loopback-certificate-expires-soon")
    );
    // The table, for check and inspect.
    let run = doubles.check("table", &["--color", "never"]);
    assert!(
        run.stdout.contains("\nLive:\nCREDENTIAL "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("kube-apiserver loopback"),
        "{}",
        run.stdout
    );
    let inspect = doubles.node.live(
        &["inspect", "-o", "json"],
        &map(Some(doubles.kubelet.port())),
        Some(doubles.proc.path()),
    );
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let json = inspect.json();
    assert_eq!(live_state(&json, "apiserver").0, "in-use");
    let pods = json["staticPods"].as_array().unwrap();
    assert_eq!(pods.len(), 4);
    let apiserver = pods
        .iter()
        .find(|p| p["component"] == "kube-apiserver")
        .unwrap();
    assert_eq!(apiserver["state"], "present");
    let files = apiserver["credentialFiles"].as_array().unwrap();
    let tls = files
        .iter()
        .find(|f| f["flag"] == "--tls-cert-file")
        .unwrap();
    assert_eq!(tls["containerPath"], "/etc/kubernetes/pki/apiserver.crt");
    assert_eq!(
        tls["hostPath"],
        doubles.node.file("pki/apiserver.crt").display().to_string()
    );
}

#[test]
fn unknown_says_why_and_every_probe_is_bounded() {
    let node = Node::new(|root| manifests(root, false, PathBuf::from("/var/lib/etcd")));
    // Every endpoint accepts the connection and then says nothing.
    let silent: Vec<(Component, &str, u16)> = vec![
        (Component::KubeApiserver, "secure-port", 0),
        (Component::KubeControllerManager, "secure-port", 0),
        (Component::KubeScheduler, "secure-port", 0),
    ];
    let mut doubles = Vec::new();
    for (component, flag, _) in &silent {
        let port = node.pod(*component).flag(flag).unwrap().to_owned();
        doubles.push(Double::start(
            &format!("127.0.0.1:{port}"),
            Behaviour::Silent,
        ));
    }
    let etcd = node.pod(Component::Etcd);
    for (ip, flag) in [
        ("127.0.0.1", "listen-client-urls"),
        ("127.0.0.2", "listen-peer-urls"),
    ] {
        doubles.push(Double::start(
            &format!("{ip}:{}", manifests_port(&etcd, flag)),
            Behaviour::Silent,
        ));
    }
    let kubelet = Double::start("127.0.0.1:0", Behaviour::Silent);
    // Two processes of kube-scheduler, neither running the manifest's command;
    // kube-apiserver's stat unreadable.
    let proc = FakeProc::new(now() - Duration::days(1));
    proc.add(
        7,
        &["/usr/bin/kube-scheduler".to_owned()],
        now() - Duration::hours(1),
    );
    proc.add(8, &["kube-scheduler".to_owned(), "--v=2".to_owned()], now());
    proc.add(9, &node.pod(Component::KubeApiserver).command, now());
    fs::write(proc.path().join("9/stat"), "9 (kube-apiserver) S").unwrap();

    let started = Instant::now();
    let run = node.live(
        &["check", "-o", "json"],
        &map(Some(kubelet.port())),
        Some(proc.path()),
    );
    let took = started.elapsed();
    let json = run.json();
    // Seven silent endpoints, two seconds each, all at once: about two seconds
    // in all (with room for a loaded machine), not fourteen.
    assert!(took.as_secs_f64() < 4.0, "check --live took {took:?}");
    let (state, why) = live_state(&json, "etcd-server");
    assert_eq!(state, "unknown");
    assert!(why.ends_with("sent no certificate within 2 s"), "{why}");
    assert_eq!(endpoint(&json, "kubelet", "serving")["state"], "timeout");
    let (state, why) = live_state(&json, "scheduler.conf");
    assert_eq!(state, "unknown");
    assert!(
        why.contains("2 kube-scheduler processes run (7, 8)"),
        "{why}"
    );
    let (state, why) = live_state(&json, "apiserver-kubelet-client");
    assert_eq!(state, "unknown");
    assert!(
        why.contains("the start of kube-apiserver (pid 9) is unknown"),
        "{why}"
    );
    let (state, why) = live_state(&json, "controller-manager.conf");
    assert_eq!(state, "not-running");
    assert_eq!(why, "no kube-controller-manager process runs on the node");
    drop(doubles);
}

#[test]
fn without_live_nothing_is_probed_and_no_probe_leaves_loopback() {
    let node = Node::new(|root| manifests(root, false, PathBuf::from("/var/lib/etcd")));
    let port = node
        .pod(Component::KubeApiserver)
        .flag("secure-port")
        .unwrap()
        .to_owned();
    let apiserver = Double::tls(
        &format!("127.0.0.1:{port}"),
        Source::in_memory("kube-apiserver", now() + Duration::days(300)),
    );
    let root = node.root().display().to_string();
    let plain = kubecred_with_env(
        &[
            "--kubernetes-dir",
            root.as_str(),
            "--no-copies",
            "check",
            "-o",
            "json",
        ],
        &[("KUBECRED_TEST_PROBE_MAP", OsStr::new(&map(None)))],
    );
    assert!(plain.json().get("live").is_none());
    assert_eq!(
        *apiserver.accepted.lock().unwrap(),
        0,
        "check without --live probed"
    );
    let json = node.live(&["check", "-o", "json"], &map(None), None).json();
    assert_eq!(
        *apiserver.accepted.lock().unwrap(),
        2,
        "serving and loopback"
    );
    assert_eq!(
        endpoint(&json, "kube-apiserver", "serving")["state"],
        "served"
    );

    // A manifest that names an address off loopback: a test run never probes it.
    let manifest = node.file("manifests/etcd.yaml");
    let text = fs::read_to_string(&manifest)
        .unwrap()
        .replace("https://127.0.0.2:", "https://192.0.2.10:");
    fs::write(&manifest, text).unwrap();
    let json = node.live(&["check", "-o", "json"], &map(None), None).json();
    let peer = endpoint(&json, "etcd", "peer");
    assert_eq!(peer["state"], "skipped");
    assert!(
        peer["error"]
            .as_str()
            .unwrap()
            .contains("probes loopback only"),
        "{peer:#}"
    );
}

#[test]
fn a_malformed_manifest_is_a_critical_finding_naming_the_file() {
    let node = Node::new(|root| manifests(root, false, PathBuf::from("/var/lib/etcd")));
    fs::write(
        node.file("manifests/kube-scheduler.yaml"),
        "kind: Pod\nspec: [\n",
    )
    .unwrap();
    let root = node.root().display().to_string();
    let run = kubecred_with_env(
        &[
            "--kubernetes-dir",
            root.as_str(),
            "--no-copies",
            "check",
            "-o",
            "json",
        ],
        &[],
    );
    let json = run.json();
    let finding = common::finding(&json, "manifests/kube-scheduler.yaml", "malformed");
    assert_eq!(finding["severity"], "critical");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            &node
                .file("manifests/kube-scheduler.yaml")
                .display()
                .to_string()
        ),
        "{message}"
    );
    assert!(message.contains("not a static pod manifest"), "{message}");
    assert_eq!(run.code, 2);
    // With --live the scheduler's credential is unknown, and says why.
    let json = node.live(&["check", "-o", "json"], &map(None), None).json();
    assert_eq!(
        live_state(&json, "scheduler.conf").1,
        "kube-scheduler: its static pod manifest manifests/kube-scheduler.yaml is malformed"
    );
}
