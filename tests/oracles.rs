//! openssl and kubectl as independent judges of what kubecred reads: dates,
//! subjects, groups, serials, fingerprints, signatures, key matches, and
//! that every kubeconfig the demo writes loads in kubectl.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::kubecred;
use serde_json::Value;

fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("{program} is needed by this test ({err}); .ci/run installs it")
        });
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn openssl_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .trim()
        .to_owned()
}

/// `Nov 26 12:00:00 2027 GMT` from RFC 3339, as `openssl x509 -enddate` prints it.
fn openssl_date(rfc3339: &str) -> String {
    let when = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    when.format(format).unwrap()
}

/// What openssl says the public key of `<base>.key` and of `<base>.crt` is.
fn openssl_public_keys(root: &str, base: &str) -> (String, String) {
    let key = tool(
        "openssl",
        &["pkey", "-in", &format!("{root}/pki/{base}.key"), "-pubout"],
    )
    .1;
    let cert = tool(
        "openssl",
        &[
            "x509",
            "-in",
            &format!("{root}/pki/{base}.crt"),
            "-noout",
            "-pubkey",
        ],
    )
    .1;
    (key, cert)
}

struct Demo {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    let run = kubecred(&["demo".as_ref(), root.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    Demo { _dir: dir, root }
}

/// Every credential's certificate as a PEM file openssl can read, with its CA file.
fn certificate_files(root: &Path, json: &Value, scratch: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let ca_file = |ca: &str| match ca {
        "ca" => root.join("pki/ca.crt"),
        "front-proxy-ca" => root.join("pki/front-proxy-ca.crt"),
        "etcd-ca" => root.join("pki/etcd/ca.crt"),
        other => panic!("unknown CA {other}"),
    };
    let mut out = Vec::new();
    for cred in json["credentials"].as_array().unwrap() {
        if cred["state"] != "present" || cred["name"] == "sa" {
            continue;
        }
        let name = cred["name"].as_str().unwrap().to_owned();
        let file = if cred["source"]["type"] == "file" {
            PathBuf::from(cred["source"]["path"].as_str().unwrap())
        } else {
            let config = kubecred::domain::kubeconfig::Kubeconfig::parse(
                &fs::read(root.join(&name)).unwrap(),
            )
            .unwrap();
            let data = config.users[0]
                .user
                .client_certificate_data
                .clone()
                .unwrap();
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            let path = scratch.join(format!("{name}.pem"));
            fs::write(&path, pem).unwrap();
            path
        };
        let ca = cred["ca"].as_str().map_or_else(|| file.clone(), ca_file);
        out.push((name, file, ca));
    }
    out
}

#[test]
fn openssl_agrees_on_every_certificate_of_the_demo_host() {
    let demo = demo();
    let root = demo.root.display().to_string();
    let run = kubecred(&[
        "--kubernetes-dir",
        &root,
        "--no-copies",
        "inspect",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let scratch = common::state_dir();
    let certs = certificate_files(&demo.root, &json, scratch.path());
    assert_eq!(
        certs.len(),
        14,
        "10 leaves and kubeconfigs + kubelet.conf + 3 CAs (no super-admin.conf in 1.28)"
    );
    for (name, file, ca) in certs {
        let cred = common::credential(&json, &name);
        let path = file.display().to_string();
        let (ok, text) = tool(
            "openssl",
            &[
                "x509",
                "-noout",
                "-in",
                &path,
                "-subject",
                "-issuer",
                "-serial",
                "-startdate",
                "-enddate",
                "-fingerprint",
                "-sha256",
                "-nameopt",
                "RFC2253",
            ],
        );
        assert!(ok, "{text}");
        assert_eq!(
            openssl_field(&text, "notAfter="),
            openssl_date(cred["notAfter"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            openssl_field(&text, "notBefore="),
            openssl_date(cred["notBefore"].as_str().unwrap()),
            "{name}"
        );
        let subject = openssl_field(&text, "subject=");
        let mut groups = Vec::new();
        let mut cn = String::new();
        for part in subject.split(',') {
            if let Some(value) = part.strip_prefix("O=") {
                groups.push(value.to_owned());
            } else if let Some(value) = part.strip_prefix("CN=") {
                cn = value.to_owned();
            }
        }
        assert_eq!(cred["subject"]["commonName"], cn.as_str(), "{name}");
        assert_eq!(
            cred["subject"]["groups"],
            serde_json::json!(groups),
            "{name}"
        );
        let serial = openssl_field(&text, "serial=");
        let number = |hex: &str| u128::from_str_radix(hex, 16).unwrap();
        assert_eq!(
            number(cred["serial"].as_str().unwrap()),
            number(&serial),
            "{name}"
        );
        let fingerprint = openssl_field(&text, "sha256 Fingerprint=")
            .replace(':', "")
            .to_lowercase();
        assert_eq!(cred["fingerprintSha256"], fingerprint.as_str(), "{name}");
        let (verified, text) = tool(
            "openssl",
            &[
                "verify",
                "-attime",
                &common::now_epoch(),
                "-CAfile",
                &ca.display().to_string(),
                &path,
            ],
        );
        assert!(verified, "openssl verify {name}: {text}");
        if cred["kind"] != "ca" {
            assert_eq!(cred["signatureValid"], true, "{name}");
        }
    }
}

#[test]
fn openssl_and_kubecred_agree_on_a_foreign_signature_and_a_foreign_key() {
    let demo = demo();
    let other = common::Host::new(kubecred::domain::demo::AdminLayout::Init129);
    fs::copy(
        other.file("pki/apiserver.crt"),
        demo.root.join("pki/apiserver.crt"),
    )
    .unwrap();
    fs::copy(
        other.file("pki/front-proxy-client.key"),
        demo.root.join("pki/front-proxy-client.key"),
    )
    .unwrap();
    let root = demo.root.display().to_string();
    let json = kubecred(&[
        "--kubernetes-dir",
        &root,
        "--no-copies",
        "inspect",
        "-o",
        "json",
    ])
    .json();
    let find = |name: &str| common::credential(&json, name).clone();
    let (verified, text) = tool(
        "openssl",
        &[
            "verify",
            "-attime",
            &common::now_epoch(),
            "-CAfile",
            &format!("{root}/pki/ca.crt"),
            &format!("{root}/pki/apiserver.crt"),
        ],
    );
    assert!(!verified);
    assert!(
        (text.contains("unable to get local issuer certificate")
            || text.contains("certificate signature failure"))
            && !text.contains("expired")
            && !text.contains("not yet valid"),
        "refused for its issuer, not its dates: {text}"
    );
    assert_eq!(find("apiserver")["signatureValid"], false);
    let (key_pub, cert_pub) = openssl_public_keys(&root, "front-proxy-client");
    assert_ne!(key_pub, cert_pub);
    assert_eq!(
        find("front-proxy-client")["key"]["matchesCertificate"],
        false
    );
    let (key_pub, cert_pub) = openssl_public_keys(&root, "apiserver-kubelet-client");
    assert_eq!(key_pub, cert_pub);
    assert_eq!(
        find("apiserver-kubelet-client")["key"]["matchesCertificate"],
        true
    );
}

#[test]
fn kubectl_loads_every_kubeconfig_the_demo_writes() {
    let demo = demo();
    for name in [
        "admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "kubelet.conf",
    ] {
        let path = demo.root.join(name).display().to_string();
        let (ok, text) = tool(
            "kubectl",
            &[
                "config",
                "view",
                "--kubeconfig",
                &path,
                "-o",
                "jsonpath={.current-context}",
            ],
        );
        assert!(ok, "kubectl rejects {name}: {text}");
        let user = match name {
            "admin.conf" => "kubernetes-admin",
            "controller-manager.conf" => "system:kube-controller-manager",
            "scheduler.conf" => "system:kube-scheduler",
            _ => "system:node:cp-1",
        };
        assert_eq!(text.trim(), format!("{user}@kubernetes"), "{name}");
    }
}

#[test]
fn demo_host_has_kubeadm_modes_and_one_leaf_near_expiry() {
    let demo = demo();
    let snapshot = common::snapshot(&demo.root);
    for (path, (_, mode)) in &snapshot {
        let name = path.display().to_string();
        let expected = if path.extension().is_some_and(|ext| ext == "crt") {
            0o644
        } else if name.ends_with("kubelet-client-current.pem") {
            0o777 // the symlink
        } else {
            0o600
        };
        assert_eq!(*mode, expected, "{name}");
    }
    let root = demo.root.display().to_string();
    let run = kubecred(&[
        "--kubernetes-dir",
        &root,
        "--no-copies",
        "check",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        common::codes(&run.json()),
        common::pairs(&[
            ("admin.conf", "admin-in-system-masters"),
            ("front-proxy-client", "expires-soon"),
            ("super-admin.conf", "super-admin-absent"),
        ])
    );
    let again = kubecred(&["demo", &root]);
    assert_eq!(
        again.code, 1,
        "the demo never writes into a non-empty folder"
    );
    assert!(again.stderr.contains("not empty"));
    assert_eq!(common::snapshot(&demo.root), snapshot);
}
