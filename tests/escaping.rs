//! Nothing from a file reaches the terminal raw: a subject with an escape
//! sequence and a newline, and a stale copy in a folder named the same way,
//! print escaped in every format, and every error stays one line.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;

use common::{Host, codes, kubecred};
use kubecred::domain::demo::AdminLayout;
use kubecred::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use rcgen::{Issuer, KeyPair};
use time::Duration;

/// What a hostile subject holds: clear the screen, then forge a line.
const EVIL: &str = "kube-apiserver\x1b[2J\nKUBECRED OK - all fine | x=1";

/// A host whose apiserver.crt has the hostile subject, and a stale admin copy
/// in a home folder whose name holds an escape sequence and a newline.
fn hostile_host() -> (Host, tempfile::TempDir, String) {
    let host = Host::new(AdminLayout::Init129);
    let ca_pem = fs::read_to_string(host.file("pki/ca.crt")).unwrap();
    let ca_key = KeyPair::from_pem(&fs::read_to_string(host.file("pki/ca.key")).unwrap()).unwrap();
    let ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let profile = Profile {
        common_name: EVIL.into(),
        groups: vec![],
        dns_names: vec!["kubernetes".into()],
        ip_addresses: vec![],
        usages: vec![Usage::ServerAuth],
    };
    let now = common::now();
    let pem = issue::leaf(
        &profile,
        &key.pair,
        &ca,
        now - Duration::days(1),
        now + Duration::days(300),
    )
    .unwrap();
    fs::write(host.file("pki/apiserver.crt"), pem).unwrap();
    fs::write(host.file("pki/apiserver.key"), &key.pem).unwrap();
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join("eve\x1b]0;owned\x07\nx/.kube");
    fs::create_dir_all(&kube).unwrap();
    fs::copy(host.file("super-admin.conf"), kube.join("config")).unwrap();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    (host, home, glob)
}

fn run(host: &Host, glob: &str, args: &[&str]) -> common::Run {
    let mut all = vec![
        "--kubernetes-dir".to_owned(),
        host.path().display().to_string(),
        glob.to_owned(),
    ];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    kubecred(&all)
}

fn assert_no_raw_control(output: &str, what: &str) {
    assert!(!output.contains('\x1b'), "{what}: raw ESC in\n{output}");
    assert!(!output.contains('\x07'), "{what}: raw BEL in\n{output}");
    assert!(
        !output.lines().any(|line| line.starts_with("KUBECRED OK")),
        "{what}: a forged line in\n{output}"
    );
}

#[test]
fn hostile_subject_and_path_print_escaped_in_every_format() {
    let (host, _home, glob) = hostile_host();
    for format in ["table", "nagios", "prometheus", "json"] {
        for command in ["check", "inspect"] {
            if command == "inspect" && matches!(format, "nagios" | "prometheus") {
                continue; // inspect speaks table and json only
            }
            let out = run(&host, &glob, &[command, "-o", format, "--color", "always"]);
            let what = format!("{command} -o {format}");
            assert!(
                matches!(out.code, 0..=2),
                "{what}: exit {}: {}",
                out.code,
                out.stderr
            );
            assert_no_raw_control(&without_own_colours(&out.stdout), &what);
        }
    }
    // The finding itself is still there, and readable.
    let table = run(&host, &glob, &["check", "-o", "table"]);
    assert!(
        table
            .stdout
            .contains("kube-apiserver\\x1b[2J\\nKUBECRED OK"),
        "{}",
        table.stdout
    );
    let nagios = run(&host, &glob, &["check", "-o", "nagios"]);
    let status = nagios.stdout.lines().next().unwrap();
    assert_eq!(
        status.matches('|').count(),
        1,
        "one perfdata separator: {status}"
    );
    assert!(nagios.stdout.contains("\\x7c x=1"), "{}", nagios.stdout);
    assert!(
        nagios.stdout.contains("eve\\x1b]0;owned\\x07\\nx"),
        "{}",
        nagios.stdout
    );
}

/// With `--color always` the table holds kubecred's own colour codes, and no
/// other escape: remove exactly those.
fn without_own_colours(output: &str) -> String {
    ["\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[0m"]
        .iter()
        .fold(output.to_owned(), |text, code| text.replace(code, ""))
}

#[test]
fn json_carries_the_exact_subject() {
    let (host, _home, glob) = hostile_host();
    let out = run(&host, &glob, &["check", "-o", "json"]);
    let json = out.json();
    assert!(
        codes(&json)
            .iter()
            .any(|(cred, code)| cred == "apiserver" && code == "unexpected-identity"),
        "{json:#}"
    );
    let apiserver = common::credential(&json, "apiserver");
    assert_eq!(apiserver["subject"]["commonName"], EVIL);
}

#[test]
fn an_error_naming_a_hostile_path_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no\x1b[2J\nsuch");
    let out = kubecred(&[
        "--kubernetes-dir".to_owned(),
        missing.display().to_string(),
        "renew".to_owned(),
        "--dry-run".to_owned(),
    ]);
    assert_ne!(out.code, 0);
    assert!(!out.stderr.contains('\x1b'), "{}", out.stderr);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|line| !line.starts_with("hint:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {:?}", out.stderr);
    assert!(errors[0].starts_with("error: "), "{}", out.stderr);
    assert!(errors[0].contains("no\\x1b[2J\\nsuch"), "{}", out.stderr);
}

#[test]
fn operator_paths_and_backup_names_print_escaped() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let planted = state.path().join("backups/evil\x1b[2J\nid");
    fs::create_dir_all(&planted).unwrap();
    for dir in [state.path().join("backups"), planted.clone()] {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let base = vec![
        "--kubernetes-dir".to_owned(),
        host.path().display().to_string(),
        "--state-dir".to_owned(),
        state.path().display().to_string(),
        "--no-copies".to_owned(),
    ];
    let with = |extra: &[&str]| {
        let mut args = base.clone();
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        kubecred(&args)
    };
    let list = with(&["rollback", "--list"]);
    for (stream, text) in [("stdout", &list.stdout), ("stderr", &list.stderr)] {
        assert!(!text.contains('\x1b'), "rollback --list {stream}: {text}");
    }
    assert!(list.stdout.contains("evil\\x1b[2J\\nid"), "{}", list.stdout);
    let out = state.path().join("out\x1b]0;x\x07");
    let plan = with(&[
        "migrate",
        "--offline",
        "--dry-run",
        "--super-admin-out",
        &out.display().to_string(),
    ]);
    for (stream, text) in [("stdout", &plan.stdout), ("stderr", &plan.stderr)] {
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "migrate plan {stream}: {text}"
        );
    }
    assert!(
        plan.stdout.contains("out\\x1b]0;x\\x07") || plan.stderr.contains("out\\x1b]0;x\\x07"),
        "{plan:?}"
    );
    let demo_dir = state.path().join("demo\x1b[2J");
    let demo = kubecred(&["demo".to_owned(), demo_dir.display().to_string()]);
    assert_eq!(demo.code, 0, "{}", demo.stderr);
    assert!(
        !demo.stdout.contains('\x1b') && !demo.stderr.contains('\x1b'),
        "{demo:?}"
    );
}
