//! The etcd quorum gate against real etcd (Debian's etcd-server): one member
//! started from the fixture node's manifest and certificates, and a
//! two-member cluster of two processes on loopback ports with certificates
//! issued by the fixture's etcd CA. Every wait is bounded; every etcd is
//! killed on drop.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use common::live::{Etcd, closed_port, wait_for_port};
use common::now;
use kubecred::domain::demo::{self, AdminLayout, Manifests};
use kubecred::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use kubecred::domain::manifest::{Component, Pod};
use kubecred::domain::quorum::{self, Health, Quorum, Refusal};
use kubecred::edge::etcd;
use kubecred::edge::live::Probing;
use time::Duration;

/// Asks as a test run does: no address off loopback.
fn loopback() -> Probing {
    Probing {
        loopback_only: true,
        ..Probing::default()
    }
}

/// Validity for every certificate a real etcd judges: ten years before the
/// fixed clock to twenty after.
fn wide() -> (time::OffsetDateTime, time::OffsetDateTime) {
    (now() - Duration::days(3650), now() + Duration::days(7300))
}

/// A generated 1.29 node with its static pod manifests, whose pods see the
/// tree's own paths (so a real etcd can run etcd.yaml's command).
fn node() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    let mut spec = common::spec(AdminLayout::Init129);
    // etcd judges certificates by its own wall clock, which no test fixes (and
    // which a moved clock does not move): valid for decades either side, they
    // hold whatever day the test runs on.
    spec.leaf_validity = wide();
    spec.ca_validity = wide();
    let mut manifests = Manifests::kubeadm(&root);
    manifests.pod_kubernetes_dir.clone_from(&root);
    manifests.pod_cert_dir = root.join("pki");
    manifests.etcd_data_dir = dir.path().join("etcd-data");
    manifests.advertise = IpAddr::from([127, 0, 0, 2]);
    manifests.apiserver_port = closed_port();
    manifests.etcd_ports = (closed_port(), closed_port(), closed_port());
    manifests.secure_ports = Some((closed_port(), closed_port()));
    spec.manifests = Some(manifests);
    kubecred::edge::apply::tree::write(&root, &demo::generate(&spec).unwrap()).unwrap();
    dir
}

fn etcd_pod(root: &Path) -> Pod {
    let bytes = fs::read(root.join("manifests/etcd.yaml")).unwrap();
    Pod::parse(&bytes, Component::Etcd).unwrap()
}

/// The first address of a comma-separated URL flag.
fn first_address(pod: &Pod, flag: &str) -> SocketAddr {
    let url = pod.flag(flag).unwrap().split(',').next().unwrap();
    quorum::client_url_address(url).unwrap()
}

/// Asks until `done` holds of the answer, for at most 30 s.
fn ask_until(pod: &Pod, cert_dir: &Path, done: impl Fn(&Quorum) -> bool) -> Quorum {
    let start = Instant::now();
    loop {
        let asked = etcd::ask(pod, cert_dir, &loopback());
        match asked {
            Ok(quorum) if done(&quorum) => return quorum,
            other if start.elapsed() > StdDuration::from_secs(30) => {
                panic!("etcd did not settle within 30 s: {other:?}")
            }
            _ => std::thread::sleep(StdDuration::from_millis(200)),
        }
    }
}

fn all_healthy(quorum: &Quorum) -> bool {
    quorum
        .members
        .iter()
        .all(|member| member.health.is_healthy())
}

#[test]
fn a_real_single_member_etcd_lists_itself_healthy_and_may_restart_with_a_notice() {
    let dir = node();
    let root = dir.path().join("node");
    let pod = etcd_pod(&root);
    let client = first_address(&pod, "listen-client-urls");
    assert!(client.ip().is_loopback());
    let _etcd = Etcd::start(&pod.command, dir.path().join("etcd.log"), client);

    let started = Instant::now();
    let quorum = ask_until(&pod, &root.join("pki"), all_healthy);
    assert_eq!(quorum.members.len(), 1, "{quorum:?}");
    let member = &quorum.members[0];
    assert_eq!(
        quorum.local,
        Some(member.id),
        "the member that answered is known"
    );
    assert_eq!(Some(member.name.as_str()), pod.flag("name"));
    assert_eq!(
        member.client_urls,
        [pod.flag("advertise-client-urls").unwrap()]
    );
    assert_eq!(member.health, Health::Healthy);
    assert_eq!(quorum::may_restart(&quorum, false), Ok(()));
    let notice = quorum::notice(&quorum, false).unwrap();
    assert!(notice.contains("one member"), "{notice}");
    assert!(
        started.elapsed() < StdDuration::from_secs(31),
        "asking is bounded"
    );
}

#[test]
fn without_the_healthcheck_credential_or_a_listening_etcd_nothing_is_decided() {
    let dir = node();
    let root = dir.path().join("node");
    let pod = etcd_pod(&root);
    let started = Instant::now();
    // Nothing listens at the manifest's client URL.
    let err = etcd::ask(&pod, &root.join("pki"), &loopback()).unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
    let refusal = quorum::may_restart_unasked(&err.to_string(), false).unwrap_err();
    assert_eq!(refusal.exit_code(), 2);
    assert!(
        refusal
            .to_string()
            .ends_with("--force-etcd-restart overrides"),
        "{refusal}"
    );
    fs::remove_file(root.join("pki/etcd/healthcheck-client.key")).unwrap();
    let err = etcd::ask(&pod, &root.join("pki"), &loopback()).unwrap_err();
    assert!(
        err.to_string()
            .contains("healthcheck-client.key: the file is absent"),
        "{err}"
    );
    assert!(started.elapsed() < StdDuration::from_secs(5));
}

/// A certificate and key for one test member, issued by the node's etcd CA,
/// for 127.0.0.1 and both usages (etcd's client and peer ports alike).
fn member_credential(pki: &Path, name: &str) -> (PathBuf, PathBuf) {
    let ca_pem = fs::read_to_string(pki.join("etcd/ca.crt")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&fs::read_to_string(pki.join("etcd/ca.key")).unwrap()).unwrap();
    let ca = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let profile = Profile {
        common_name: name.to_owned(),
        groups: Vec::new(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec![IpAddr::from([127, 0, 0, 1])],
        usages: vec![Usage::ServerAuth, Usage::ClientAuth],
    };
    let (not_before, not_after) = wide();
    let pem = issue::leaf(&profile, &key.pair, &ca, not_before, not_after).unwrap();
    let cert = pki.join(format!("etcd/{name}.crt"));
    let key_path = pki.join(format!("etcd/{name}.key"));
    fs::write(&cert, pem).unwrap();
    fs::write(&key_path, key.pem).unwrap();
    (cert, key_path)
}

struct TestMember {
    name: &'static str,
    client: SocketAddr,
    peer: SocketAddr,
}

/// Starts the members of one new cluster at once (each waits for the others
/// before it serves), then waits (bounded) for every client port.
fn start_cluster(dir: &Path, pki: &Path, members: &[TestMember]) -> Vec<Etcd> {
    let program = etcd_program();
    let initial: Vec<String> = members
        .iter()
        .map(|m| format!("{}=https://{}", m.name, m.peer))
        .collect();
    let ca = pki.join("etcd/ca.crt");
    let mut running: Vec<Etcd> = members
        .iter()
        .map(|member| {
            let (cert, key) = member_credential(pki, member.name);
            let log = dir.join(format!("{}.log", member.name));
            let out = fs::File::create(&log).unwrap();
            let args = [
                format!("--name={}", member.name),
                format!("--data-dir={}", dir.join(member.name).display()),
                format!("--listen-client-urls=https://{}", member.client),
                format!("--advertise-client-urls=https://{}", member.client),
                format!("--listen-peer-urls=https://{}", member.peer),
                format!("--initial-advertise-peer-urls=https://{}", member.peer),
                format!("--initial-cluster={}", initial.join(",")),
                "--initial-cluster-state=new".into(),
                format!("--listen-metrics-urls=http://127.0.0.1:{}", closed_port()),
                format!("--cert-file={}", cert.display()),
                format!("--key-file={}", key.display()),
                "--client-cert-auth=true".into(),
                format!("--trusted-ca-file={}", ca.display()),
                format!("--peer-cert-file={}", cert.display()),
                format!("--peer-key-file={}", key.display()),
                "--peer-client-cert-auth=true".into(),
                format!("--peer-trusted-ca-file={}", ca.display()),
            ];
            let child = Command::new(&program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap();
            Etcd { child, log }
        })
        .collect();
    for (etcd, member) in running.iter_mut().zip(members) {
        let log = etcd.log.clone();
        wait_for_port(
            member.client,
            StdDuration::from_secs(30),
            &mut etcd.child,
            &log,
        );
    }
    running
}

fn etcd_program() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("etcd"))
                .find(|path| path.is_file())
        })
        .expect("this test runs Debian's etcd-server (apt-get install etcd-server); .ci/run installs it")
}

/// A manifest for the member that listens at `client`, as the gate reads it.
fn pod_listening_at(client: SocketAddr) -> Pod {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: etcd-cp-a}}\nspec:\n  hostNetwork: true\n  containers:\n  - name: etcd\n    command: [etcd, --listen-client-urls=https://{client}]\n"
    );
    Pod::parse(yaml.as_bytes(), Component::Etcd).unwrap()
}

#[test]
fn a_real_two_member_etcd_is_refused_naming_both_members_unless_forced() {
    let dir = node();
    let root = dir.path().join("node");
    let pki = root.join("pki");
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let members = [
        TestMember {
            name: "cp-a",
            client: at(closed_port()),
            peer: at(closed_port()),
        },
        TestMember {
            name: "cp-b",
            client: at(closed_port()),
            peer: at(closed_port()),
        },
    ];
    let mut running = start_cluster(dir.path(), &pki, &members);
    let pod = pod_listening_at(members[0].client);

    let quorum = ask_until(&pod, &pki, |quorum| {
        quorum.members.len() == 2 && all_healthy(quorum)
    });
    let mut names: Vec<&str> = quorum.members.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["cp-a", "cp-b"]);
    assert_eq!(quorum.local_member().unwrap().name, "cp-a");
    let refusal = quorum::may_restart(&quorum, false).unwrap_err();
    let Refusal::TwoMembers { names: refused } = &refusal else {
        panic!("{refusal:?}");
    };
    assert_eq!(refused.len(), 2);
    let message = refusal.to_string();
    assert!(
        message.contains("cp-a") && message.contains("cp-b"),
        "{message}"
    );
    assert!(message.contains("two members"), "{message}");
    assert!(
        message.ends_with("--force-etcd-restart overrides"),
        "{message}"
    );
    assert_eq!(refusal.exit_code(), 2);
    assert_eq!(quorum::may_restart(&quorum, true), Ok(()));
    let notice = quorum::notice(&quorum, true).unwrap();
    assert!(notice.starts_with("--force-etcd-restart:"), "{notice}");

    // With cp-b stopped, cp-a still lists both, says it is not healthy (no
    // leader), and cp-b does not answer: refused still, within the bound.
    let mut stopped = running.remove(1);
    stopped.child.kill().unwrap();
    stopped.child.wait().unwrap();
    let started = Instant::now();
    let quorum = etcd::ask(&pod, &pki, &loopback()).unwrap();
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let b = quorum.members.iter().find(|m| m.name == "cp-b").unwrap();
    assert!(
        matches!(&b.health, Health::Unhealthy(why) if why.contains("connection refused")),
        "{:?}",
        b.health
    );
    assert!(matches!(
        quorum::may_restart(&quorum, false),
        Err(Refusal::TwoMembers { .. })
    ));
}
