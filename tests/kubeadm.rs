//! kubeadm's own trees (written by a real kubeadm v1.28.7): no false findings,
//! and every date, CA and "externally managed" flag equal to what
//! `kubeadm certs check-expiration` printed for the same tree.

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
use std::path::Path;

use common::{codes, credential, kubeadm_tree, kubecred, pairs};

const VARIANTS: [&str; 3] = ["rsa", "ecdsa", "external-etcd"];

fn check(dir: &Path) -> common::Run {
    let dir = dir.display().to_string();
    kubecred(&[
        "--kubernetes-dir",
        &dir,
        "--no-copies",
        "check",
        "-o",
        "json",
    ])
}

#[test]
fn no_false_findings_on_kubeadm_trees() {
    for variant in VARIANTS {
        let tree = kubeadm_tree(variant);
        let run = check(tree.path());
        assert_eq!(
            codes(&run.json()),
            pairs(&[
                ("admin.conf", "admin-in-system-masters"),
                ("super-admin.conf", "super-admin-absent")
            ]),
            "{variant}"
        );
        assert_eq!(run.code, 1, "{variant}");
    }
}

/// `Nov 26, 2027 11:41 UTC` from RFC 3339.
fn kubeadm_date(rfc3339: &str) -> String {
    let when = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    let format =
        time::macros::format_description!("[month repr:short] [day], [year] [hour]:[minute] UTC");
    when.format(format).unwrap()
}

#[test]
fn dates_cas_and_external_flags_match_kubeadm_check_expiration() {
    for variant in VARIANTS {
        let tree = kubeadm_tree(variant);
        let json = check(tree.path()).json();
        let table = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "testdata/kubeadm-1.28.7/{variant}/check-expiration.txt"
        )))
        .unwrap();
        let mut rows = 0;
        for line in table.lines() {
            let cols: Vec<&str> = line
                .split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            if cols.is_empty() || cols[0].starts_with("CERTIFICATE") || cols[0].starts_with('[') {
                continue;
            }
            rows += 1;
            let name = cols[0];
            let cred = credential(&json, name);
            assert_eq!(cred["state"], "present", "{variant} {name}");
            assert_eq!(
                kubeadm_date(cred["notAfter"].as_str().unwrap()),
                cols[1],
                "{variant} {name} not-after"
            );
            let residual = cols[2];
            let left = cred["secondsLeft"].as_i64().unwrap();
            let ours = if residual.ends_with('y') {
                format!("{}y", left / 86400 / 365)
            } else {
                format!("{}d", left / 86400)
            };
            assert_eq!(ours, residual, "{variant} {name} residual time");
            let is_ca = cols.len() == 4;
            let external = if is_ca { cols[3] } else { cols[4] };
            assert_eq!(external, "no", "kubeadm's trees hold every CA key");
            if is_ca {
                assert_eq!(cred["kind"], "ca");
                assert_eq!(cred["key"]["state"], "present");
            } else {
                assert_eq!(cred["ca"], cols[3], "{variant} {name} CA");
                assert_eq!(cred["signatureValid"], true, "{variant} {name}");
                assert_eq!(cred["key"]["matchesCertificate"], true, "{variant} {name}");
            }
        }
        let expected_rows = if variant == "external-etcd" {
            6 + 2
        } else {
            10 + 3
        };
        assert_eq!(
            rows, expected_rows,
            "{variant}: every row of check-expiration compared"
        );
        if variant == "external-etcd" {
            for name in [
                "etcd-ca",
                "etcd-server",
                "etcd-peer",
                "etcd-healthcheck-client",
                "apiserver-etcd-client",
            ] {
                assert_eq!(credential(&json, name)["state"], "absent", "{name}");
                assert_eq!(credential(&json, name)["expected"], false, "{name}");
            }
        }
    }
}

#[test]
fn kubeadm_key_encodings_are_read() {
    let rsa = kubeadm_tree("rsa");
    let json = check(rsa.path()).json();
    assert_eq!(
        credential(&json, "apiserver")["key"]["encoding"],
        "RSA PRIVATE KEY"
    );
    assert_eq!(credential(&json, "apiserver")["keyAlgorithm"], "RSA-2048");
    let ecdsa = kubeadm_tree("ecdsa");
    let json = check(ecdsa.path()).json();
    assert_eq!(
        credential(&json, "apiserver")["key"]["encoding"],
        "EC PRIVATE KEY"
    );
    assert_eq!(credential(&json, "apiserver")["keyAlgorithm"], "ECDSA-P256");
    assert_eq!(
        credential(&json, "admin.conf")["subject"]["groups"],
        serde_json::json!(["system:masters"])
    );
}

#[test]
fn kubeadm_129_shaped_kubeconfigs_are_clean() {
    let tree = kubeadm_tree("rsa");
    let minted =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kubeadm-1.28.7/rsa/minted-1.29-shape");
    for name in ["admin.conf", "super-admin.conf"] {
        fs::copy(minted.join(name), tree.path().join(name)).unwrap();
        fs::set_permissions(tree.path().join(name), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let run = check(tree.path());
    let json = run.json();
    assert_eq!(codes(&json), pairs(&[]), "{}", run.stdout);
    assert_eq!(
        credential(&json, "admin.conf")["subject"]["groups"],
        serde_json::json!(["kubeadm:cluster-admins"])
    );
    assert_eq!(
        credential(&json, "super-admin.conf")["subject"]["commonName"],
        "kubernetes-super-admin"
    );
    assert_eq!(run.code, 0);
}
