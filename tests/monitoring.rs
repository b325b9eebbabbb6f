//! `check` as monitoring runs it: as a non-root user (NRPE, the Icinga agent),
//! and on every path where it cannot judge the node. Every `-o nagios` output
//! is judged by nagiosplugin (PyPI, `tests/judges/plugin_output.py`), by the
//! plugin-output grammar (`tests/judges/nagios.py`) and by Icinga 2's own
//! perfdata parser; every textfile by `promtool check metrics`. What a
//! non-root user cannot read is counted from the files' modes, not from
//! kubecred.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Host, NOW, Run, judge, kubecred, state_dir};
use kubecred::domain::demo::AdminLayout;
use serde_json::Value;

/// The uid and gid of `nobody`: owns nothing kubeadm writes.
const NOBODY: &str = "65534";

/// The judges' interpreter: a virtual environment with the pinned nagiosplugin.
fn judges_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/judges-venv/bin/python");
    assert!(
        python.exists(),
        "the nagiosplugin judge needs its virtual environment; create it with:\n  \
         python3 -m venv target/judges-venv && target/judges-venv/bin/pip install -r tests/judges/requirements.txt"
    );
    python
}

/// nagiosplugin's verdict on a plugin output and its exit status.
fn nagiosplugin_judge(stdout: &str, code: i32) -> (bool, String) {
    let python = judges_python();
    judge(
        python.to_str().unwrap(),
        &["tests/judges/plugin_output.py", "--exit", &code.to_string()],
        stdout.as_bytes(),
    )
}

/// The plugin-output grammar's verdict (no unit beyond the guidelines').
fn grammar_judge(stdout: &str, code: i32) -> (bool, String) {
    judge(
        "python3",
        &["tests/judges/nagios.py", "--exit", &code.to_string()],
        stdout.as_bytes(),
    )
}

/// The perfdata items of a status line, split at the spaces outside quotes.
fn perfdata_items(first_line: &str) -> Vec<String> {
    let Some((_, perfdata)) = first_line.split_once(" | ") else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in perfdata.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                current.push(ch);
            }
            ' ' if !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(ch),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// What Icinga 2 (`parse_performance_data`, the parser it applies to every
/// check result) reads from each perfdata item, as JSON objects.
fn icinga_reads(items: &[String]) -> Vec<Value> {
    if items.is_empty() {
        return Vec::new();
    }
    let calls: Vec<String> = items
        .iter()
        .map(|item| {
            format!(
                "parse_performance_data(\"{}\")",
                item.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    let output = Command::new("icinga2")
        .args(["console", "-e", &format!("[{}]", calls.join(", "))])
        .output()
        .unwrap_or_else(|err| {
            panic!("the judge icinga2 is needed by this test ({err}); .ci/run installs icinga2-bin")
        });
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "icinga2 refused {items:?}: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str::<Vec<Value>>(text.trim())
        .unwrap_or_else(|err| panic!("icinga2 printed no JSON list ({err}): {text}"))
}

/// Every judge on one `-o nagios` run: nagiosplugin, the grammar, and Icinga 2
/// reading each datum as seconds with a minimum of 0 (Icinga keeps no
/// `N:` range, so it cannot evaluate one the wrong way round).
fn judge_plugin_output(run: &Run) {
    assert!(
        !run.stdout.is_empty(),
        "no status line on stdout (exit {}); stderr: {}",
        run.code,
        run.stderr
    );
    let (ok, said) = nagiosplugin_judge(&run.stdout, run.code);
    assert!(ok, "nagiosplugin: {said}\n{}", run.stdout);
    let (ok, said) = grammar_judge(&run.stdout, run.code);
    assert!(ok, "grammar: {said}\n{}", run.stdout);
    assert_eq!(
        run.stdout
            .lines()
            .filter(|line| line.starts_with("KUBECRED "))
            .count(),
        1,
        "{}",
        run.stdout
    );
    let first = run.stdout.lines().next().unwrap();
    let items = perfdata_items(first);
    let read = icinga_reads(&items);
    assert_eq!(read.len(), items.len());
    for (item, value) in items.iter().zip(&read) {
        let label = item.split("'=").next().unwrap().trim_start_matches('\'');
        let seconds: f64 = item
            .split("'=")
            .nth(1)
            .unwrap()
            .split('s')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(value["type"], "PerfdataValue", "{item}: {value}");
        assert_eq!(value["label"], label.replace("''", "'"), "{item}: {value}");
        assert_eq!(value["unit"], "seconds", "{item}: {value}");
        assert_eq!(value["value"].as_f64(), Some(seconds), "{item}: {value}");
        assert_eq!(value["min"].as_f64(), Some(0.0), "{item}: {value}");
        assert_eq!(value["counter"], false, "{item}: {value}");
    }
}

/// The exposition as promtool sees it.
fn promtool_accepts(text: &str) {
    let (ok, said) = judge("promtool", &["check", "metrics"], text.as_bytes());
    assert!(ok, "promtool: {said}\n{text}");
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .map(str::to_owned)
}

/// A textfile as a failing check must leave it: status 3, success 0, a
/// kubecred HELP line first, and valid for promtool.
fn assert_unknown_textfile(path: &Path) {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("no textfile at {} ({err})", path.display()));
    assert!(text.starts_with("# HELP kubecred_"), "{text}");
    assert_eq!(
        sample(&text, "kubecred_check_status").as_deref(),
        Some("3"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "kubecred_check_success").as_deref(),
        Some("0"),
        "{text}"
    );
    promtool_accepts(&text);
}

/// `kubecred --kubernetes-dir DIR --no-copies ARGS...`.
fn check_in(dir: &Path, args: &[&str]) -> Run {
    let root = dir.display().to_string();
    let mut full = vec!["--kubernetes-dir", root.as_str(), "--no-copies"];
    full.extend_from_slice(args);
    kubecred(&full)
}

/// The real binary as `nobody` (no groups, no capabilities), through `setpriv`.
fn as_nobody(args: &[String], capabilities: Option<&str>) -> Run {
    let mut command = Command::new("setpriv");
    command.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"]);
    if let Some(caps) = capabilities {
        command.args(["--inh-caps", caps, "--ambient-caps", caps]);
    }
    let output = command
        .arg(env!("CARGO_BIN_EXE_kubecred"))
        .args(args)
        .env("KUBECRED_TEST_NOW", NOW)
        .env_remove("KUBECRED_TEST_OWNER")
        .env_remove("KUBECRED_KUBERNETES_DIR")
        .env_remove("KUBECRED_STATE_DIR")
        .output()
        .expect("setpriv runs kubecred (util-linux)");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn require_root() {
    assert!(
        fs::metadata("/proc/self").unwrap().uid() == 0,
        "these tests switch to another user: run the suite as root (CI does)"
    );
}

/// Every file under `root` that others may not read, by its mode or by a
/// folder of its path others may not search: what `nobody` cannot read.
fn not_world_readable(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    // (folder, whether others may reach into it)
    let mut stack = vec![(root.to_path_buf(), true)];
    while let Some((dir, reachable)) = stack.pop() {
        let reachable = reachable && fs::metadata(&dir).unwrap().mode() & 0o001 != 0;
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push((path, reachable));
            } else if meta.is_file() && (!reachable || meta.mode() & 0o004 == 0) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A demo node whose folders others may search, as /etc/kubernetes is, and
/// the arguments that check it with a state dir that does not exist yet.
fn node_for_nobody() -> (Host, tempfile::TempDir, Vec<String>) {
    require_root();
    let host = Host::new(AdminLayout::Pre129);
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state = tempfile::tempdir().unwrap();
    fs::set_permissions(state.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let args = vec![
        "--kubernetes-dir".to_owned(),
        host.path().display().to_string(),
        "--state-dir".to_owned(),
        state.path().join("kubecred").display().to_string(),
        "--no-copies".to_owned(),
        "check".to_owned(),
    ];
    (host, state, args)
}

fn with(args: &[String], more: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.extend(more.iter().map(|arg| (*arg).to_owned()));
    all
}

#[test]
fn a_check_as_nobody_is_unknown_and_says_to_run_as_root_in_every_format() {
    let (host, state, args) = node_for_nobody();
    // A folder on the way that others may not search hides its certificates too.
    host.chmod("pki/etcd", 0o700);
    let unreadable: Vec<PathBuf> = not_world_readable(host.path())
        .into_iter()
        // Files no check reads (the kubelet's own folder): not the check's concern.
        .filter(|path| !path.starts_with(host.file("kubelet")))
        .collect();
    assert!(unreadable.len() >= 16, "{unreadable:?}");
    assert!(unreadable.contains(&host.file("pki/etcd/ca.crt")));
    let advice = format!(
        "cannot read {} files as uid {NOBODY} (permission denied): run kubecred as root, or with CAP_DAC_READ_SEARCH for a read-only check",
        unreadable.len()
    );

    let table = as_nobody(&with(&args, &["--color", "never"]), None);
    assert_eq!(table.code, 3, "{}{}", table.stdout, table.stderr);
    assert!(
        table.stdout.contains(&format!("\nUNKNOWN: {advice}; ")),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains("malformed"), "{}", table.stdout);
    // One line for all of them, however many.
    assert_eq!(
        table.stdout.matches(" unreadable ").count(),
        1,
        "{}",
        table.stdout
    );

    let json = as_nobody(&with(&args, &["-o", "json"]), None);
    assert_eq!(json.code, 3, "{}", json.stderr);
    let doc = json.json();
    assert_eq!(doc["status"], "unknown");
    assert_eq!(doc["exitCode"], 3);
    let listed: Vec<PathBuf> = doc["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| PathBuf::from(path.as_str().unwrap()))
        .collect();
    assert_eq!(
        listed, unreadable,
        "kubecred's list against the files' modes"
    );
    let findings = doc["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["code"] != "malformed"), "{doc:#}");
    let summary: Vec<_> = findings
        .iter()
        .filter(|f| f["code"] == "unreadable")
        .collect();
    assert_eq!(summary.len(), 1, "{doc:#}");
    let message = summary[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "{} files cannot be read as uid {NOBODY} (permission denied)",
            unreadable.len()
        )) && message.contains("pki/ca.key")
            && message.contains("admin.conf"),
        "{message}"
    );
    assert!(
        summary[0]["remedy"]
            .as_str()
            .unwrap()
            .contains("as root, or give it CAP_DAC_READ_SEARCH"),
        "{doc:#}"
    );
    assert_eq!(
        common::credential(&doc, "admin.conf")["state"],
        "unreadable"
    );
    let ca = common::credential(&doc, "ca");
    assert_eq!(
        ca["state"], "present",
        "a certificate others may read is read"
    );
    assert_eq!(ca["key"]["state"], "unreadable");

    let nagios = as_nobody(&with(&args, &["-o", "nagios"]), None);
    assert_eq!(nagios.code, 3, "{}", nagios.stderr);
    assert!(
        nagios
            .stdout
            .starts_with(&format!("KUBECRED UNKNOWN - {advice}")),
        "{}",
        nagios.stdout
    );
    assert!(!nagios.stdout.contains("malformed"), "{}", nagios.stdout);
    judge_plugin_output(&nagios);

    let prometheus = as_nobody(&with(&args, &["-o", "prometheus"]), None);
    assert_eq!(prometheus.code, 3, "{}", prometheus.stderr);
    promtool_accepts(&prometheus.stdout);
    assert_eq!(
        sample(&prometheus.stdout, "kubecred_check_status").as_deref(),
        Some("3")
    );
    assert_eq!(
        sample(&prometheus.stdout, "kubecred_check_success").as_deref(),
        Some("0")
    );
    assert!(prometheus.stdout.contains(
        "kubecred_credential_state{credential=\"admin.conf\",kind=\"kubeconfig\",state=\"unreadable\"} 1\n"
    ));
    assert!(
        !prometheus.stdout.contains("malformed\""),
        "{}",
        prometheus.stdout
    );

    // The textfile says the same, written by nobody into a folder of its own.
    let collector = state.path().join("collector");
    fs::create_dir(&collector).unwrap();
    std::os::unix::fs::chown(&collector, Some(65534), Some(65534)).unwrap();
    let textfile = collector.join("kubecred.prom");
    let quiet = as_nobody(
        &with(&args, &["-q", "--textfile", textfile.to_str().unwrap()]),
        None,
    );
    assert_eq!(quiet.code, 3, "{}", quiet.stderr);
    assert_unknown_textfile(&textfile);

    // inspect lists the same files, and says which keys it could not see.
    let mut inspect: Vec<String> = args[..args.len() - 1].to_vec();
    inspect.extend([
        "inspect".to_owned(),
        "--color".to_owned(),
        "never".to_owned(),
    ]);
    let run = as_nobody(&inspect, None);
    assert!(
        run.stdout.contains(&format!(
            "\nunreadable as uid {NOBODY} (permission denied), {} files:\n",
            unreadable.len()
        )),
        "{}",
        run.stdout
    );
    for file in &unreadable {
        assert!(
            run.stdout.contains(&format!("  {}\n", file.display())),
            "{}",
            file.display()
        );
    }
    let ca_row = run
        .stdout
        .lines()
        .find(|line| line.starts_with("ca "))
        .unwrap();
    assert!(ca_row.ends_with("key unreadable"), "{ca_row}");
    assert!(!run.stdout.contains("malformed"), "{}", run.stdout);
}

#[test]
fn the_capability_the_advice_names_is_enough() {
    let (_host, _state, args) = node_for_nobody();
    let run = as_nobody(&with(&args, &["-o", "json"]), Some("+dac_read_search"));
    let doc = run.json();
    assert_eq!(doc["unreadable"], Value::Array(Vec::new()), "{doc:#}");
    assert_eq!(
        run.code, 1,
        "the demo node's own warnings, as root sees them"
    );
    let root = kubecred(&with(&args, &["-o", "json"]));
    assert_eq!(common::codes(&doc), common::codes(&root.json()));
}

#[test]
fn a_state_folder_nobody_may_read_is_unknown_with_the_same_advice() {
    let (_host, state, args) = node_for_nobody();
    let private = state.path().join("kubecred");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let run = as_nobody(&with(&args, &["-o", "nagios"]), None);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!(
            "KUBECRED UNKNOWN - cannot read the state folder as uid {NOBODY} (permission denied)"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nhint: run kubecred check as root"));
    judge_plugin_output(&run);
}

/// Each way `check` can fail to judge the node prints one UNKNOWN status line
/// with `-o nagios` and leaves a status-3 textfile.
#[test]
fn every_unknown_path_prints_a_status_line_and_writes_status_3() {
    let empty = tempfile::tempdir().unwrap();
    let host = Host::new(AdminLayout::Init129);
    let collector = tempfile::tempdir().unwrap();
    let textfile = collector.path().join("kubecred.prom");
    let textfile_arg = textfile.display().to_string();
    let open_state = tempfile::tempdir().unwrap();
    fs::set_permissions(open_state.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let open_state_arg = open_state.path().display().to_string();
    let cases: Vec<(&str, &Path, Vec<&str>, &str)> = vec![
        (
            "no kubeadm layout",
            empty.path(),
            vec![],
            "KUBECRED UNKNOWN - no kubeadm credentials found (",
        ),
        (
            "a state dir others may write",
            host.path(),
            vec!["--state-dir", &open_state_arg],
            "KUBECRED UNKNOWN - refusing the state folder: it ",
        ),
        (
            "a critical threshold longer than the warning one",
            host.path(),
            vec!["check", "--warn", "7d", "--crit", "30d"],
            "KUBECRED UNKNOWN - --crit 30d must not be longer than --warn 7d",
        ),
        (
            "a duration that is no duration",
            host.path(),
            vec!["check", "--warn", "soon"],
            "KUBECRED UNKNOWN - bad arguments: invalid value 'soon' for '--warn <DUR>'",
        ),
        (
            "an unknown flag",
            host.path(),
            vec!["check", "--no-such-flag"],
            "KUBECRED UNKNOWN - bad arguments: unexpected argument '--no-such-flag'",
        ),
    ];
    for (what, dir, args, expected) in cases {
        let _ = fs::remove_file(&textfile);
        let mut full = args.clone();
        if !full.contains(&"check") {
            full.push("check");
        }
        full.extend(["-o", "nagios", "--textfile", &textfile_arg]);
        let run = check_in(dir, &full);
        assert_eq!(run.code, 3, "{what}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.starts_with(expected), "{what}: {}", run.stdout);
        judge_plugin_output(&run);
        // Even a command line clap refuses names its textfile.
        assert_unknown_textfile(&textfile);
        // The same failure in every other format: nothing on stdout, exit 3.
        let mut table = full.clone();
        let at = table.iter().position(|arg| *arg == "nagios").unwrap();
        table[at] = "table";
        let run = check_in(dir, &table);
        assert_eq!(run.code, 3, "{what}");
        assert!(run.stdout.is_empty(), "{what}: {}", run.stdout);
    }
    // `-o nagios` anywhere on the command line, spelt any way clap accepts.
    for spelling in [
        ["-onagios", ""],
        ["--output=nagios", ""],
        ["--output", "nagios"],
    ] {
        let mut args = vec!["check", "--warn", "soon"];
        args.extend(spelling.iter().filter(|word| !word.is_empty()));
        let run = check_in(empty.path(), &args);
        assert_eq!(run.code, 3);
        assert!(
            run.stdout.starts_with("KUBECRED UNKNOWN - bad arguments"),
            "{spelling:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_textfile_that_cannot_be_written_is_unknown_on_stdout() {
    let host = Host::new(AdminLayout::Init129);
    let missing = tempfile::tempdir().unwrap();
    let textfile = missing.path().join("no/such/folder/kubecred.prom");
    let run = check_in(
        host.path(),
        &[
            "check",
            "-o",
            "nagios",
            "--textfile",
            textfile.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("KUBECRED UNKNOWN - cannot write the textfile: "),
        "{}",
        run.stdout
    );
    judge_plugin_output(&run);
}

#[test]
fn a_held_lock_is_unknown_on_stdout_and_in_the_textfile() {
    use kubecred::edge::apply::lock::{RunLock, Wait};
    let host = Host::new(AdminLayout::Init129);
    let writer = state_dir();
    let collector = tempfile::tempdir().unwrap();
    let textfile = collector.path().join("kubecred.prom");
    let held = RunLock::acquire(writer.path(), host.path(), Wait::Never).unwrap();
    let run = check_in(
        host.path(),
        &[
            "check",
            "-o",
            "nagios",
            "--textfile",
            textfile.to_str().unwrap(),
        ],
    );
    drop(held);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "KUBECRED UNKNOWN - cannot judge the node now: another kubecred run holds the lock"
        ),
        "{}",
        run.stdout
    );
    judge_plugin_output(&run);
    assert_unknown_textfile(&textfile);
}

/// OK, WARNING, CRITICAL and expired by minutes: every judge agrees, and the
/// summary says hours and minutes under a day, never `0d`.
#[test]
fn ok_warning_critical_and_expired_outputs_pass_every_judge() {
    let clean = Host::new(AdminLayout::Init129);
    let run = check_in(clean.path(), &["check", "-o", "nagios"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    judge_plugin_output(&run);
    assert!(
        run.stdout
            .starts_with("KUBECRED OK - all credentials valid; next expiry ")
    );

    let legacy = Host::new(AdminLayout::Pre129);
    let run = check_in(legacy.path(), &["check", "-o", "nagios"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    judge_plugin_output(&run);

    let now = common::now();
    let mut spec = common::spec(AdminLayout::Init129);
    spec.overrides.insert(
        "apiserver".into(),
        (
            now - time::Duration::days(365),
            now - time::Duration::minutes(18),
        ),
    );
    spec.overrides.insert(
        "front-proxy-client".into(),
        (
            now - time::Duration::days(365),
            now + time::Duration::hours(1),
        ),
    );
    let host = Host::generate(&spec);
    let run = check_in(host.path(), &["check", "-o", "nagios"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    judge_plugin_output(&run);
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.contains("'apiserver'=-1080s;2592000:;604800:;0"),
        "{first}"
    );
    assert!(
        first.contains("'front-proxy-client'=3600s;2592000:;604800:;0"),
        "{first}"
    );
    assert!(
        run.stdout
            .contains("CRITICAL: apiserver expired: expired 18m ago"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("expires in 1h"), "{}", run.stdout);
    assert!(!run.stdout.contains(" 0d"), "{}", run.stdout);

    // Only the front-proxy client left to expire, in an hour: the OK summary says so.
    let mut spec = common::spec(AdminLayout::Init129);
    spec.overrides.insert(
        "front-proxy-client".into(),
        (
            now - time::Duration::days(365),
            now + time::Duration::hours(1),
        ),
    );
    let soon = Host::generate(&spec);
    let run = check_in(
        soon.path(),
        &["check", "-o", "nagios", "--warn", "30m", "--crit", "10m"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(
            "KUBECRED OK - all credentials valid; next expiry front-proxy-client in 1h |"
        ),
        "{}",
        run.stdout
    );
    judge_plugin_output(&run);
}

#[test]
fn the_judges_reject_what_kubecred_used_to_print() {
    // The old perfdata: days, and thresholds that alert outside 0..30.
    let old = "KUBECRED OK - fine | 'admin.conf'=25d;30;7;0\n";
    let (ok, said) = nagiosplugin_judge(old, 0);
    assert!(!ok, "nagiosplugin accepted {old:?}: {said}");
    assert!(said.contains("is not a `threshold:` range"), "{said}");
    let (ok, said) = grammar_judge(old, 0);
    assert!(!ok, "the grammar accepted the unit d: {said}");
    // An UNKNOWN exit with nothing on stdout.
    let (ok, said) = nagiosplugin_judge("", 3);
    assert!(!ok && said.contains("no output"), "{said}");
    // A status that is not the exit's, and a critical datum under an OK status.
    let (ok, _) = nagiosplugin_judge("KUBECRED OK - fine | 'ca'=100s;2592000:;604800:;0\n", 0);
    assert!(!ok);
    let (ok, _) = nagiosplugin_judge("KUBECRED WARNING - fine\n", 0);
    assert!(!ok);
    // Icinga reads days as days, not as the seconds kubecred now writes.
    let read = icinga_reads(&["'x'=25d;30;7;0".to_owned(), "'y'=25;;;0".to_owned()]);
    assert_eq!(read[0]["value"].as_f64(), Some(2_160_000.0));
    assert_eq!(read[0]["warn"].as_f64(), Some(2_592_000.0));
    assert_eq!(read[1]["unit"], "", "a value without a unit is no duration");
}
