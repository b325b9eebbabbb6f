//! Golden outputs: every format of `inspect` and `check` on kubeadm's own RSA
//! tree with a fixed clock, byte for byte. `UPDATE_GOLDEN=1 cargo test --test golden`
//! rewrites them; review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::fs;
use std::path::Path;

use common::{kubeadm_tree, kubecred};

fn golden(name: &str, args: &[&str], expected_code: i32) {
    let tree = kubeadm_tree("rsa");
    let root = tree.path().display().to_string();
    let mut full = vec!["--kubernetes-dir", &root, "--no-copies"];
    if !args.contains(&"--color") {
        full.extend(["--color", "never"]);
    }
    full.extend_from_slice(args);
    let run = kubecred(&full);
    assert_eq!(run.code, expected_code, "{name}: {}", run.stderr);
    let actual = run.stdout.replace(&root, "[ROOT]");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{name} differs from tests/golden/{name} at line {}:\n  got:      {:?}\n  expected: {:?}\n(UPDATE_GOLDEN=1 rewrites it)",
            first + 1,
            actual.lines().nth(first),
            expected.lines().nth(first)
        );
    }
}

#[test]
fn inspect_table() {
    golden("inspect.txt", &["inspect"], 0);
}

#[test]
fn inspect_json() {
    golden("inspect.json", &["inspect", "-o", "json"], 0);
}

#[test]
fn check_table() {
    golden("check.txt", &["check"], 1);
}

#[test]
fn check_json() {
    golden("check.json", &["check", "-o", "json"], 1);
}

#[test]
fn check_nagios() {
    golden("check.nagios", &["check", "-o", "nagios"], 1);
}

#[test]
fn check_prometheus() {
    golden("check.prom", &["check", "-o", "prometheus"], 1);
}

#[test]
fn check_table_in_colour() {
    golden(
        "check-color.txt",
        &[
            "--color", "always", "check", "--warn", "400d", "--crit", "100d",
        ],
        1,
    );
}
