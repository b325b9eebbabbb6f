//! One generated host per state a node can be in: the exact findings and exit status.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use common::{Host, codes, finding, message, now, pairs, snapshot, spec};
use kubecred::domain::demo::{AdminLayout, KubeletCert};
use kubecred::domain::issue::KeyAlgorithm;
use kubecred::domain::kubeconfig::Kubeconfig;
use time::Duration;

#[test]
fn pre_129_node_reports_admin_in_system_masters() {
    let host = Host::new(AdminLayout::Pre129);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("admin.conf", "admin-in-system-masters"),
            ("super-admin.conf", "super-admin-absent")
        ])
    );
    assert_eq!(run.code, 1, "admin in system:masters is a warning");
    assert_eq!(json["status"], "warning");
    let admin = finding(&json, "admin.conf", "admin-in-system-masters");
    assert_eq!(admin["severity"], "warning");
    assert!(
        admin["remedy"]
            .as_str()
            .unwrap()
            .contains("kubecred migrate")
    );
}

#[test]
fn split_129_init_node_is_clean() {
    let host = Host::new(AdminLayout::Init129);
    let run = host.check(&[]);
    assert_eq!(codes(&run.json()), pairs(&[]));
    assert_eq!(run.code, 0);
}

#[test]
fn joined_node_has_no_super_admin_by_design() {
    let host = Host::new(AdminLayout::Joined129);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[("super-admin.conf", "super-admin-absent")])
    );
    assert_eq!(
        finding(&json, "super-admin.conf", "super-admin-absent")["severity"],
        "info"
    );
    assert_eq!(run.code, 0, "an info finding keeps the status OK");
}

#[test]
fn external_ca_is_info_not_a_fault() {
    let host = Host::new(AdminLayout::Init129);
    fs::remove_file(host.file("pki/ca.key")).unwrap();
    let run = host.check(&[]);
    assert_eq!(codes(&run.json()), pairs(&[("ca", "external-ca")]));
    assert_eq!(run.code, 0);
}

#[test]
fn external_etcd_has_no_etcd_credentials_and_no_findings() {
    let mut spec = spec(AdminLayout::Init129);
    spec.external_etcd = true;
    let host = Host::generate(&spec);
    assert!(!host.file("pki/etcd").exists());
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[]));
    assert_eq!(run.code, 0);
    let etcd_ca = common::credential(&json, "etcd-ca");
    assert_eq!(etcd_ca["state"], "absent");
    assert_eq!(etcd_ca["expected"], false);
}

#[test]
fn rsa_node_with_rotated_kubelet_certificate_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(AdminLayout::Init129);
    spec.keys = KeyAlgorithm::Rsa2048;
    spec.kubelet = KubeletCert::Rotated(dir.path().join("var/lib/kubelet/pki"));
    let host = Host::generate(&spec);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[]), "{}", run.stdout);
    let kubelet = common::credential(&json, "kubelet.conf");
    assert_eq!(kubelet["keyAlgorithm"], "RSA-2048");
    assert_eq!(kubelet["source"]["type"], "file");
    assert!(
        kubelet["file"]["symlinkTarget"].is_null(),
        "kubelet.conf itself is a regular file"
    );
    assert_eq!(kubelet["key"]["matchesCertificate"], true);
}

#[test]
fn ecdsa_node_reports_ecdsa_keys() {
    let host = Host::new(AdminLayout::Init129);
    let json = host.check(&[]).json();
    for cred in json["credentials"].as_array().unwrap() {
        if cred["state"] == "present" {
            assert_eq!(cred["keyAlgorithm"], "ECDSA-P256", "{}", cred["name"]);
        }
    }
    let apiserver = common::credential(&json, "apiserver");
    assert_eq!(apiserver["key"]["encoding"], "EC PRIVATE KEY");
}

#[test]
fn expired_leaf_is_critical() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "apiserver".into(),
        (now() - Duration::days(400), now() - Duration::days(35)),
    );
    let host = Host::generate(&spec);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[("apiserver", "expired")]));
    assert_eq!(
        finding(&json, "apiserver", "expired")["severity"],
        "critical"
    );
    assert_eq!(
        finding(&json, "apiserver", "expired")["message"],
        "expired 35d ago, on 2026-10-22 12:00 UTC"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn not_yet_valid_leaf_is_critical() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "scheduler.conf".into(),
        (now() + Duration::days(2), now() + Duration::days(367)),
    );
    let host = Host::generate(&spec);
    let run = host.check(&[]);
    let json = run.json();
    // The clock is earlier than a not-before of the tree: `renew` would refuse, and check says why.
    assert_eq!(
        codes(&json),
        pairs(&[
            ("scheduler.conf", "clock-implausible"),
            ("scheduler.conf", "not-yet-valid")
        ])
    );
    assert!(message(&json, "scheduler.conf", "not-yet-valid").contains("host clock"));
    assert_eq!(run.code, 2);
}

#[test]
fn expiry_thresholds_warn_then_go_critical() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "front-proxy-client".into(),
        (now() - Duration::days(340), now() + Duration::days(20)),
    );
    spec.overrides.insert(
        "etcd-peer".into(),
        (now() - Duration::days(360), now() + Duration::days(5)),
    );
    let host = Host::generate(&spec);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("etcd-peer", "expires-soon"),
            ("front-proxy-client", "expires-soon")
        ])
    );
    assert_eq!(
        finding(&json, "etcd-peer", "expires-soon")["severity"],
        "critical"
    );
    assert_eq!(
        finding(&json, "front-proxy-client", "expires-soon")["severity"],
        "warning"
    );
    assert_eq!(run.code, 2);
    // Thresholds are the operator's: 10d/3d makes the 20-day one fine and the 5-day one a warning.
    let run = host.check(&["--warn", "10d", "--crit", "72h"]);
    assert_eq!(codes(&run.json()), pairs(&[("etcd-peer", "expires-soon")]));
    assert_eq!(run.code, 1);
}

#[test]
fn ca_that_expires_before_its_leaves() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "front-proxy-ca".into(),
        (now() - Duration::days(3000), now() + Duration::days(100)),
    );
    let host = Host::generate(&spec);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("front-proxy-ca", "ca-expires-soon"),
            ("front-proxy-client", "ca-outlived")
        ])
    );
    assert_eq!(
        finding(&json, "front-proxy-ca", "ca-expires-soon")["severity"],
        "warning"
    );
    assert_eq!(run.code, 1);
    let run = host.check(&["--ca-crit", "120d"]);
    assert_eq!(
        finding(&run.json(), "front-proxy-ca", "ca-expires-soon")["severity"],
        "critical"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn leaf_signed_by_another_ca() {
    let host = Host::new(AdminLayout::Init129);
    let other = Host::new(AdminLayout::Init129);
    for file in ["pki/apiserver.crt", "pki/apiserver.key"] {
        fs::copy(other.file(file), host.file(file)).unwrap();
    }
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[("apiserver", "not-signed-by-ca")]));
    assert!(message(&json, "apiserver", "not-signed-by-ca").contains("signature does not verify"));
    assert_eq!(run.code, 2);
}

#[test]
fn leaf_issued_by_a_differently_named_ca() {
    let host = Host::new(AdminLayout::Init129);
    fs::copy(
        host.file("pki/front-proxy-client.crt"),
        host.file("pki/apiserver-kubelet-client.crt"),
    )
    .unwrap();
    fs::copy(
        host.file("pki/front-proxy-client.key"),
        host.file("pki/apiserver-kubelet-client.key"),
    )
    .unwrap();
    let json = host.check(&[]).json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("apiserver-kubelet-client", "not-signed-by-ca"),
            ("apiserver-kubelet-client", "unexpected-identity")
        ])
    );
    assert!(
        message(&json, "apiserver-kubelet-client", "not-signed-by-ca")
            .contains("issuer `CN=front-proxy-ca`")
    );
}

#[test]
fn mismatched_key() {
    let host = Host::new(AdminLayout::Init129);
    fs::copy(
        host.file("pki/etcd/peer.key"),
        host.file("pki/etcd/server.key"),
    )
    .unwrap();
    let run = host.check(&[]);
    assert_eq!(
        codes(&run.json()),
        pairs(&[("etcd-server", "key-mismatch")])
    );
    assert_eq!(run.code, 2);
}

#[test]
fn mismatched_service_account_pair() {
    let host = Host::new(AdminLayout::Init129);
    let other = Host::new(AdminLayout::Init129);
    fs::copy(other.file("pki/sa.pub"), host.file("pki/sa.pub")).unwrap();
    let run = host.check(&[]);
    assert_eq!(codes(&run.json()), pairs(&[("sa", "key-mismatch")]));
    assert_eq!(run.code, 2);
}

#[test]
fn kubeconfig_ca_data_differs_from_ca_crt() {
    let host = Host::new(AdminLayout::Init129);
    let other = Host::new(AdminLayout::Init129);
    let path = host.file("controller-manager.conf");
    let mut config = Kubeconfig::parse(&fs::read(&path).unwrap()).unwrap();
    let foreign = fs::read(other.file("pki/ca.crt")).unwrap();
    config.clusters[0].cluster.certificate_authority_data =
        Some(base64::engine::general_purpose::STANDARD.encode(foreign));
    fs::write(&path, config.to_yaml().unwrap()).unwrap();
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[("controller-manager.conf", "ca-data-mismatch")])
    );
    assert_eq!(
        finding(&json, "controller-manager.conf", "ca-data-mismatch")["severity"],
        "critical"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn group_readable_key_and_kubeconfig() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki/apiserver-etcd-client.key", 0o640);
    host.chmod("scheduler.conf", 0o644);
    host.chmod("pki/sa.key", 0o604);
    host.chmod("pki/apiserver.crt", 0o644); // certificates are public: never a finding
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("apiserver-etcd-client", "insecure-permissions"),
            ("sa", "insecure-permissions"),
            ("scheduler.conf", "insecure-permissions"),
        ])
    );
    assert!(
        message(&json, "apiserver-etcd-client", "insecure-permissions")
            .contains("mode 0640 gives its group access")
    );
    assert!(message(&json, "sa", "insecure-permissions").contains("others"));
    // Whoever reads sa.key mints any service-account token: critical.
    assert_eq!(
        finding(&json, "sa", "insecure-permissions")["severity"],
        "critical"
    );
    assert_eq!(
        finding(&json, "scheduler.conf", "insecure-permissions")["severity"],
        "warning"
    );
    assert_eq!(run.code, 2);
}

/// Fails loudly unless the suite runs as root: chown needs it, and CI runs as root.
fn require_root() {
    use std::os::unix::fs::MetadataExt as _;
    let probe = tempfile::tempfile().unwrap();
    assert_eq!(
        probe.metadata().unwrap().uid(),
        0,
        "this test chowns files and must run as root (CI does)"
    );
}

fn chown(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

/// Chowns every file and folder under `root` (not following symlinks).
fn chown_tree(root: &std::path::Path, uid: u32) {
    std::os::unix::fs::lchown(root, Some(uid), None).unwrap();
    if fs::symlink_metadata(root).unwrap().is_dir() {
        for entry in fs::read_dir(root).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

#[test]
fn key_owned_by_another_user() {
    require_root();
    let host = Host::new(AdminLayout::Init129);
    chown(&host.file("pki/front-proxy-client.key"), 4242);
    let json = host.check(&[]).json();
    assert_eq!(
        codes(&json),
        pairs(&[("front-proxy-client", "insecure-permissions")])
    );
    assert!(
        message(&json, "front-proxy-client", "insecure-permissions")
            .contains("owned by uid 4242, not root")
    );
}

#[test]
fn a_kubernetes_dir_chowned_to_a_user_is_critical() {
    require_root();
    let host = Host::new(AdminLayout::Init129);
    let dir = host.path().display().to_string();
    chown(host.path(), 4242);
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[(&dir, "insecure-permissions")]));
    let found = finding(&json, &dir, "insecure-permissions");
    assert_eq!(found["severity"], "critical");
    assert_eq!(found["path"], dir.as_str());
    assert_eq!(
        found["message"],
        format!("{dir}: owned by uid 4242, not root")
    );
    assert!(
        found["remedy"]
            .as_str()
            .unwrap()
            .contains("chown root:root")
    );
    assert_eq!(run.code, 2);
}

#[test]
fn a_group_writable_pki_is_critical() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod("pki", 0o775);
    let pki = host.file("pki").display().to_string();
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[(&pki, "insecure-permissions")]));
    let found = finding(&json, &pki, "insecure-permissions");
    assert_eq!(found["severity"], "critical");
    assert_eq!(
        found["message"],
        format!("{pki}: folder mode 0775 lets its group replace the credentials in it")
    );
    assert_eq!(run.code, 2);
}

#[test]
fn a_world_writable_kubernetes_dir_and_etcd_dir_are_flagged() {
    let host = Host::new(AdminLayout::Init129);
    host.chmod(".", 0o757);
    host.chmod("pki/etcd", 0o1777);
    // A certificate is public to read, but whoever rewrites a CA's chooses what is trusted.
    host.chmod("pki/etcd/ca.crt", 0o666);
    let dir = host.path().display().to_string();
    let etcd = host.file("pki/etcd").display().to_string();
    let run = host.check(&[]);
    let json = run.json();
    let mut expected = vec![
        (dir.as_str(), "insecure-permissions"),
        (etcd.as_str(), "insecure-permissions"),
        ("etcd-ca", "insecure-permissions"),
    ];
    expected.sort_unstable();
    assert_eq!(codes(&json), pairs(&expected));
    assert_eq!(
        message(&json, &dir, "insecure-permissions"),
        format!("{dir}: folder mode 0757 lets others replace the credentials in it")
    );
    assert_eq!(
        message(&json, &etcd, "insecure-permissions"),
        format!("{etcd}: folder mode 1777 lets its group and others replace the credentials in it")
    );
    assert_eq!(
        finding(&json, &dir, "insecure-permissions")["severity"],
        "critical"
    );
    assert_eq!(run.code, 2);
    // A folder only readable by others is no finding: kubeadm makes them 0755.
    host.chmod(".", 0o755);
    host.chmod("pki/etcd", 0o711);
    host.chmod("pki/etcd/ca.crt", 0o644);
    assert_eq!(codes(&host.check(&[]).json()), pairs(&[]));
}

#[test]
fn the_test_owner_knob_names_the_owner_and_the_rule_stays_strict() {
    require_root();
    let host = Host::new(AdminLayout::Init129);
    chown_tree(host.path(), 4242);
    // Without the knob the owner is root: every kubeconfig, key and folder is flagged.
    let json = host.check(&[]).json();
    let flagged: Vec<(String, String)> = codes(&json);
    assert!(
        flagged
            .iter()
            .all(|(_, code)| code == "insecure-permissions"),
        "{flagged:?}"
    );
    for name in [
        host.path().display().to_string(),
        host.file("pki").display().to_string(),
        host.file("pki/etcd").display().to_string(),
        "admin.conf".into(),
        "ca".into(),
        "sa".into(),
        "etcd-server".into(),
    ] {
        assert!(
            message(&json, &name, "insecure-permissions").contains("owned by uid 4242, not root"),
            "{name}"
        );
    }
    // With the knob naming 4242, the same tree is clean ...
    let run = host.check_owned_by(Some(4242), &[]);
    assert_eq!(codes(&run.json()), pairs(&[]));
    assert_eq!(run.code, 0);
    // ... and one file left to root is then the odd one out, named as such.
    chown(&host.file("pki/apiserver.key"), 0);
    let json = host.check_owned_by(Some(4242), &[]).json();
    assert_eq!(
        codes(&json),
        pairs(&[("apiserver", "insecure-permissions")])
    );
    assert!(
        message(&json, "apiserver", "insecure-permissions")
            .contains("owned by uid 0, not uid 4242")
    );
}

#[test]
fn a_bad_test_owner_is_a_usage_error() {
    let host = Host::new(AdminLayout::Init129);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubecred"))
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env("KUBECRED_TEST_OWNER", "root")
        .args(["--kubernetes-dir"])
        .arg(host.path())
        .args(["--no-copies", "check"])
        .output()
        .unwrap();
    let run = common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: KUBECRED_TEST_OWNER: not a uid (a number)\n"
    );
}

#[test]
fn missing_credentials_are_critical() {
    let host = Host::new(AdminLayout::Init129);
    fs::remove_file(host.file("pki/apiserver.crt")).unwrap();
    fs::remove_file(host.file("pki/front-proxy-client.key")).unwrap();
    fs::remove_file(host.file("admin.conf")).unwrap();
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("admin.conf", "missing"),
            ("apiserver", "missing"),
            ("front-proxy-client", "missing")
        ])
    );
    assert!(
        message(&json, "front-proxy-client", "missing")
            .contains("front-proxy-client.key is absent")
    );
    assert_eq!(run.code, 2);
}

#[test]
fn swapped_kubeconfigs_have_unexpected_identities() {
    let host = Host::new(AdminLayout::Init129);
    let scheduler = fs::read(host.file("scheduler.conf")).unwrap();
    fs::write(
        host.file("scheduler.conf"),
        fs::read(host.file("controller-manager.conf")).unwrap(),
    )
    .unwrap();
    fs::write(host.file("controller-manager.conf"), scheduler).unwrap();
    let run = host.check(&[]);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("controller-manager.conf", "unexpected-identity"),
            ("scheduler.conf", "unexpected-identity")
        ])
    );
    let message = message(&json, "scheduler.conf", "unexpected-identity");
    assert!(
        message.contains("CN=system:kube-controller-manager"),
        "{message}"
    );
    assert!(
        message.contains("expected CN=system:kube-scheduler"),
        "{message}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn every_kubeadm_identity_from_128_to_136_is_accepted() {
    // 1.29 to 1.36.0 put apiserver-kubelet-client in kubeadm:cluster-admins; the 2026
    // patch releases put it in no group. Both are kubeadm's own, neither is a finding.
    let pre = Host::new(AdminLayout::Pre129);
    let split = Host::new(AdminLayout::Init129);
    for host in [&pre, &split] {
        let json = host.check(&[]).json();
        assert!(
            !codes(&json)
                .iter()
                .any(|(_, code)| code == "unexpected-identity"),
            "{json:#}"
        );
    }
    // An etcd-server certificate for another node is not this node's.
    let other = {
        let mut spec = spec(AdminLayout::Init129);
        spec.node_name = "cp-2".into();
        Host::generate(&spec)
    };
    let host = Host::new(AdminLayout::Init129);
    for file in [
        "pki/etcd/server.crt",
        "pki/etcd/server.key",
        "pki/etcd/ca.crt",
        "pki/etcd/ca.key",
    ] {
        fs::copy(other.file(file), host.file(file)).unwrap();
    }
    let json = host.check(&[]).json();
    assert!(
        codes(&json).contains(&("etcd-server".to_owned(), "unexpected-identity".to_owned())),
        "{json:#}"
    );
}

#[test]
fn stale_admin_copies_are_found_and_matched_by_fingerprint() {
    let home = tempfile::tempdir().unwrap();
    let old = Host::new(AdminLayout::Pre129);
    let host = Host::new(AdminLayout::Init129);
    let alice = home.path().join("alice/.kube");
    let bob = home.path().join("bob/.kube");
    let carol = home.path().join("carol/.kube");
    for dir in [&alice, &bob, &carol] {
        fs::create_dir_all(dir).unwrap();
    }
    // alice: the current admin.conf (fine); bob: super-admin.conf (system:masters);
    // carol: an old admin.conf of another CA (not this cluster's: ignored).
    fs::copy(host.file("admin.conf"), alice.join("config")).unwrap();
    fs::copy(host.file("super-admin.conf"), bob.join("config")).unwrap();
    fs::copy(old.file("admin.conf"), carol.join("config")).unwrap();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    let run = host.check(&[&glob]);
    let json = run.json();
    let bob_config = bob.join("config").display().to_string();
    assert_eq!(
        codes(&json),
        vec![(bob_config.clone(), "stale-admin-copy".to_owned())]
    );
    let message = message(&json, &bob_config, "stale-admin-copy");
    assert!(message.contains("system:masters"), "{message}");
    // Another identity's credential: no command rewrites it into admin.conf's.
    let remedy = common::finding(&json, &bob_config, "stale-admin-copy")["remedy"]
        .as_str()
        .unwrap();
    assert!(
        remedy.contains("replace it with a copy of the current admin.conf"),
        "{remedy}"
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        json["copies"].as_array().unwrap().len(),
        2,
        "alice's and bob's hold this cluster's admin certificates"
    );
}

#[test]
fn a_relative_copies_glob_is_read_from_the_working_folder_and_named_absolutely() {
    let home = tempfile::tempdir().unwrap();
    let host = Host::new(AdminLayout::Pre129);
    fs::create_dir_all(home.path().join("[x]/.kube")).unwrap();
    fs::copy(
        host.file("admin.conf"),
        home.path().join("[x]/.kube/config"),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubecred"))
        .current_dir(home.path().join("[x]"))
        .args(["--kubernetes-dir", host.path().to_str().unwrap()])
        .args(["--copies", ".kube/config", "check", "-o", "json"])
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env_remove(kubecred::domain::config::CONFIG_VAR)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The folder's `[x]` is a name, not a pattern: the copy is found.
    let copy = home.path().join("[x]/.kube/config").display().to_string();
    assert!(
        codes(&json).contains(&(copy.clone(), "stale-admin-copy".to_owned())),
        "{json}"
    );
}

#[test]
fn pre_129_admin_copy_in_root_kube_config_is_stale() {
    let home = tempfile::tempdir().unwrap();
    let host = Host::new(AdminLayout::Pre129);
    fs::create_dir_all(home.path().join(".kube")).unwrap();
    fs::copy(host.file("admin.conf"), home.path().join(".kube/config")).unwrap();
    let glob = format!("--copies={}/.kube/config", home.path().display());
    let json = host.check(&[&glob]).json();
    let copy = home.path().join(".kube/config").display().to_string();
    assert!(codes(&json).contains(&(copy.clone(), "stale-admin-copy".to_owned())));
    assert!(
        message(&json, &copy, "stale-admin-copy")
            .contains("admin.conf's current certificate, which is in system:masters")
    );
    let remedy = common::finding(&json, &copy, "stale-admin-copy")["remedy"]
        .as_str()
        .unwrap();
    assert!(
        remedy.contains("`kubecred migrate --update-copies`"),
        "{remedy}"
    );
}

#[test]
fn check_never_changes_the_host() {
    let host = Host::new(AdminLayout::Pre129);
    host.chmod("pki/apiserver.key", 0o644);
    let before = snapshot(host.path());
    for format in ["table", "json", "nagios", "prometheus"] {
        let dir = host.path().display().to_string();
        let run = common::kubecred(&[
            "--kubernetes-dir",
            &dir,
            "--no-copies",
            "check",
            "-o",
            format,
        ]);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
    }
    assert_eq!(snapshot(host.path()), before);
}

#[test]
fn textfile_is_written_atomically_and_readable_by_node_exporter() {
    let host = Host::new(AdminLayout::Pre129);
    let out = tempfile::tempdir().unwrap();
    let textfile = out.path().join("kubecred.prom");
    let arg = format!("--textfile={}", textfile.display());
    let run = host.check(&[&arg]);
    assert_eq!(run.code, 1);
    let text = fs::read_to_string(&textfile).unwrap();
    assert!(
        text.contains("kubecred_admin_in_system_masters 1\n"),
        "{text}"
    );
    assert!(text.contains("kubecred_check_status 1\n"));
    assert_eq!(
        fs::metadata(&textfile).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn check_exit_statuses_for_bad_input_are_unknown() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let run = common::kubecred(&["--kubernetes-dir", &dir, "--no-copies", "check"]);
    assert_eq!(run.code, 3, "no kubeadm layout is UNKNOWN");
    assert!(
        run.stderr
            .starts_with("error: no kubeadm credentials found ("),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "));
    let run = common::kubecred(&["check", "--warn", "soon"]);
    assert_eq!(run.code, 3, "a bad argument to check is UNKNOWN");
    let run = common::kubecred(&["check", "--warn", "7d", "--crit", "30d"]);
    assert_eq!(run.code, 3);
    let host = Host::new(AdminLayout::Init129);
    let arg = format!("--textfile={}", host.file("no/such/dir/x.prom").display());
    assert_eq!(
        host.check(&[&arg]).code,
        3,
        "an unwritable textfile is UNKNOWN"
    );
    let run = common::kubecred(&["inspect", "--bogus"]);
    assert_eq!(run.code, 2, "other commands exit 2 on usage errors");
}
