//! Unit tests of the live judgement: generated nodes, observations made up.
// The tests build and change nodes on disk; the judgement under test reads none.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use time::macros::datetime;

use super::*;
use crate::domain::demo::{self, AdminLayout, HostSpec, Manifests};
use crate::domain::issue::KeyAlgorithm;
use crate::domain::model::Scope;

const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

fn node(manifests: bool) -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = HostSpec::new(NOW, KeyAlgorithm::EcdsaP256, AdminLayout::Init129);
    if manifests {
        spec.manifests = Some(Manifests::kubeadm(dir.path()));
    }
    crate::edge::apply::tree::write(dir.path(), &demo::generate(&spec).unwrap()).unwrap();
    let inventory = Inventory::scan(&Scope {
        kubernetes_dir: dir.path().to_path_buf(),
        cert_dir: dir.path().join("pki"),
        copies: Vec::new(),
        expected_owner: 0,
    });
    (dir, inventory)
}

fn cert_of(inventory: &Inventory, name: &str) -> Certificate {
    inventory.material(name).unwrap().certificate.clone()
}

/// Observations where every endpoint serves `served(target)` and every
/// component runs, started at `started`; every file was written at `written`.
fn seen(
    inventory: &Inventory,
    plan: &Plan,
    served: impl Fn(&Target) -> Outcome,
    started: OffsetDateTime,
    written: OffsetDateTime,
) -> Observations {
    let processes = STATIC_PODS
        .iter()
        .enumerate()
        .map(|(n, component)| Process {
            pid: 100 + u32::try_from(n).unwrap(),
            argv: inventory
                .static_pod(*component)
                .and_then(|pod| pod.pod())
                .map(|pod| pod.command.clone())
                .unwrap_or_default(),
            started: Ok(started),
        })
        .collect();
    Observations {
        probes: plan
            .targets
            .iter()
            .map(|target| (target.clone(), served(target)))
            .collect(),
        processes: Ok(processes),
        files: plan
            .files()
            .into_iter()
            .map(|path| {
                (
                    path.to_path_buf(),
                    FileFacts {
                        modified: Ok(written),
                        certificate: inventory_certificate(inventory, path)
                            .ok_or_else(|| "not read".to_owned()),
                    },
                )
            })
            .collect(),
    }
}

fn state(live: &Live, credential: &str) -> (LiveState, String) {
    let cred = live
        .credentials
        .iter()
        .find(|cred| cred.credential == credential)
        .unwrap_or_else(|| panic!("no {credential}"));
    (cred.state, cred.reason.clone())
}

#[test]
fn the_plan_probes_kubeadms_ports_and_names_the_files_in_the_tree() {
    let (dir, inventory) = node(true);
    let plan = plan(&inventory, None);
    let targets: Vec<(Component, Role, String, Option<&str>)> = plan
        .targets
        .iter()
        .map(|t| (t.component, t.role, t.address.to_string(), t.server_name))
        .collect();
    assert_eq!(
        targets,
        vec![
            (Component::Etcd, Role::Client, "127.0.0.1:2379".into(), None),
            (Component::Etcd, Role::Peer, "192.0.2.10:2380".into(), None),
            (
                Component::KubeApiserver,
                Role::Serving,
                "127.0.0.1:6443".into(),
                Some("kubernetes")
            ),
            (
                Component::KubeApiserver,
                Role::Loopback,
                "127.0.0.1:6443".into(),
                Some(LOOPBACK_SERVER_NAME)
            ),
            (
                Component::KubeControllerManager,
                Role::Serving,
                "127.0.0.1:10257".into(),
                None
            ),
            (
                Component::KubeScheduler,
                Role::Serving,
                "127.0.0.1:10259".into(),
                None
            ),
            (
                Component::Kubelet,
                Role::Serving,
                "127.0.0.1:10250".into(),
                None
            ),
        ]
    );
    let files: Vec<(&str, PathBuf)> = plan
        .usages
        .iter()
        .map(|usage| (usage.credential, usage.file.clone().unwrap()))
        .collect();
    let root = dir.path();
    assert_eq!(
        files,
        vec![
            ("apiserver", root.join("pki/apiserver.crt")),
            (
                "apiserver-etcd-client",
                root.join("pki/apiserver-etcd-client.crt")
            ),
            (
                "apiserver-kubelet-client",
                root.join("pki/apiserver-kubelet-client.crt")
            ),
            (
                "controller-manager.conf",
                root.join("controller-manager.conf")
            ),
            ("etcd-peer", root.join("pki/etcd/peer.crt")),
            ("etcd-server", root.join("pki/etcd/server.crt")),
            (
                "front-proxy-client",
                root.join("pki/front-proxy-client.crt")
            ),
            ("scheduler.conf", root.join("scheduler.conf")),
        ]
    );
    // Only what a restart step asks about.
    let only = super::plan(&inventory, Some(&[Component::KubeScheduler]));
    assert_eq!(only.components, vec![Component::KubeScheduler]);
    assert_eq!(only.targets.len(), 1);
    assert_eq!(only.usages.len(), 1);
}

#[test]
fn served_certificates_are_in_use_when_they_are_the_files_and_stale_otherwise() {
    let (_dir, inventory) = node(true);
    let plan = plan(&inventory, None);
    let apiserver = cert_of(&inventory, "apiserver");
    let other = cert_of(&inventory, "front-proxy-client");
    let etcd = cert_of(&inventory, "etcd-server");
    let served = |target: &Target| match (target.component, target.role) {
        (Component::KubeApiserver, Role::Serving) => Outcome::Served(vec![apiserver.der.clone()]),
        (Component::KubeApiserver, Role::Loopback) => Outcome::Served(vec![other.der.clone()]),
        (Component::Etcd, Role::Client | Role::Peer) => Outcome::Served(vec![etcd.der.clone()]),
        (Component::KubeControllerManager, _) => Outcome::TimedOut,
        _ => Outcome::Refused,
    };
    let live = judge(
        &inventory,
        &plan,
        &seen(&inventory, &plan, served, NOW, NOW - Duration::days(1)),
    );
    assert_eq!(state(&live, "apiserver").0, LiveState::InUse);
    assert_eq!(state(&live, "etcd-server").0, LiveState::InUse);
    let (peer, why) = state(&live, "etcd-peer");
    assert_eq!(peer, LiveState::Stale);
    assert!(
        why.contains("serves another certificate at 192.0.2.10:2380"),
        "{why}"
    );
    assert!(why.contains("restart etcd"), "{why}");
    // Findings: the stale peer certificate (a warning: it is far from expiry).
    let found = findings(&live, NOW, &Thresholds::default());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].code, Code::ServedCertificateStale);
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(found[0].credential, "etcd-peer");
    // Critical when what is served expires within --crit.
    let near = Thresholds {
        crit: Duration::days(400),
        warn: Duration::days(500),
        ..Thresholds::default()
    };
    let found = findings(&live, NOW, &near);
    let severities: Vec<(Code, Severity)> = found.iter().map(|f| (f.code, f.severity)).collect();
    assert!(severities.contains(&(Code::ServedCertificateStale, Severity::Critical)));
    assert!(severities.contains(&(Code::LoopbackCertificateExpiresSoon, Severity::Critical)));
}

#[test]
fn loaded_credentials_are_stale_only_when_the_component_does_not_reload_them() {
    let (_dir, inventory) = node(true);
    let plan = plan(&inventory, None);
    // Every file changed a day after the components started.
    let started = NOW - Duration::days(2);
    let live = judge(
        &inventory,
        &plan,
        &seen(
            &inventory,
            &plan,
            |_| Outcome::Refused,
            started,
            NOW - Duration::days(1),
        ),
    );
    for (credential, expected) in [
        ("apiserver-kubelet-client", LiveState::Stale),
        ("controller-manager.conf", LiveState::Stale),
        ("scheduler.conf", LiveState::Stale),
        ("front-proxy-client", LiveState::InUse),
        ("apiserver-etcd-client", LiveState::InUse),
    ] {
        let (got, why) = state(&live, credential);
        assert_eq!(got, expected, "{credential}: {why}");
    }
    // A process that runs but does not listen is no proof it is down.
    let (apiserver, why) = state(&live, "apiserver");
    assert_eq!(apiserver, LiveState::Unknown, "{why}");
    assert!(why.contains("runs (pid 101) but nothing listens"), "{why}");
    let found = findings(&live, NOW, &Thresholds::default());
    let codes: Vec<(&str, Code)> = found
        .iter()
        .map(|f| (f.credential.as_str(), f.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("apiserver-kubelet-client", Code::ComponentNotRestarted),
            ("controller-manager.conf", Code::ComponentNotRestarted),
            ("scheduler.conf", Code::ComponentNotRestarted),
        ]
    );
    // Started after the files were written: in use. A not-before later than
    // the start is stale whatever the file's time says (a copied file).
    let live = judge(
        &inventory,
        &plan,
        &seen(
            &inventory,
            &plan,
            |_| Outcome::Refused,
            NOW,
            NOW - Duration::days(1),
        ),
    );
    assert_eq!(state(&live, "scheduler.conf").0, LiveState::InUse);
    let live = judge(
        &inventory,
        &plan,
        &seen(
            &inventory,
            &plan,
            |_| Outcome::Refused,
            NOW - Duration::hours(1),
            NOW - Duration::days(30),
        ),
    );
    assert_eq!(state(&live, "scheduler.conf").0, LiveState::Stale);
}

#[test]
fn absent_components_are_not_running_and_unknowns_say_why() {
    let (_dir, inventory) = node(true);
    let plan = plan(&inventory, None);
    let mut observed = seen(&inventory, &plan, |_| Outcome::Refused, NOW, NOW);
    observed.processes = Ok(Vec::new());
    let live = judge(&inventory, &plan, &observed);
    for cred in &live.credentials {
        assert_eq!(
            cred.state,
            LiveState::NotRunning,
            "{}: {}",
            cred.credential,
            cred.reason
        );
    }
    // Two processes of one program, neither running the manifest's command.
    observed.processes = Ok(vec![
        Process {
            pid: 7,
            argv: vec!["/usr/bin/kube-scheduler".into()],
            started: Ok(NOW),
        },
        Process {
            pid: 8,
            argv: vec!["kube-scheduler".into(), "--v=2".into()],
            started: Ok(NOW),
        },
    ]);
    let live = judge(&inventory, &plan, &observed);
    let (got, why) = state(&live, "scheduler.conf");
    assert_eq!(got, LiveState::Unknown);
    assert!(
        why.contains("2 kube-scheduler processes run (7, 8)"),
        "{why}"
    );
    // /proc unreadable, a probe that timed out.
    observed.processes = Err("cannot list the processes".into());
    observed.probes = plan
        .targets
        .iter()
        .map(|t| (t.clone(), Outcome::TimedOut))
        .collect();
    let live = judge(&inventory, &plan, &observed);
    assert_eq!(
        state(&live, "scheduler.conf"),
        (LiveState::Unknown, "cannot list the processes".into())
    );
    let (got, why) = state(&live, "etcd-server");
    assert_eq!(got, LiveState::Unknown);
    assert!(why.contains("sent no certificate within 2 s"), "{why}");
}

#[test]
fn without_manifests_nothing_is_probed_and_every_credential_is_unknown() {
    let (_dir, inventory) = node(false);
    let plan = plan(&inventory, None);
    assert_eq!(
        plan.targets.len(),
        1,
        "only the kubelet: {:?}",
        plan.targets
    );
    let live = judge(
        &inventory,
        &plan,
        &seen(&inventory, &plan, |_| Outcome::Refused, NOW, NOW),
    );
    let (got, why) = state(&live, "apiserver");
    assert_eq!(got, LiveState::Unknown);
    assert_eq!(
        why,
        "kube-apiserver: there is no static pod manifest manifests/kube-apiserver.yaml"
    );
    assert!(
        live.credentials
            .iter()
            .all(|c| c.state == LiveState::Unknown)
    );
    assert!(manifest_findings(&inventory).is_empty());
}

#[test]
fn a_malformed_manifest_is_a_finding_and_leaves_its_component_unknown() {
    let (dir, _) = node(true);
    std::fs::write(
        dir.path().join("manifests/kube-scheduler.yaml"),
        b"kind: Pod\nspec: {containers: []}\n",
    )
    .unwrap();
    let inventory = Inventory::scan(&Scope {
        kubernetes_dir: dir.path().to_path_buf(),
        cert_dir: dir.path().join("pki"),
        copies: Vec::new(),
        expected_owner: 0,
    });
    let found = manifest_findings(&inventory);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, Code::Malformed);
    assert_eq!(found[0].credential, "manifests/kube-scheduler.yaml");
    assert!(
        found[0]
            .message
            .ends_with("kube-scheduler.yaml: the pod has no container")
    );
    let plan = plan(&inventory, None);
    let live = judge(
        &inventory,
        &plan,
        &seen(&inventory, &plan, |_| Outcome::Refused, NOW, NOW),
    );
    assert_eq!(
        state(&live, "scheduler.conf").1,
        "kube-scheduler: its static pod manifest manifests/kube-scheduler.yaml is malformed"
    );
}

#[test]
fn a_kubeconfigs_embedded_certificate_is_read_for_comparison() {
    let (dir, inventory) = node(true);
    let path = dir.path().join("scheduler.conf");
    let bytes = std::fs::read(&path).unwrap();
    let cert = certificate_in(&bytes, &path).unwrap();
    assert_eq!(
        cert.fingerprint,
        cert_of(&inventory, "scheduler.conf").fingerprint
    );
    let pem = std::fs::read(dir.path().join("pki/apiserver.crt")).unwrap();
    assert_eq!(
        certificate_in(&pem, Path::new("/x")).unwrap().fingerprint,
        cert_of(&inventory, "apiserver").fingerprint
    );
    assert!(certificate_in(b"kind: Config\n", Path::new("/x")).is_err());
}

#[test]
fn only_what_is_read_at_start_needs_a_restart_and_in_restart_order() {
    let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        restarts_needed(&names(&[
            "scheduler.conf",
            "apiserver",
            "controller-manager.conf",
            "apiserver-kubelet-client",
            "etcd-server",
            "etcd-peer",
        ])),
        [
            Component::KubeApiserver,
            Component::KubeControllerManager,
            Component::KubeScheduler
        ]
    );
    assert!(
        restarts_needed(&names(&[
            "apiserver",
            "front-proxy-client",
            "apiserver-etcd-client",
            "etcd-server",
            "etcd-peer",
            "etcd-healthcheck-client",
            "admin.conf",
        ]))
        .is_empty(),
        "what is served or reloaded needs no restart"
    );
}
