//! `renew` and `rollback`: compared with what kubeadm's own `certs renew all`
//! left (openssl as judge), fault injection at every step, crash recovery,
//! the lock, and rollback byte for byte.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use common::{Host, codes, kubeadm_tree, kubecred, now, pairs, snapshot, spec};
use kubecred::domain::demo::AdminLayout;
use kubecred::domain::kubeconfig::Kubeconfig;
use kubecred::domain::model::{Inventory, Scope};
use kubecred::domain::plan::Write as Change;
use kubecred::domain::renew::{self, KeyChoice, Request};
use kubecred::edge::apply::hook::{Hook, Step};
use kubecred::edge::apply::transaction::{self, ApplyError};
use time::Duration;

fn run_in(dir: &Path, state: &Path, args: &[&str]) -> common::Run {
    let mut full = vec![
        "--kubernetes-dir".to_owned(),
        dir.display().to_string(),
        "--state-dir".to_owned(),
        state.display().to_string(),
    ];
    full.extend(args.iter().map(|arg| (*arg).to_owned()));
    kubecred(&full)
}

fn openssl_text(pem: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-text"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is needed by this test; .ci/run installs it");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), pem).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

/// The fields kubeadm's renewal fixes, as openssl prints them: subject, issuer,
/// key type and size, every extension (name, criticality, value but key ids),
/// signature algorithm. Serial, dates, key and signature bytes are left out.
fn fields(pem: &[u8]) -> BTreeSet<String> {
    let text = openssl_text(pem);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = BTreeSet::new();
    for (index, line) in lines.iter().enumerate() {
        let next = lines.get(index + 1).copied().unwrap_or_default();
        if line.starts_with("Subject:")
            || line.starts_with("Issuer:")
            || line.starts_with("Signature Algorithm:")
            || line.starts_with("Public Key Algorithm:")
            || line.starts_with("Public-Key:")
            || line.starts_with("ASN1 OID:")
        {
            out.insert((*line).to_owned());
        } else if *line != "X509v3 extensions:"
            && line.starts_with("X509v3 ")
            && (line.ends_with(':') || line.ends_with("critical"))
        {
            let value = if line.contains("Key Identifier") {
                "<id>"
            } else {
                next
            };
            out.insert(format!("{line} {value}"));
        }
    }
    out
}

fn without_key_type(fields: BTreeSet<String>) -> BTreeSet<String> {
    fields
        .into_iter()
        .filter(|line| {
            !line.starts_with("Public Key Algorithm:")
                && !line.starts_with("Public-Key:")
                && !line.starts_with("ASN1 OID:")
        })
        .collect()
}

fn pem_of(dir: &Path, name: &str) -> Vec<u8> {
    if Path::new(name).extension().is_some_and(|ext| ext == "conf") {
        let config = Kubeconfig::parse(&fs::read(dir.join(name)).unwrap()).unwrap();
        let data = config.users[0]
            .user
            .client_certificate_data
            .clone()
            .unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap()
    } else {
        fs::read(dir.join(name)).unwrap()
    }
}

fn key_label(dir: &Path, file: &str) -> String {
    let pem = if Path::new(file).extension().is_some_and(|ext| ext == "conf") {
        let config = Kubeconfig::parse(&fs::read(dir.join(file)).unwrap()).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(config.users[0].user.client_key_data.clone().unwrap())
            .unwrap()
    } else {
        fs::read(dir.join(file)).unwrap()
    };
    String::from_utf8(pem)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

const RENEWED: [(&str, &str); 10] = [
    ("admin.conf", "admin.conf"),
    ("apiserver", "pki/apiserver.crt"),
    ("apiserver-etcd-client", "pki/apiserver-etcd-client.crt"),
    (
        "apiserver-kubelet-client",
        "pki/apiserver-kubelet-client.crt",
    ),
    ("controller-manager.conf", "controller-manager.conf"),
    ("etcd-healthcheck-client", "pki/etcd/healthcheck-client.crt"),
    ("etcd-peer", "pki/etcd/peer.crt"),
    ("etcd-server", "pki/etcd/server.crt"),
    ("front-proxy-client", "pki/front-proxy-client.crt"),
    ("scheduler.conf", "scheduler.conf"),
];

#[test]
fn renew_all_matches_kubeadm_certs_renew_all() {
    for variant in ["rsa", "ecdsa", "external-etcd"] {
        let tree = kubeadm_tree(variant);
        let state = common::state_dir();
        let before = snapshot(tree.path());
        let run = run_in(tree.path(), state.path(), &["renew", "all", "--yes"]);
        assert_eq!(run.code, 0, "{variant}: {}", run.stderr);
        assert!(
            run.stderr.contains("MISSING! super-admin.conf"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("You must restart kube-apiserver"),
            "{}",
            run.stderr
        );
        let after = snapshot(tree.path());
        let kubeadm_after = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/kubeadm-1.28.7")
            .join(variant)
            .join("after-renew");
        let original = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/kubeadm-1.28.7")
            .join(variant)
            .join("etc-kubernetes");
        // The same files change as with kubeadm; modes and owners are kept.
        for (rel, (sha, mode)) in &before {
            let kubeadm_changed =
                fs::read(original.join(rel)).unwrap() != fs::read(kubeadm_after.join(rel)).unwrap();
            let ours_changed = after[rel].0 != *sha;
            assert_eq!(
                ours_changed,
                kubeadm_changed,
                "{variant}: {} changed by kubeadm: {kubeadm_changed}",
                rel.display()
            );
            assert_eq!(after[rel].1, *mode, "{variant}: mode of {}", rel.display());
            let meta = fs::metadata(tree.path().join(rel)).unwrap();
            assert_eq!(meta.uid(), fs::metadata(tree.path()).unwrap().uid());
        }
        assert_eq!(
            after.len(),
            before.len(),
            "no file added or removed (no .lock left behind)"
        );
        for (name, file) in RENEWED {
            if variant == "external-etcd"
                && (name.starts_with("etcd") || name == "apiserver-etcd-client")
            {
                continue;
            }
            let ours = pem_of(tree.path(), file);
            let theirs = pem_of(&kubeadm_after, file);
            // Everything kubeadm fixes is the same, but the key type: `--key-algorithm auto`
            // keeps the replaced key's algorithm, while kubeadm uses the cluster's configured
            // one. They differ only where kubeadm 1.28 itself wrote RSA kubeconfig keys into
            // an ECDSA cluster; `key_algorithm_ecdsa_matches_kubeadm_on_its_ecdsa_tree` below
            // shows the explicit algorithm gives kubeadm's result there too.
            assert_eq!(
                without_key_type(fields(&ours)),
                without_key_type(fields(&theirs)),
                "{variant}: {name} differs from kubeadm's renewal"
            );
            assert_eq!(
                fields(&ours),
                fields(&pem_of(&original, file)),
                "{variant}: {name} differs from the certificate it replaced"
            );
            assert!(
                !openssl_text(&ours).contains("Subject Key Identifier"),
                "kubeadm writes no SKI on leaves"
            );
            let key_file = file.replace(".crt", ".key");
            assert_eq!(
                key_label(tree.path(), &key_file),
                key_label(&original, &key_file),
                "{variant}: {name} key encoding"
            );
            // openssl verifies each against the right CA.
            let ca = match name {
                "front-proxy-client" => "pki/front-proxy-ca.crt",
                n if n.starts_with("etcd") || n == "apiserver-etcd-client" => "pki/etcd/ca.crt",
                _ => "pki/ca.crt",
            };
            let scratch = tempfile::NamedTempFile::new().unwrap();
            fs::write(scratch.path(), &ours).unwrap();
            // At the fixed clock the renewal ran at, not the calendar's.
            let verify = Command::new("openssl")
                .args(["verify", "-attime", &common::now_epoch(), "-CAfile"])
                .arg(tree.path().join(ca))
                .arg(scratch.path())
                .output()
                .unwrap();
            assert!(
                verify.status.success(),
                "{variant}: {name}: {}",
                String::from_utf8_lossy(&verify.stdout)
            );
            // The not-after is now + 8760h.
            let cert = kubecred::domain::cert::Certificate::from_der(
                &kubecred::domain::pem::parse(&ours).unwrap()[0].der,
            )
            .unwrap();
            assert_eq!(
                cert.not_after - cert.not_before,
                Duration::hours(8760) + Duration::minutes(5)
            );
        }
        // kubectl loads every rewritten kubeconfig.
        for conf in ["admin.conf", "controller-manager.conf", "scheduler.conf"] {
            let status = Command::new("kubectl")
                .args(["config", "view", "--kubeconfig"])
                .arg(tree.path().join(conf))
                .output()
                .unwrap();
            assert!(status.status.success(), "{conf}");
        }
        // And check finds nothing new.
        let json = run_in(
            tree.path(),
            state.path(),
            &["--no-copies", "check", "-o", "json"],
        )
        .json();
        assert_eq!(
            codes(&json),
            pairs(&[
                ("admin.conf", "admin-in-system-masters"),
                ("super-admin.conf", "super-admin-absent")
            ])
        );
    }
}

#[test]
fn key_algorithm_ecdsa_matches_kubeadm_on_its_ecdsa_tree() {
    let tree = kubeadm_tree("ecdsa");
    let state = common::state_dir();
    let run = run_in(
        tree.path(),
        state.path(),
        &["renew", "all", "--key-algorithm", "ecdsa-p256", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kubeadm_after =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kubeadm-1.28.7/ecdsa/after-renew");
    for (name, file) in RENEWED {
        assert_eq!(
            fields(&pem_of(tree.path(), file)),
            fields(&pem_of(&kubeadm_after, file)),
            "{name}"
        );
        let key_file = file.replace(".crt", ".key");
        assert_eq!(
            key_label(tree.path(), &key_file),
            key_label(&kubeadm_after, &key_file),
            "{name}"
        );
    }
}

#[test]
fn kubeadm_kubeconfigs_round_trip_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kubeadm-1.28.7");
    for variant in ["rsa", "ecdsa", "external-etcd"] {
        for conf in [
            "admin.conf",
            "controller-manager.conf",
            "scheduler.conf",
            "kubelet.conf",
        ] {
            let bytes = fs::read(root.join(variant).join("etc-kubernetes").join(conf)).unwrap();
            let config = Kubeconfig::parse(&bytes).unwrap();
            assert_eq!(
                config.to_yaml().unwrap(),
                String::from_utf8(bytes).unwrap(),
                "{variant}/{conf}"
            );
        }
    }
}

#[test]
fn unknown_fields_and_yaml_11_words_survive_and_kubectl_still_loads() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let path = host.file("admin.conf");
    let text = fs::read_to_string(&path).unwrap();
    let extended = text.replace(
        "preferences: {}\n",
        "extensions:\n- extension:\n    answer: \"on\"\n  name: site\npreferences:\n  colors: true\n",
    ) + "x-unknown-top: \"0x1F\"\n";
    let extended = extended.replace(
        "  user:\n",
        "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      args:\n      - \"yes\"\n      - \"on\"\n      - \"0x1F\"\n      - \"no\"\n      command: /bin/true\n      interactiveMode: Never\n",
    );
    fs::write(&path, &extended).unwrap();
    let view = |p: &Path| {
        let out = Command::new("kubectl")
            .args(["config", "view", "-o", "json", "--kubeconfig"])
            .arg(p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl refuses {}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Embedded data is redacted by kubectl view; drop it to compare the rest.
        json["users"][0]["user"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| !k.ends_with("-data"));
        json
    };
    let before = view(&path);
    let run = run_in(host.path(), state.path(), &["renew", "admin.conf", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        view(&path),
        before,
        "every field but the credentials survives"
    );
    let after = fs::read_to_string(&path).unwrap();
    for word in [
        "- \"yes\"",
        "- \"on\"",
        "- \"0x1F\"",
        "- \"no\"",
        "x-unknown-top: \"0x1F\"",
    ] {
        assert!(after.contains(word), "{word} must stay quoted:\n{after}");
    }
    assert_ne!(after, extended, "the credentials changed");
}

#[test]
fn within_and_dry_run_change_nothing() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "all", "--within", "30d", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to renew"));
    assert!(run.stdout.contains("skipped: not due"));
    let run = run_in(host.path(), state.path(), &["renew", "all", "--dry-run"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("new ECDSA-P256"), "{}", run.stdout);
    assert_eq!(snapshot(host.path()), before);
    assert!(
        !state.path().join("backups").exists(),
        "no backup when nothing is written"
    );
    // Without a terminal and without --yes: refused, nothing written.
    let run = run_in(host.path(), state.path(), &["renew", "all"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("without --yes"), "{}", run.stderr);
    assert_eq!(snapshot(host.path()), before);
}

#[test]
fn within_renews_only_what_is_due() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "etcd-peer".into(),
        (now() - Duration::days(350), now() + Duration::days(10)),
    );
    let host = Host::generate(&spec);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let run = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "renew", "--within", "30d", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(plan["items"].as_array().unwrap().len(), 1);
    assert_eq!(plan["items"][0]["name"], "etcd-peer");
    let after = snapshot(host.path());
    let changed: Vec<String> = before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .map(|k| k.display().to_string())
        .collect();
    assert_eq!(changed, ["pki/etcd/peer.crt", "pki/etcd/peer.key"]);
    assert!(
        run.stderr.contains("You must restart etcd"),
        "{}",
        run.stderr
    );
}

#[test]
fn refusals_name_why() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    for (name, why) in [
        ("ca", "a CA rotation is a different operation"),
        ("front-proxy-ca", "never renews CAs"),
        ("kubelet.conf", "the kubelet rotates its own"),
        ("bogus", "unknown certificate `bogus`"),
        ("sa", "never renewed"),
    ] {
        let run = run_in(host.path(), state.path(), &["renew", name, "--yes"]);
        assert_eq!(run.code, 2, "{name}");
        assert!(run.stderr.contains(why), "{name}: {}", run.stderr);
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1
        );
    }
}

#[test]
fn external_ca_and_absent_super_admin_are_skipped_not_failed() {
    let host = Host::new(AdminLayout::Joined129);
    fs::remove_file(host.file("pki/front-proxy-ca.key")).unwrap();
    let state = common::state_dir();
    let before = fs::read(host.file("pki/front-proxy-client.crt")).unwrap();
    let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("external CA: front-proxy-ca.key is absent"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("super-admin.conf"), "{}", run.stdout);
    assert_eq!(
        fs::read(host.file("pki/front-proxy-client.crt")).unwrap(),
        before
    );
    assert!(!host.file("super-admin.conf").exists(), "never recreated");
}

#[test]
fn not_after_is_capped_at_the_ca() {
    let mut spec = spec(AdminLayout::Init129);
    spec.overrides.insert(
        "etcd-ca".into(),
        (now() - Duration::days(3000), now() + Duration::days(100)),
    );
    spec.overrides.insert(
        "etcd-server".into(),
        (now() - Duration::days(300), now() + Duration::days(20)),
    );
    let host = Host::generate(&spec);
    let state = common::state_dir();
    let run = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "renew", "etcd-server", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(plan["items"][0]["capped"], true);
    assert_eq!(plan["items"][0]["newNotAfter"], "2027-03-06T12:00:00Z");
    assert!(
        run.stderr
            .contains("warning: etcd-server is capped at etcd-ca's expiry"),
        "{}",
        run.stderr
    );
}

/// The backup sets in `state`.
fn backup_sets(state: &Path) -> usize {
    fs::read_dir(state.join("backups")).map_or(0, Iterator::count)
}

#[test]
fn a_renewal_capped_at_the_ca_is_not_repeated_by_every_run() {
    // The demo node, whose CAs all expire on 2035-12-09 12:00 UTC.
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let state = dir.path().join("state");
    let run = kubecred(&[
        "demo".as_ref(),
        "--key-algorithm".as_ref(),
        "ecdsa-p256".as_ref(),
        node.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let renew = |clock: &str, args: &[&str]| {
        let mut full = vec!["--no-copies", "renew"];
        full.extend(args);
        run_at(clock, &node, &state, &full)
    };
    let rotate = "must be rotated first: capped there, the new certificate would";
    let before = snapshot(&node);
    // The timer's command 19 days before: a 19-day certificate is inside the 30-day window.
    let run = renew(
        "2035-11-20T12:00:00Z",
        &["--within", "30d", "--yes", "--trust-clock"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: apiserver not renewed: its CA ca expires on 2035-12-09 12:00 UTC and must be rotated first: capped there, the new certificate would be valid for only 19d, inside the --within 30d window, and be due again at once"
        ),
        "{}",
        run.stderr
    );
    // One second before the CAs' expiry: no certificate for one second.
    let run = renew(
        "2035-12-09T11:59:59Z",
        &["apiserver", "--yes", "--trust-clock"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "error: cannot renew apiserver: its CA ca expires on 2035-12-09 12:00 UTC and must be rotated first: capped there, the new certificate would be valid for only 1s, less than a day"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&node), before, "nothing written");
    assert_eq!(backup_sets(&state), 0);
    // Without a window it renews once, capped at the CAs.
    let run = renew("2035-11-20T12:00:00Z", &["--yes", "--trust-clock"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("renewed 10 certificate(s)"),
        "{}",
        run.stderr
    );
    assert_eq!(backup_sets(&state), 1);
    let renewed = snapshot(&node);
    // An hour later the timer's run changes nothing: every renewal would end where the current one does.
    for args in [
        &["--within", "30d", "--yes"][..],
        &["all", "--within", "30d", "--yes", "--all-or-nothing"][..],
        &["--within", "30d", "--dry-run"][..],
    ] {
        let run = renew("2035-11-20T13:00:00Z", args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        let faults: Vec<&str> = run
            .stderr
            .lines()
            .filter(|line| line.starts_with("error: "))
            .collect();
        let expected = if args.contains(&"--all-or-nothing") {
            1
        } else {
            10
        };
        assert_eq!(faults.len(), expected, "{args:?}: {}", run.stderr);
        for line in faults {
            assert!(
                line.contains(&format!(
                    "expires on 2035-12-09 12:00 UTC and {rotate} expire no later than the current one (2035-12-09 12:00 UTC)"
                )),
                "{args:?}: {line}"
            );
        }
        assert!(!run.stderr.contains("You must restart"), "{}", run.stderr);
        assert!(!run.stderr.contains("renewed 10"), "{}", run.stderr);
        assert_eq!(snapshot(&node), renewed, "{args:?}: nothing written");
        assert_eq!(backup_sets(&state), 1, "{args:?}: no new backup");
    }
}

#[test]
fn reuse_key_keeps_keys_and_key_algorithm_changes_them() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let key = fs::read(host.file("pki/apiserver.key")).unwrap();
    let crt = fs::read(host.file("pki/apiserver.crt")).unwrap();
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "apiserver", "--reuse-key", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read(host.file("pki/apiserver.key")).unwrap(), key);
    assert_ne!(fs::read(host.file("pki/apiserver.crt")).unwrap(), crt);
    let run = run_in(
        host.path(),
        state.path(),
        &[
            "renew",
            "scheduler.conf",
            "--key-algorithm",
            "ecdsa-p384",
            "--yes",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        key_label(host.path(), "scheduler.conf"),
        "-----BEGIN EC PRIVATE KEY-----"
    );
    let json = run_in(
        host.path(),
        state.path(),
        &["--no-copies", "check", "-o", "json"],
    )
    .json();
    assert_eq!(codes(&json), pairs(&[]));
    let scheduler = common::credential(&json, "scheduler.conf");
    assert_eq!(scheduler["keyAlgorithm"], "ECDSA-P384");
}

#[test]
fn a_subject_kubeadm_cannot_write_is_refused() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let csr = dir.path().join("x.csr");
    let ok = |cmd: &mut Command| assert!(cmd.status().unwrap().success());
    ok(Command::new("openssl")
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
        ])
        .arg(&key));
    ok(Command::new("openssl")
        .args(["req", "-new", "-subj", "/O=a/O=b/CN=kube-apiserver", "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "30", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(host.file("pki/ca.crt"))
        .arg("-CAkey")
        .arg(host.file("pki/ca.key"))
        .arg("-out")
        .arg(host.file("pki/apiserver.crt")));
    fs::copy(&key, host.file("pki/apiserver.key")).unwrap();
    let before = snapshot(host.path());
    // openssl dates the certificate from the real clock, after the test clock:
    // the clock check is not what this test is about.
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "apiserver", "--trust-clock", "--yes"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot be reproduced exactly: 2 organizations"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let held = kubecred::edge::apply::lock::RunLock::acquire(
        state.path(),
        host.path(),
        kubecred::edge::apply::lock::Wait::Never,
    )
    .unwrap();
    let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: another kubecred run holds the lock"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
    drop(held);
    assert_eq!(
        run_in(host.path(), state.path(), &["renew", "all", "--yes"]).code,
        0
    );
}

#[test]
fn rollback_after_renew_returns_the_tree_byte_for_byte() {
    let host = Host::new(AdminLayout::Pre129);
    host.chmod("scheduler.conf", 0o640);
    let state = common::state_dir();
    let before = snapshot(host.path());
    assert_eq!(
        run_in(host.path(), state.path(), &["renew", "all", "--yes"]).code,
        0
    );
    let renewed = snapshot(host.path());
    assert_ne!(renewed, before);
    let list = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    )
    .json();
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0]["operation"], "renew");
    assert_eq!(
        backups[0]["files"].as_array().unwrap().len(),
        17,
        "7 leaves × 2 files + 3 kubeconfigs"
    );
    let id = backups[0]["id"].as_str().unwrap().to_owned();
    let backup_dir = PathBuf::from(backups[0]["path"].as_str().unwrap());
    assert_eq!(fs::metadata(&backup_dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(
        fs::metadata(backup_dir.join("manifest.json"))
            .unwrap()
            .mode()
            & 0o777,
        0o600
    );
    let run = run_in(host.path(), state.path(), &["rollback", &id, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        snapshot(host.path()),
        before,
        "rollback restores bytes and modes"
    );
    // The rollback backed up the renewed state first: rolling that back renews again.
    let list = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    )
    .json();
    let second = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["operation"] == "rollback")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        run_in(host.path(), state.path(), &["rollback", &second, "--yes"]).code,
        0
    );
    assert_eq!(snapshot(host.path()), renewed);
    // An unknown id is an error naming the backups folder.
    let run = run_in(host.path(), state.path(), &["rollback", "nope", "--yes"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no backup `nope`"), "{}", run.stderr);
}

/// Fails (or "crashes", by panicking) at the N-th filesystem step.
struct FailAt {
    n: usize,
    seen: AtomicUsize,
    crash: bool,
}

impl Hook for FailAt {
    fn before(&self, step: Step, path: &Path) -> io::Result<()> {
        let count = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if count == self.n {
            if std::env::var_os("KUBECRED_DEBUG_STEP").is_some() {
                eprintln!("failing step {count}: {step:?} {}", path.display());
            }
            assert!(!self.crash, "simulated crash at step {count}");
            return Err(io::Error::other(format!(
                "injected failure at step {count}"
            )));
        }
        Ok(())
    }
}

fn prepared_changes(root: &Path) -> Vec<Change> {
    let scope = Scope {
        kubernetes_dir: root.to_path_buf(),
        cert_dir: root.join("pki"),
        copies: vec![],
        expected_owner: 0,
    };
    let inventory = Inventory::scan(&scope);
    let request = Request {
        names: vec![],
        within: None,
        validity: Duration::hours(8760),
        key: KeyChoice::Auto,
        trust_clock: false,
        all_or_nothing: false,
        update_copies: false,
    };
    let plan = renew::plan(&inventory, &request, now()).unwrap();
    renew::prepare(
        &plan,
        &inventory,
        &kubecred::edge::inventory::Host::new(&inventory),
    )
    .unwrap()
    .renewed
    .into_iter()
    .flat_map(|r| r.changes)
    .collect()
}

fn no_key_mismatch(root: &Path) {
    let scope = Scope {
        kubernetes_dir: root.to_path_buf(),
        cert_dir: root.join("pki"),
        copies: vec![],
        expected_owner: 0,
    };
    let inventory = Inventory::scan(&scope);
    let findings = kubecred::domain::findings::evaluate(
        &inventory,
        now(),
        &kubecred::domain::findings::Thresholds::default(),
    );
    assert!(
        findings
            .iter()
            .all(|f| f.code != kubecred::domain::findings::Code::KeyMismatch),
        "{findings:#?}"
    );
}

#[test]
fn a_failure_at_any_step_leaves_the_tree_as_it_was() {
    let template = Host::new(AdminLayout::Init129);
    let before = snapshot(template.path());
    let counter = FailAt {
        n: usize::MAX,
        seen: AtomicUsize::new(0),
        crash: false,
    };
    {
        let dir = tempfile::tempdir().unwrap();
        common::copy_tree(template.path(), dir.path());
        let state = common::state_dir();
        transaction::apply(
            state.path(),
            dir.path(),
            "renew",
            &prepared_changes(dir.path()),
            now(),
            &counter,
        )
        .unwrap();
    }
    let steps = counter.seen.load(Ordering::SeqCst);
    assert!(steps > 100, "a renew all takes {steps} steps");
    for n in 1..=steps {
        let dir = tempfile::tempdir().unwrap();
        common::copy_tree(template.path(), dir.path());
        let state = common::state_dir();
        let changes = prepared_changes(dir.path());
        let hook = FailAt {
            n,
            seen: AtomicUsize::new(0),
            crash: false,
        };
        let result = transaction::apply(state.path(), dir.path(), "renew", &changes, now(), &hook);
        match result {
            Err(ApplyError::Backup(_) | ApplyError::RolledBack { .. }) => {}
            other => panic!("step {n}: expected a clean failure, got {other:?}"),
        }
        assert_eq!(
            snapshot(dir.path()),
            before,
            "step {n}: the tree is as it was"
        );
        assert!(
            !state.path().join("journal").exists(),
            "step {n}: no journal left"
        );
        no_key_mismatch(dir.path());
    }
}

#[test]
fn a_panic_at_any_step_restores_the_tree_before_it_unwinds() {
    let template = Host::new(AdminLayout::Init129);
    let before = snapshot(template.path());
    let steps = 150;
    let mut panicked_mid_write = 0;
    for n in (1..=steps).step_by(3) {
        let dir = tempfile::tempdir().unwrap();
        common::copy_tree(template.path(), dir.path());
        let state = common::state_dir();
        let changes = prepared_changes(dir.path());
        let hook = FailAt {
            n,
            seen: AtomicUsize::new(0),
            crash: true,
        };
        let tree_was_touched = AtomicUsize::new(0);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut transaction = transaction::Transaction::begin(
                state.path(),
                dir.path(),
                "renew",
                &changes,
                now(),
                &hook,
            )
            .unwrap();
            for change in &changes {
                transaction.write(change).unwrap();
                tree_was_touched.store(1, Ordering::SeqCst);
            }
            transaction.commit().unwrap();
        }))
        .is_err();
        if !panicked {
            continue; // finished before step n
        }
        if tree_was_touched.load(Ordering::SeqCst) == 1 {
            panicked_mid_write += 1;
        }
        // No next run needed: the transaction put every file back as the panic unwound.
        assert_eq!(snapshot(dir.path()), before, "step {n}: restored on unwind");
        assert!(
            !state.path().join("journal").exists(),
            "step {n}: no journal left"
        );
        no_key_mismatch(dir.path());
        let run = run_in(
            dir.path(),
            state.path(),
            &["check", "-o", "json", "--no-copies"],
        );
        assert!(
            !run.stdout.contains("interrupted-change"),
            "step {n}: {}",
            run.stdout
        );
    }
    assert!(
        panicked_mid_write > 5,
        "some panics came after files were written ({panicked_mid_write})"
    );
}

/// Fails every step from the N-th on: the restore fails too.
struct FailFrom(usize, AtomicUsize);

impl Hook for FailFrom {
    fn before(&self, _: Step, _: &Path) -> io::Result<()> {
        let count = self.1.fetch_add(1, Ordering::SeqCst) + 1;
        if count >= self.0 {
            return Err(io::Error::other("the disk is gone"));
        }
        Ok(())
    }
}

#[test]
fn a_failed_restore_names_the_backup_to_restore_by_hand() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let changes = prepared_changes(host.path());
    // The backup, the journal and the first write succeed; then everything fails.
    let begin_steps = {
        let counter = FailAt {
            n: usize::MAX,
            seen: AtomicUsize::new(0),
            crash: false,
        };
        let scratch = common::state_dir();
        drop(
            transaction::Transaction::begin(
                scratch.path(),
                host.path(),
                "renew",
                &changes,
                now(),
                &counter,
            )
            .unwrap(),
        );
        counter.seen.load(Ordering::SeqCst)
    };
    // The first file is written (write, fsync, rename), then every step fails:
    // the restore, which must put that file back, fails too.
    let hook = FailFrom(begin_steps + 4, AtomicUsize::new(0));
    match transaction::apply(state.path(), host.path(), "renew", &changes, now(), &hook) {
        Err(err @ ApplyError::RollbackFailed { .. }) => {
            let ApplyError::RollbackFailed { backup, .. } = &err else {
                unreachable!()
            };
            assert!(
                backup.join("manifest.json").exists(),
                "the named backup is complete"
            );
            // The error as the operator reads it: the first failure, the failed
            // restore, and the backup to restore by hand.
            let message = err.to_string();
            assert!(
                message.contains("the disk is gone; restoring failed too ("),
                "{message}"
            );
            assert!(
                message.ends_with(&format!("restore backup {} by hand", backup.display())),
                "{message}"
            );
        }
        other => panic!("expected a failed restore, got {other:?}"),
    }
    // The next run finds the journal and restores the backup.
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "all", "--within", "1d", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("restored its backup"), "{}", run.stderr);
    no_key_mismatch(host.path());
}

/// Runs the binary at another clock than the fixed one.
fn run_at(clock: &str, dir: &Path, state: &Path, args: &[&str]) -> common::Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kubecred"))
        .arg("--kubernetes-dir")
        .arg(dir)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("KUBECRED_TEST_NOW", clock)
        .env_remove("KUBECRED_KUBERNETES_DIR")
        .env_remove("KUBECRED_STATE_DIR")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let run = common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn unix(clock: &str) -> i64 {
    time::OffsetDateTime::parse(clock, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// Whether openssl accepts `cert` as signed by `ca` and valid at `clock`.
fn openssl_valid_at(ca: &Path, cert: &[u8], clock: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaf.pem");
    fs::write(&file, cert).unwrap();
    Command::new("openssl")
        .args(["verify", "-attime", &unix(clock).to_string(), "-CAfile"])
        .arg(ca)
        .arg(&file)
        .output()
        .expect("openssl is needed by this test; .ci/run installs it")
        .status
        .success()
}

#[test]
fn durations_out_of_range_are_usage_errors_naming_the_flag() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["renew", "--validity", "100000y", "--yes"],
            2,
            "'--validity <DUR>'",
        ),
        (
            &["renew", "--within", "100000y", "--yes"],
            2,
            "'--within [<DUR>]'",
        ),
        (
            &["renew", "--validity=-1d", "--yes"],
            2,
            "cannot be negative",
        ),
        (
            &["renew", "--validity", "9000y", "--yes"],
            2,
            "--validity 9000y is out of range: from 2026-11-26 12:00 UTC it ends after 9999-12-31",
        ),
        (
            &[
                "renew",
                "--within",
                "9000y",
                "--validity",
                "9000y",
                "--dry-run",
            ],
            2,
            "--validity 9000y is out of range",
        ),
        (
            &["renew", "apiserver", "--validity", "0s", "--yes"],
            2,
            "--validity 0s is shorter than a day",
        ),
        (
            &["renew", "--within", "30d", "--validity", "7d", "--yes"],
            2,
            "--within 30d must be shorter than --validity 7d",
        ),
        (
            &["renew", "--within", "365d", "--yes"],
            2,
            "--within 1y must be shorter than --validity 1y: every new certificate would be due again at once",
        ),
        (
            &["renew", "--within", "30d", "--validity", "30d", "--dry-run"],
            2,
            "--within 30d must be shorter than --validity 30d",
        ),
        (
            &["migrate", "--offline", "--validity", "100000y", "--dry-run"],
            2,
            "'--validity <DUR>'",
        ),
        (
            &["migrate", "--offline", "--validity", "9000y", "--dry-run"],
            2,
            "cannot migrate: --validity 9000y is out of range",
        ),
        (
            &["migrate", "--offline", "--validity", "12h", "--dry-run"],
            2,
            "cannot migrate: --validity 12h is shorter than a day",
        ),
        (&["check", "--warn", "100000y"], 3, "'--warn <DUR>'"),
        (
            &["check", "--crit", "99999999999999999999d"],
            3,
            "'--crit <DUR>'",
        ),
    ];
    for (args, code, why) in cases {
        let run = run_in(host.path(), state.path(), args);
        assert_eq!(run.code, *code, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{args:?}: {}", run.stderr);
        assert_eq!(snapshot(host.path()), before, "{args:?}");
    }
    // At the end of time, even the default validity is out of range: a usage error, no panic.
    let run = run_at(
        "9999-12-30T00:00:00Z",
        host.path(),
        state.path(),
        &["renew", "--trust-clock", "--yes"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--validity 1y is out of range"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
}

/// The tree of `Host::new` is issued at the fixed clock: CAs valid until
/// 2036-11-23 12:00, leaves until 2027-11-26 12:00.
const MOVED_CLOCKS: [(&str, &str); 3] = [
    ("2036-12-01T00:00:00Z", "after the CA's not-after"),
    ("2028-11-26T12:00:00Z", "two years ahead"),
    ("2020-11-26T12:00:00Z", "six years back"),
];

#[test]
fn a_moved_clock_refuses_to_renew_and_check_names_it() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    for (clock, case) in MOVED_CLOCKS {
        let shown = format!("the node clock ({} {} UTC)", &clock[..10], &clock[11..16]);
        let run = run_at(clock, host.path(), state.path(), &["renew", "all", "--yes"]);
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("error: refusing to renew: {shown}")),
            "{case}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("--trust-clock"),
            "{case}: {}",
            run.stderr
        );
        let run = run_at(
            clock,
            host.path(),
            state.path(),
            &["migrate", "--offline", "--yes"],
        );
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("cannot migrate: refusing to issue: {shown}")),
            "{case}: {}",
            run.stderr
        );
        assert_eq!(snapshot(host.path()), before, "{case}: nothing written");
        // check reports the clock as a warning (the expiries it sees are critical anyway).
        let run = run_at(
            clock,
            host.path(),
            state.path(),
            &["--no-copies", "check", "-o", "json"],
        );
        let json = run.json();
        let finding = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "clock-implausible")
            .unwrap_or_else(|| panic!("{case}: {json}"));
        assert_eq!(finding["severity"], "warning");
        assert!(
            finding["message"].as_str().unwrap().starts_with(&shown),
            "{case}: {finding}"
        );
    }
    // At the fixed clock the same tree raises no doubt.
    let json = host.check(&[]).json();
    assert_eq!(codes(&json), pairs(&[]));
    assert!(!state.path().join("backups").exists(), "no backup was made");
}

#[test]
fn a_trusted_clock_still_never_writes_a_certificate_invalid_at_now() {
    for (clock, case) in MOVED_CLOCKS {
        let host = Host::new(AdminLayout::Init129);
        let state = common::state_dir();
        let before = snapshot(host.path());
        let run = run_at(
            clock,
            host.path(),
            state.path(),
            &["-o", "json", "renew", "all", "--trust-clock", "--yes"],
        );
        if case == "two years ahead" {
            // The CAs are valid then: every leaf is renewed, valid at that clock (openssl judges).
            assert_eq!(run.code, 0, "{case}: {}", run.stderr);
            assert_eq!(run.json()["items"].as_array().unwrap().len(), 11);
            for (name, file) in RENEWED {
                let pem = pem_of(host.path(), file);
                let ca = if name.starts_with("etcd") || name == "apiserver-etcd-client" {
                    "pki/etcd/ca.crt"
                } else if name == "front-proxy-client" {
                    "pki/front-proxy-ca.crt"
                } else {
                    "pki/ca.crt"
                };
                assert!(
                    openssl_valid_at(&host.file(ca), &pem, clock),
                    "{name} at {clock}"
                );
                assert!(
                    !openssl_valid_at(&host.file(ca), &pem, common::NOW),
                    "{name} is not yet valid at the fixed clock"
                );
            }
            continue;
        }
        // Past the CAs, or before them: every leaf is a fault naming its CA; nothing is written.
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        let plan = run.json();
        assert!(
            plan["items"].as_array().unwrap().is_empty(),
            "{case}: {plan}"
        );
        let skipped = plan["skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 11, "{case}: {plan}");
        let why = if case == "six years back" {
            "is not valid before 2026-11-26 11:55 UTC (the clock says 2020-11-26 12:00 UTC)"
        } else {
            "expired on 2036-11-23 12:00 UTC (the clock says 2036-12-01 00:00 UTC): the CA must be rotated first"
        };
        for skip in skipped {
            assert_eq!(skip["reason"], "fault", "{case}: {skip}");
            assert!(
                skip["message"].as_str().unwrap().contains(why),
                "{case}: {skip}"
            );
        }
        assert!(run.stderr.contains("nothing was renewed"), "{}", run.stderr);
        assert_eq!(snapshot(host.path()), before, "{case}: nothing written");
        // A named renewal refuses outright.
        let run = run_at(
            clock,
            host.path(),
            state.path(),
            &["renew", "apiserver", "--trust-clock", "--yes"],
        );
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("error: cannot renew apiserver: its CA ca"),
            "{case}: {}",
            run.stderr
        );
        assert_eq!(snapshot(host.path()), before, "{case}: nothing written");
    }
}

/// Signs a leaf for `public` with the host's `ca`, dated at the fixed clock.
fn sign_leaf(
    host: &Host,
    ca: &str,
    subject: rcgen::DistinguishedName,
    public: &impl rcgen::PublicKeyData,
) -> String {
    let ca_pem = fs::read_to_string(host.file(&format!("pki/{ca}.crt"))).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&fs::read_to_string(host.file(&format!("pki/{ca}.key"))).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = subject;
    params.not_before = now() - Duration::minutes(5);
    params.not_after = now() + Duration::days(20);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.signed_by(public, &issuer).unwrap().pem()
}

/// Has openssl's `ca` sign a CSR for `key` (subject `subj`) with the host's
/// CA at `ca_stem` (`pki/etcd/ca`), dated at the fixed clock (not the real one).
fn openssl_ca_sign(host: &Host, ca_stem: &str, key: &Path, subj: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let ok = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let csr = dir.path().join("leaf.csr");
    ok(Command::new("openssl")
        .args(["req", "-new", "-subj", subj, "-key"])
        .arg(key)
        .arg("-out")
        .arg(&csr));
    fs::write(dir.path().join("index.txt"), b"").unwrap();
    let config = dir.path().join("ca.cnf");
    fs::write(
        &config,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}\nrand_serial = yes\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\norganizationName = optional\ncommonName = supplied\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = dir.path().join("leaf.crt");
    ok(Command::new("openssl")
        .args(["ca", "-batch", "-notext", "-config"])
        .arg(&config)
        .args([
            "-startdate",
            "20261126115500Z",
            "-enddate",
            "20261216120000Z",
        ])
        .arg("-cert")
        .arg(host.file(&format!("{ca_stem}.crt")))
        .arg("-keyfile")
        .arg(host.file(&format!("{ca_stem}.key")))
        .arg("-in")
        .arg(&csr)
        .arg("-out")
        .arg(&out));
    fs::read(out).unwrap()
}

/// A node with four leaves renew cannot reproduce: a malformed file, an
/// empty subject, an RSA-1024 key, a secp256k1 key.
fn node_with_four_faults() -> Host {
    let host = Host::new(AdminLayout::Init129);
    fs::write(
        host.file("pki/apiserver-etcd-client.crt"),
        b"not a certificate\n",
    )
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = sign_leaf(
        &host,
        "front-proxy-ca",
        rcgen::DistinguishedName::new(),
        &key,
    );
    fs::write(host.file("pki/front-proxy-client.crt"), pem).unwrap();
    fs::write(host.file("pki/front-proxy-client.key"), key.serialize_pem()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rsa = dir.path().join("rsa.key");
    let public = dir.path().join("rsa.pub");
    let ok = |cmd: &mut Command| assert!(cmd.output().unwrap().status.success());
    ok(Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&rsa)
        .arg("1024"));
    ok(Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&rsa)
        .arg("-out")
        .arg(&public));
    let spki = rcgen::SubjectPublicKeyInfo::from_der(&fs::read(&public).unwrap()).unwrap();
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::OrganizationName, "kubeadm:cluster-admins");
    subject.push(rcgen::DnType::CommonName, "kube-apiserver-kubelet-client");
    let pem = sign_leaf(&host, "ca", subject, &spki);
    fs::write(host.file("pki/apiserver-kubelet-client.crt"), pem).unwrap();
    fs::copy(&rsa, host.file("pki/apiserver-kubelet-client.key")).unwrap();
    let k1 = dir.path().join("k1.key");
    ok(Command::new("openssl")
        .args(["ecparam", "-name", "secp256k1", "-genkey", "-noout", "-out"])
        .arg(&k1));
    let pem = openssl_ca_sign(
        &host,
        "pki/etcd/ca",
        &k1,
        "/O=system:masters/CN=kube-etcd-healthcheck-client",
    );
    fs::write(host.file("pki/etcd/healthcheck-client.crt"), pem).unwrap();
    fs::copy(&k1, host.file("pki/etcd/healthcheck-client.key")).unwrap();
    host
}

const FAULTY: [(&str, &str); 4] = [
    ("apiserver-etcd-client", "pki/apiserver-etcd-client"),
    ("apiserver-kubelet-client", "pki/apiserver-kubelet-client"),
    ("etcd-healthcheck-client", "pki/etcd/healthcheck-client"),
    ("front-proxy-client", "pki/front-proxy-client"),
];

#[test]
fn renew_all_renews_what_it_can_and_exits_1_for_the_rest() {
    let host = node_with_four_faults();
    let state = common::state_dir();
    let before = snapshot(host.path());
    // The dry run already says which and why, and exits 1.
    let run = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "renew", "all", "--dry-run"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(plan["items"].as_array().unwrap().len(), 7, "{plan}");
    let faults: Vec<&str> = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|skip| skip["fault"] == true)
        .map(|skip| skip["name"].as_str().unwrap())
        .collect();
    assert_eq!(faults, FAULTY.map(|(name, _)| name));
    let message = |name: &str| {
        plan["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|skip| skip["name"] == name)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        message("front-proxy-client").contains("no common name"),
        "{plan}"
    );
    for (name, why) in [
        ("apiserver-etcd-client", "cannot renew: "),
        ("apiserver-kubelet-client", "RSA-1024"),
        ("etcd-healthcheck-client", "1.3.132.0.10"),
    ] {
        assert!(message(name).contains(why), "{name}: {plan}");
    }
    assert_eq!(snapshot(host.path()), before);
    // --all-or-nothing keeps the old contract: refuse everything.
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "all", "--all-or-nothing", "--yes"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: cannot renew apiserver-etcd-client: "),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
    // A named renewal of an unrenewable credential fails as before.
    for (name, _) in FAULTY {
        let run = run_in(host.path(), state.path(), &["renew", name, "--yes"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("error: cannot renew {name}: ")),
            "{name}: {}",
            run.stderr
        );
    }
    assert_eq!(snapshot(host.path()), before);
    // The timer's run: the seven others are renewed in one backup, the four named on stderr.
    let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for (name, _) in FAULTY {
        assert!(
            run.stderr.contains(&format!("error: {name} not renewed: ")),
            "{name}: {}",
            run.stderr
        );
        assert!(
            run.stdout
                .lines()
                .any(|line| line.starts_with(name) && line.contains("skipped: cannot renew: ")),
            "{name}: {}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("renewed 7 certificate(s)"),
        "{}",
        run.stderr
    );
    let after = snapshot(host.path());
    let changed: BTreeSet<String> = before
        .keys()
        .filter(|rel| after[*rel] != before[*rel])
        .map(|rel| rel.display().to_string())
        .collect();
    let mut expected = BTreeSet::new();
    for (name, file) in RENEWED
        .iter()
        .chain(&[("super-admin.conf", "super-admin.conf")])
    {
        if FAULTY.iter().any(|(faulty, _)| faulty == name) {
            continue;
        }
        expected.insert((*file).to_owned());
        if Path::new(file).extension().is_none_or(|ext| ext != "conf") {
            expected.insert(file.replace(".crt", ".key"));
        }
    }
    assert_eq!(changed, expected);
    let list = run_in(
        host.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    )
    .json();
    assert_eq!(
        list["backups"].as_array().unwrap().len(),
        1,
        "one transaction"
    );
    // What was renewed now checks clean; the faults are still reported by check.
    let json = run_in(
        host.path(),
        state.path(),
        &["--no-copies", "check", "-o", "json"],
    )
    .json();
    for finding in json["findings"].as_array().unwrap() {
        let name = finding["credential"].as_str().unwrap();
        assert!(
            FAULTY.iter().any(|(faulty, _)| *faulty == name),
            "{finding}"
        );
    }
}

/// kubectl's own judgement of a kubeconfig: `config view --minify --flatten`
/// runs client-go's validation of the current context (plain `config view`
/// does not), which refuses a credential named both as data and as a file.
fn kubectl_accepts(path: &Path) -> Result<(), String> {
    let out = Command::new("kubectl")
        .args(["config", "view", "--minify", "--flatten", "--kubeconfig"])
        .arg(path)
        .output()
        .expect("kubectl is needed by this test; .ci/run installs it");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A kubeconfig whose cluster names its CA by file (`certificate-authority:`),
/// which kubectl accepts: renew writes the CA as data in its place, never both,
/// and kubectl and check accept the result.
#[test]
fn renewing_a_kubeconfig_with_a_ca_file_writes_one_kubectl_accepts() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let path = host.file("scheduler.conf");
    let ca_path = host.file("pki/ca.crt");
    let mut config = Kubeconfig::parse(&fs::read(&path).unwrap()).unwrap();
    for cluster in &mut config.clusters {
        cluster.cluster.certificate_authority_data = None;
        cluster.cluster.certificate_authority = Some(ca_path.display().to_string());
    }
    fs::write(&path, config.to_yaml().unwrap()).unwrap();
    kubectl_accepts(&path).expect("kubectl accepts the CA file form");
    let before = codes(&host.check(&[]).json());
    let run = run_in(
        host.path(),
        state.path(),
        &["--no-copies", "renew", "scheduler.conf", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    if let Err(said) = kubectl_accepts(&path) {
        panic!("kubectl refuses the renewed scheduler.conf: {said}");
    }
    let renewed = Kubeconfig::parse(&fs::read(&path).unwrap()).unwrap();
    let ca_data = base64::engine::general_purpose::STANDARD.encode(fs::read(&ca_path).unwrap());
    for cluster in &renewed.clusters {
        assert_eq!(
            cluster.cluster.certificate_authority, None,
            "{}",
            cluster.name
        );
        assert_eq!(
            cluster.cluster.certificate_authority_data.as_deref(),
            Some(ca_data.as_str()),
            "{}",
            cluster.name
        );
    }
    assert_eq!(codes(&host.check(&[]).json()), before);
}

/// A second writer between the plan and the write: kubeadm re-issues a
/// certificate, an operator edits a kubeconfig, a file appears where a new
/// one goes. Every one refuses the whole change, names the file, and leaves
/// the tree, the state dir and the backups exactly as they were.
#[test]
fn a_file_changed_since_the_plan_refuses_every_write() {
    type Meddle = fn(&Path) -> PathBuf;
    let meddlers: [(&str, Meddle); 4] = [
        ("kubeadm re-issued a certificate", |root| {
            let crt = root.join("pki/apiserver.crt");
            let mut bytes = fs::read(&crt).unwrap();
            bytes.extend_from_slice(b"\n");
            fs::write(&crt, bytes).unwrap();
            crt
        }),
        ("a key was replaced", |root| {
            let key = root.join("pki/front-proxy-client.key");
            let other = fs::read(root.join("pki/apiserver-kubelet-client.key")).unwrap();
            fs::write(&key, other).unwrap();
            key
        }),
        ("an operator edited a kubeconfig", |root| {
            let conf = root.join("scheduler.conf");
            let mut bytes = fs::read(&conf).unwrap();
            bytes.extend_from_slice(b"# kubectl config set ...\n");
            fs::write(&conf, bytes).unwrap();
            conf
        }),
        ("a file was removed", |root| {
            let crt = root.join("pki/etcd/peer.crt");
            fs::remove_file(&crt).unwrap();
            crt
        }),
    ];
    for (what, meddle) in meddlers {
        let host = Host::new(AdminLayout::Init129);
        let state = common::state_dir();
        let writes = prepared_changes(host.path());
        let changed = meddle(host.path());
        let before = snapshot(host.path());
        let states_before = snapshot(state.path());
        let err = transaction::apply(
            state.path(),
            host.path(),
            "renew",
            &writes,
            now(),
            &kubecred::edge::apply::hook::Proceed,
        )
        .unwrap_err();
        match &err {
            ApplyError::Changed { path, .. } => assert_eq!(path, &changed, "{what}"),
            other => panic!("{what}: {other}"),
        }
        assert!(err.to_string().starts_with("nothing was changed"), "{err}");
        assert_eq!(snapshot(host.path()), before, "{what}: the tree changed");
        assert_eq!(
            snapshot(state.path()),
            states_before,
            "{what}: a backup or a journal was written"
        );
    }
}

/// The bytes a renewal is made from are the bytes the scan read: a
/// kubeconfig edited between the scan and the issuing is refused then.
#[test]
fn a_file_changed_between_the_scan_and_the_issuing_is_refused() {
    let host = Host::new(AdminLayout::Init129);
    let scope = Scope {
        kubernetes_dir: host.path().to_path_buf(),
        cert_dir: host.file("pki"),
        copies: vec![],
        expected_owner: 0,
    };
    let inventory = Inventory::scan(&scope);
    let request = Request {
        names: vec!["scheduler.conf".into()],
        within: None,
        validity: Duration::hours(8760),
        key: KeyChoice::Auto,
        trust_clock: false,
        all_or_nothing: false,
        update_copies: false,
    };
    let plan = renew::plan(&inventory, &request, now()).unwrap();
    let conf = host.file("scheduler.conf");
    let mut bytes = fs::read(&conf).unwrap();
    bytes.extend_from_slice(b"# edited\n");
    fs::write(&conf, bytes).unwrap();
    let err = renew::prepare(
        &plan,
        &inventory,
        &kubecred::edge::inventory::Host::new(&inventory),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("changed since it was read"), "{err}");
    assert!(err.contains("scheduler.conf"), "{err}");
}

/// A node split as kubeadm 1.29 writes it, and three kubeconfigs under
/// `<home>/<user>/.kube/config`: alice's (uid 1000, 0600) holds admin.conf's
/// credential next to a cluster of her own, root's is admin.conf's bytes,
/// and carol's is super-admin.conf's (another identity: never rewritten).
struct Copies {
    host: Host,
    state: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Copies {
    fn new() -> Self {
        let host = Host::new(AdminLayout::Init129);
        let home = tempfile::tempdir().unwrap();
        let admin = fs::read(host.file("admin.conf")).unwrap();
        let mut config = Kubeconfig::parse(&admin).unwrap();
        let other = Kubeconfig::for_client(
            "staging",
            "https://staging.example:6443",
            b"not-a-ca",
            "alice",
            &kubecred::domain::kubeconfig::ClientCredentials::Embedded("x", "y"),
        );
        config.clusters.extend(other.clusters);
        config.contexts.extend(other.contexts);
        config.users.extend(other.users);
        config.current_context = Some("alice@staging".into());
        let copies = Self {
            host,
            state: common::state_dir(),
            home,
        };
        let super_admin = fs::read(copies.host.file("super-admin.conf")).unwrap();
        for (user, bytes, owner) in [
            ("alice", config.to_yaml().unwrap().into_bytes(), 1000),
            ("root", admin, 0),
            ("carol", super_admin, 0),
        ] {
            let path = copies.copy(user);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            std::os::unix::fs::chown(&path, Some(owner), Some(owner)).unwrap();
        }
        copies
    }

    fn copy(&self, user: &str) -> PathBuf {
        self.home.path().join(user).join(".kube/config")
    }

    fn glob(&self) -> String {
        format!("--copies={}/*/.kube/config", self.home.path().display())
    }

    fn run(&self, args: &[&str]) -> common::Run {
        let glob = self.glob();
        let mut full = vec![glob.as_str()];
        full.extend_from_slice(args);
        run_in(self.host.path(), self.state.path(), &full)
    }

    /// The copies `check` calls stale, sorted.
    fn stale(&self) -> Vec<PathBuf> {
        let run = self.run(&["check", "-o", "json"]);
        let mut stale: Vec<PathBuf> = run.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "stale-admin-copy")
            .map(|f| PathBuf::from(f["path"].as_str().unwrap()))
            .collect();
        stale.sort();
        stale
    }

    /// Every copy's SHA-256, owner and mode.
    fn files(&self) -> Vec<(String, u32, u32, u32)> {
        ["alice", "root", "carol"]
            .iter()
            .map(|user| {
                let meta = fs::metadata(self.copy(user)).unwrap();
                (
                    common::sha256sum(&self.copy(user)),
                    meta.uid(),
                    meta.gid(),
                    meta.mode() & 0o7777,
                )
            })
            .collect()
    }
}

/// The client certificate and key data `user` of the kubeconfig at `path` embeds.
fn client_data(path: &Path, user: &str) -> (String, String) {
    let config = Kubeconfig::parse(&fs::read(path).unwrap()).unwrap();
    let user = &config.users.iter().find(|u| u.name == user).unwrap().user;
    (
        user.client_certificate_data.clone().unwrap(),
        user.client_key_data.clone().unwrap(),
    )
}

/// What python3 reads in a result's `changes`: one `path action sha256` line each
/// (`-` when the entry has no `sha256`).
fn changes_seen_by_python(json: &str) -> Vec<(PathBuf, String, String)> {
    common::python_json(
        json,
        r"'\n'.join(c['path'] + ' ' + c['action'] + ' ' + c.get('sha256', '-') for c in d['changes'])",
    )
    .lines()
    .map(|line| {
        let mut words = line.rsplitn(3, ' ');
        let sha = words.next().unwrap().to_owned();
        let action = words.next().unwrap().to_owned();
        (PathBuf::from(words.next().unwrap()), action, sha)
    })
    .collect()
}

/// The backup ids `rollback --list -o json` shows, as python3 reads them.
fn backup_ids(run: impl Fn(&[&str]) -> common::Run) -> Vec<String> {
    let list = run(&["-o", "json", "rollback", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    common::python_json(&list.stdout, r"'\n'.join(b['id'] for b in d['backups'])")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn renew_update_copies_rewrites_the_copies_of_admin_conf_in_its_own_transaction() {
    let node = Copies::new();
    let (alice, root, carol) = (node.copy("alice"), node.copy("root"), node.copy("carol"));
    // Before: only carol's super-admin copy is stale (system:masters, not admin.conf's).
    assert_eq!(node.stale(), std::slice::from_ref(&carol));
    let tree = snapshot(node.host.path());
    let files = node.files();

    // The plan shows the copies; a dry run writes nothing.
    let run = node.run(&["renew", "admin.conf", "--update-copies", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for copy in [&alice, &root] {
        assert!(
            run.stdout.contains(&format!(
                "admin copy {} (user kubernetes-admin): updated with admin.conf's new credential",
                copy.display()
            )),
            "{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains(&carol.display().to_string()));
    let run = node.run(&[
        "-o",
        "json",
        "renew",
        "admin.conf",
        "--update-copies",
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(common::python_json(&run.stdout, "d['applied']"), "False");
    let planned = changes_seen_by_python(&run.stdout);
    let paths: Vec<&Path> = planned.iter().map(|(p, _, _)| p.as_path()).collect();
    let admin_conf = node.host.file("admin.conf");
    assert_eq!(
        paths,
        [admin_conf.as_path(), alice.as_path(), root.as_path()]
    );
    assert!(
        planned
            .iter()
            .all(|(_, action, sha)| action == "written" && sha == "-"),
        "the new bytes are made only when the renewal runs: {planned:?}"
    );
    assert_eq!(snapshot(node.host.path()), tree);
    assert_eq!(node.files(), files);

    // The renewal: admin.conf and both copies of its credential, in one transaction.
    let run = node.run(&[
        "-o",
        "json",
        "renew",
        "admin.conf",
        "--update-copies",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new = client_data(&admin_conf, "kubernetes-admin");
    assert_ne!(client_data(&root, "kubernetes-admin").0, files[1].0);
    for copy in [&alice, &root] {
        assert_eq!(
            client_data(copy, "kubernetes-admin"),
            new,
            "{}",
            copy.display()
        );
        kubectl_accepts(copy).unwrap();
    }
    // Alice keeps her owner, her mode, her own cluster, user and context.
    let meta = fs::metadata(&alice).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (1000, 1000, 0o600)
    );
    let after = Kubeconfig::parse(&fs::read(&alice).unwrap()).unwrap();
    assert_eq!(after.current_context.as_deref(), Some("alice@staging"));
    assert_eq!(
        (
            after.clusters.len(),
            after.contexts.len(),
            after.users.len()
        ),
        (2, 2, 2)
    );
    assert_eq!(
        client_data(&alice, "alice"),
        ("eA==".to_owned(), "eQ==".to_owned()),
        "her own user is untouched"
    );
    let meta = fs::metadata(&root).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
    // Root's copy was admin.conf's bytes: it is admin.conf's new bytes.
    assert_eq!(fs::read(&root).unwrap(), fs::read(&admin_conf).unwrap());
    // Carol's super-admin copy is another identity: not a byte changed.
    assert_eq!(node.files()[2], files[2]);
    assert_eq!(
        node.stale(),
        std::slice::from_ref(&carol),
        "no copy of admin.conf is stale"
    );
    // The result names each file written with the SHA-256 sha256sum computes.
    let written = changes_seen_by_python(&run.stdout);
    assert_eq!(written.len(), 3, "{written:?}");
    for (path, action, sha) in &written {
        assert_eq!(action, "written");
        assert_eq!(*sha, common::sha256sum(path), "{}", path.display());
    }
    assert_eq!(
        common::python_json(&run.stdout, "[c['updated'] for c in d['copies']]"),
        "[True, True]"
    );
    assert_eq!(
        common::python_json(&run.stdout, "d['updateCopiesCommand']"),
        "None"
    );

    // Rollback restores admin.conf and both copies, owners and modes included.
    let id = common::python_json(&run.stdout, "d['backup']");
    assert_eq!(backup_ids(|args| node.run(args)), std::slice::from_ref(&id));
    let run = node.run(&["rollback", &id, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(snapshot(node.host.path()), tree);
    assert_eq!(node.files(), files);
}

#[test]
fn without_update_copies_the_copies_a_renewal_left_stale_are_named_with_the_command_that_updates_them()
 {
    let node = Copies::new();
    let (alice, root, carol) = (node.copy("alice"), node.copy("root"), node.copy("carol"));
    let files = node.files();
    let run = node.run(&["renew", "admin.conf", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        node.files(),
        files,
        "no copy is written without --update-copies"
    );
    let mut stale = vec![alice.clone(), carol.clone(), root.clone()];
    stale.sort();
    assert_eq!(node.stale(), stale);
    // check's remedy for a copy of admin.conf's identity is the same command.
    let check = node.run(&["check", "-o", "json"]).json();
    let remedy =
        common::finding(&check, &alice.display().to_string(), "stale-admin-copy")["remedy"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(
        remedy.contains("`kubecred renew admin.conf --within 0s --update-copies`"),
        "{remedy}"
    );
    for copy in [&alice, &root] {
        assert!(
            run.stderr.contains(&format!(
                "stale copy: {} (user kubernetes-admin) still holds admin.conf's previous certificate",
                copy.display()
            )),
            "{}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains(&carol.display().to_string()),
        "{}",
        run.stderr
    );
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("update the copies with: "))
        .unwrap_or_else(|| panic!("{}", run.stderr))
        .to_owned();
    // The line is at the end, and pastes into a shell: run it as sh splits it.
    assert!(run.stderr.trim_end().ends_with(&line), "{}", run.stderr);
    let words = common_words(&line);
    assert_eq!(words[0], "kubecred");
    assert_eq!(
        words[words.len() - 5..],
        ["renew", "admin.conf", "--within", "0s", "--update-copies"]
    );
    let admin_before = fs::read(node.host.file("admin.conf")).unwrap();
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.push("--yes");
    let again = kubecred(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        fs::read(node.host.file("admin.conf")).unwrap(),
        admin_before,
        "admin.conf is not renewed again"
    );
    assert_eq!(node.stale(), std::slice::from_ref(&carol));
    let new = client_data(&node.host.file("admin.conf"), "kubernetes-admin");
    assert_eq!(client_data(&alice, "kubernetes-admin"), new);
    let meta = fs::metadata(&alice).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o600));
    // With -o json the same command is in the result.
    let node = Copies::new();
    let run = node.run(&["-o", "json", "renew", "admin.conf", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let command = common::python_json(&run.stdout, "d['updateCopiesCommand']");
    assert!(
        command.ends_with("renew admin.conf --within 0s --update-copies"),
        "{command}"
    );
    assert_eq!(
        common::python_json(
            &run.stdout,
            "[(c['update'], c['updated']) for c in d['copies']]"
        ),
        "[(False, False), (False, False)]"
    );
}

/// The words `sh` makes of a printed command line.
fn common_words(line: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\n' {line}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn renew_and_rollback_json_name_the_backup_and_every_file_with_its_sha256() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let run = |args: &[&str]| {
        let mut full = vec!["--no-copies"];
        full.extend_from_slice(args);
        run_in(host.path(), state.path(), &full)
    };
    let before = snapshot(host.path());
    let dry = run(&["-o", "json", "renew", "all", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(common::python_json(&dry.stdout, "d['applied']"), "False");
    assert_eq!(snapshot(host.path()), before);
    let planned = changes_seen_by_python(&dry.stdout);
    assert_eq!(planned.len(), 17, "7 leaves × 2 files + 3 kubeconfigs");

    let renewed = run(&["-o", "json", "renew", "all", "--yes"]);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
    let doc = &renewed.stdout;
    assert_eq!(common::python_json(doc, "d['applied']"), "True");
    // One document on stdout, the plan's fields kept.
    assert_eq!(common::python_json(doc, "len(d['items'])"), "10");
    let written = changes_seen_by_python(doc);
    assert_eq!(
        written
            .iter()
            .map(|(p, a, _)| (p.clone(), a.clone()))
            .collect::<Vec<_>>(),
        planned
            .iter()
            .map(|(p, a, _)| (p.clone(), a.clone()))
            .collect::<Vec<_>>(),
        "what was planned was written"
    );
    for (path, _, sha) in &written {
        assert_eq!(*sha, common::sha256sum(path), "{}", path.display());
    }
    assert_eq!(
        common::python_json(doc, "d['restart']['pods']"),
        "['kube-apiserver', 'kube-controller-manager', 'etcd', 'kube-scheduler']"
    );
    assert_eq!(
        common::python_json(doc, "(d['restart']['policy'], d['restart']['restarted'])"),
        "('never', [])"
    );
    let id = common::python_json(doc, "d['backup']");
    assert_eq!(backup_ids(run), std::slice::from_ref(&id));
    assert_eq!(
        common::python_json(doc, "d['backupPath']"),
        state.path().join("backups").join(&id).display().to_string()
    );

    // The rollback's plan knows the bytes it puts back: their SHA-256 is the backup's.
    let dry = run(&["-o", "json", "rollback", &id, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        common::python_json(&dry.stdout, "(d['applied'], d['restored'], d['backup'])"),
        format!("(False, '{id}', None)")
    );
    let restoring = changes_seen_by_python(&dry.stdout);
    assert_eq!(restoring.len(), 17);
    let restored = run(&["-o", "json", "rollback", &id, "--yes"]);
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(snapshot(host.path()), before);
    let doc = &restored.stdout;
    assert_eq!(common::python_json(doc, "d['applied']"), "True");
    let put_back = changes_seen_by_python(doc);
    assert_eq!(put_back, restoring, "what was planned was put back");
    for (path, action, sha) in &put_back {
        assert_eq!(action, "written");
        assert_eq!(*sha, common::sha256sum(path), "{}", path.display());
    }
    assert_eq!(
        common::python_json(doc, "d['restart']['pods']"),
        "['kube-apiserver', 'kube-controller-manager', 'etcd', 'kube-scheduler']"
    );
    // The rollback's own backup is an id `rollback` takes: it renews again.
    let undo = common::python_json(doc, "d['backup']");
    assert_ne!(undo, id);
    assert!(backup_ids(run).contains(&undo));
    let again = run(&["-o", "json", "rollback", &undo, "--yes"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    for (path, _, sha) in &written {
        assert_eq!(*sha, common::sha256sum(path), "{}", path.display());
    }
}

/// An admin.conf whose credentials are files cannot be copied into a
/// kubeconfig's data: `--update-copies` names each copy it leaves and why,
/// and the rest of the renewal goes on.
#[test]
fn copies_that_cannot_be_updated_are_named_and_the_renewal_goes_on() {
    let node = Copies::new();
    assert_eq!(node.run(&["renew", "admin.conf", "--yes"]).code, 0);
    let admin = node.host.file("admin.conf");
    let mut config = Kubeconfig::parse(&fs::read(&admin).unwrap()).unwrap();
    for user in &mut config.users {
        let decode = |data: &Option<String>| {
            base64::engine::general_purpose::STANDARD
                .decode(data.as_deref().unwrap())
                .unwrap()
        };
        let (crt, key) = (node.host.file("admin.crt"), node.host.file("admin.key"));
        fs::write(&crt, decode(&user.user.client_certificate_data)).unwrap();
        fs::write(&key, decode(&user.user.client_key_data)).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        user.user.client_certificate_data = None;
        user.user.client_key_data = None;
        user.user.client_certificate = Some(crt.display().to_string());
        user.user.client_key = Some(key.display().to_string());
    }
    fs::write(&admin, config.to_yaml().unwrap()).unwrap();
    let files = node.files();
    let apiserver = node.host.file("pki/apiserver.crt");
    let before = fs::read(&apiserver).unwrap();
    let run = node.run(&["renew", "apiserver", "--update-copies", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(
        fs::read(&apiserver).unwrap(),
        before,
        "apiserver is renewed"
    );
    assert_eq!(node.files(), files, "no copy is written");
    for user in ["alice", "root"] {
        assert!(
            run.stderr.contains(&format!(
                "warning: copy not updated: {}: admin.conf: admin.conf's credentials are not embedded",
                node.copy(user).display()
            )),
            "{}",
            run.stderr
        );
    }
}
