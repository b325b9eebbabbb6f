//! Who may read a secret and who may rewrite a trust anchor: each finding's
//! severity follows what someone else could do with the file, and a renewal
//! never hands a new private key to a mode or an owner that leaks it.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt as _;

use common::{Host, finding, kubecred};
use kubecred::domain::demo::AdminLayout;

/// A uid that owns nothing on this machine.
const STRANGER: u32 = 4242;

fn severity_of(host: &Host, credential: &str) -> String {
    let json = host.check(&[]).json();
    finding(&json, credential, "insecure-permissions")["severity"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn message_of(host: &Host, credential: &str) -> String {
    let json = host.check(&[]).json();
    finding(&json, credential, "insecure-permissions")["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn require_root() {
    assert!(
        fs::metadata("/proc/self").unwrap().uid() == 0,
        "these tests chown files: run the suite as root (CI does)"
    );
}

#[test]
fn a_writable_ca_certificate_is_critical() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki/ca.crt", 0o666);
    assert_eq!(severity_of(&host, "ca"), "critical");
    let message = message_of(&host, "ca");
    assert!(
        message.contains("mode 0666 lets its group and others rewrite it")
            && message.contains("chooses which certificates the cluster trusts"),
        "{message}"
    );
    let run = host.check(&[]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_ca_certificate_owned_by_another_user_is_critical() {
    require_root();
    let host = Host::new(AdminLayout::Init129);
    std::os::unix::fs::chown(host.file("pki/front-proxy-ca.crt"), Some(STRANGER), None).unwrap();
    assert_eq!(severity_of(&host, "front-proxy-ca"), "critical");
    assert!(message_of(&host, "front-proxy-ca").contains("owned by uid 4242, not root"));
}

#[test]
fn a_writable_leaf_certificate_is_a_warning() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki/apiserver.crt", 0o664);
    assert_eq!(severity_of(&host, "apiserver"), "warning");
    assert!(message_of(&host, "apiserver").contains("mode 0664 lets its group rewrite it"));
    // Readable by all is what kubeadm writes: no finding.
    let clean = Host::new(AdminLayout::Init129);
    clean.chmod("pki/apiserver.crt", 0o644);
    let json = clean.check(&[]).json();
    assert!(
        !common::codes(&json)
            .iter()
            .any(|(_, code)| code == "insecure-permissions"),
        "{json:#}"
    );
}

#[test]
fn the_service_account_pair_is_critical_both_ways() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki/sa.pub", 0o646);
    host.chmod("pki/sa.key", 0o644);
    let json = host.check(&[]).json();
    let findings: Vec<_> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["credential"] == "sa" && f["code"] == "insecure-permissions")
        .collect();
    assert_eq!(findings.len(), 2, "{json:#}");
    assert!(findings.iter().all(|f| f["severity"] == "critical"));
    assert!(findings.iter().any(|f| {
        f["message"].as_str().unwrap().contains("sa.pub")
            && f["message"]
                .as_str()
                .unwrap()
                .contains("service-account tokens")
    }));
}

#[test]
fn readable_secrets_are_as_bad_as_what_they_grant() {
    for (file, credential, severity) in [
        ("pki/ca.key", "ca", "critical"),
        ("pki/etcd/ca.key", "etcd-ca", "critical"),
        ("admin.conf", "admin.conf", "critical"),
        ("super-admin.conf", "super-admin.conf", "critical"),
        ("pki/apiserver.key", "apiserver", "warning"),
        ("scheduler.conf", "scheduler.conf", "warning"),
    ] {
        let host = Host::new(AdminLayout::Init129);
        host.chmod(file, 0o640);
        assert_eq!(severity_of(&host, credential), severity, "{file}");
    }
}

#[test]
fn renew_never_hands_a_new_key_to_a_leaky_mode_or_owner() {
    require_root();
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki/apiserver.key", 0o644);
    host.chmod("pki/apiserver.crt", 0o666);
    host.chmod("admin.conf", 0o666);
    host.chmod("pki/etcd/peer.key", 0o400);
    std::os::unix::fs::chown(
        host.file("pki/apiserver-kubelet-client.key"),
        Some(STRANGER),
        Some(STRANGER),
    )
    .unwrap();
    let state = common::state_dir();
    let run = kubecred(&[
        "--kubernetes-dir".to_owned(),
        host.path().display().to_string(),
        "--state-dir".to_owned(),
        state.path().display().to_string(),
        "--no-copies".to_owned(),
        "renew".to_owned(),
        "all".to_owned(),
        "--yes".to_owned(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let meta = |rel: &str| fs::metadata(host.file(rel)).unwrap();
    assert_eq!(meta("pki/apiserver.key").mode() & 0o7777, 0o600);
    assert_eq!(meta("pki/apiserver.crt").mode() & 0o7777, 0o644);
    assert_eq!(meta("admin.conf").mode() & 0o7777, 0o600);
    // A stricter mode than kubeadm's is kept.
    assert_eq!(meta("pki/etcd/peer.key").mode() & 0o7777, 0o400);
    let kubelet_client = meta("pki/apiserver-kubelet-client.key");
    assert_eq!((kubelet_client.uid(), kubelet_client.gid()), (0, 0));
    assert_eq!(kubelet_client.mode() & 0o7777, 0o600);
    let json = host.check(&[]).json();
    assert!(
        !common::codes(&json)
            .iter()
            .any(|(_, code)| code == "insecure-permissions"),
        "the renewal left a leak: {json:#}"
    );
}
