//! Golden outputs: every format of `inspect` and `check` on kubeadm's own RSA
//! tree with a fixed clock, byte for byte. `UPDATE_GOLDEN=1 cargo test --test golden`
//! rewrites them; review the diff. The monitoring formats are also judged by
//! tools that are not ours: the Nagios output by a plugin-output grammar check
//! written from the Monitoring Plugins guidelines (`tests/judges/nagios.py`)
//! and by nagiosplugin's `Range` and `Performance` (`tests/judges/plugin_output.py`),
//! the Prometheus output by `promtool check metrics`; each judge is first shown
//! to reject a broken sample.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::path::Path;

use common::{Host, judge, kubeadm_tree, kubecred};
use kubecred::domain::demo::AdminLayout;

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

/// The Nagios grammar judge: only the units the guidelines list.
fn nagios_judge(output: &str, exit: i32) -> (bool, String) {
    judge(
        "python3",
        &["tests/judges/nagios.py", "--exit", &exit.to_string()],
        output.as_bytes(),
    )
}

/// nagiosplugin's judge (`tests/judges/plugin_output.py`), in the judges'
/// virtual environment.
fn nagiosplugin_judge(output: &str, exit: i32) -> (bool, String) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/judges-venv/bin/python");
    assert!(
        python.exists(),
        "the nagiosplugin judge needs its virtual environment; create it with:\n  \
         python3 -m venv target/judges-venv && target/judges-venv/bin/pip install -r tests/judges/requirements.txt"
    );
    judge(
        python.to_str().unwrap(),
        &["tests/judges/plugin_output.py", "--exit", &exit.to_string()],
        output.as_bytes(),
    )
}

/// `check -o FORMAT` over a generated host.
fn check_as(host: &Host, format: &str) -> common::Run {
    let root = host.path().display().to_string();
    kubecred(&[
        "--kubernetes-dir",
        &root,
        "--no-copies",
        "check",
        "-o",
        format,
    ])
}

fn golden_file(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_nagios_judge_rejects_what_the_guidelines_forbid() {
    for (bad, why) in [
        ("KUBECRED OK - fine | 'a b=1d", "an unterminated quote"),
        (
            "KUBECRED OK - fine | a b=1d;30;7;0",
            "an unquoted label with a space",
        ),
        (
            "KUBECRED OK - fine | 'ca'=1d;x;7;0",
            "a warning that is not a range",
        ),
        ("KUBECRED OK - fine | 'ca'=1d 'ca'=2d", "a label twice"),
        ("KUBECRED OK - fine | 'ca'=1days", "an unknown unit"),
        (
            "KUBECRED OK - fine | 'ca'=1d;30;7;0",
            "days, which the guidelines do not list",
        ),
        (
            "KUBECRED WARNING - fine | 'ca'=1d",
            "a status that is not the exit's",
        ),
        ("kubecred: fine", "no `SERVICE STATUS - `"),
        ("KUBECRED OK - a | b | 'ca'=1d", "two `|`"),
    ] {
        let (ok, said) = nagios_judge(&format!("{bad}\n"), 0);
        assert!(!ok, "the judge accepted {why}: {bad:?} ({said})");
    }
    let (ok, said) = nagios_judge("KUBECRED OK - fine | 'it''s'=1s;30:;~:7;0 x=5%;@1:2\n", 0);
    assert!(ok, "{said}");
}

#[test]
fn nagios_outputs_obey_the_plugin_output_grammar() {
    let (ok, said) = nagios_judge(&golden_file("check.nagios"), 1);
    assert!(ok, "tests/golden/check.nagios: {said}");
    let (ok, said) = nagiosplugin_judge(&golden_file("check.nagios"), 1);
    assert!(ok, "tests/golden/check.nagios, nagiosplugin: {said}");
    // Live outputs of the other statuses: a clean host (OK) and one with an
    // expired certificate (CRITICAL).
    let clean = Host::new(AdminLayout::Init129);
    let run = check_as(&clean, "nagios");
    assert_eq!(run.code, 0, "{}", run.stdout);
    let (ok, said) = nagios_judge(&run.stdout, run.code);
    assert!(ok, "{said}\n{}", run.stdout);
    let (ok, said) = nagiosplugin_judge(&run.stdout, run.code);
    assert!(ok, "nagiosplugin: {said}\n{}", run.stdout);
    let mut spec = common::spec(AdminLayout::Init129);
    spec.overrides.insert(
        "apiserver".into(),
        (
            common::now() - time::Duration::days(400),
            common::now() - time::Duration::days(35),
        ),
    );
    let expired = Host::generate(&spec);
    let run = check_as(&expired, "nagios");
    assert_eq!(run.code, 2, "{}", run.stdout);
    let (ok, said) = nagios_judge(&run.stdout, run.code);
    assert!(ok, "{said}\n{}", run.stdout);
    let (ok, said) = nagiosplugin_judge(&run.stdout, run.code);
    assert!(ok, "nagiosplugin: {said}\n{}", run.stdout);
}

#[test]
fn promtool_rejects_a_broken_exposition() {
    let (ok, said) = judge(
        "promtool",
        &["check", "metrics"],
        b"# TYPE kubecred_x counter\nkubecred_x 1\n",
    );
    assert!(!ok, "promtool accepted a counter without _total: {said}");
}

#[test]
fn prometheus_outputs_pass_promtool_check_metrics() {
    let (ok, said) = judge(
        "promtool",
        &["check", "metrics"],
        golden_file("check.prom").as_bytes(),
    );
    assert!(ok, "tests/golden/check.prom: {said}");
    let clean = Host::new(AdminLayout::Init129);
    let run = check_as(&clean, "prometheus");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (ok, said) = judge("promtool", &["check", "metrics"], run.stdout.as_bytes());
    assert!(ok, "{said}\n{}", run.stdout);
}
