//! One configuration: the file (`KUBECRED_CONFIG`), the environment and the
//! flags, in that order of strength, change what `check` judges and what
//! `renew` renews; `kubecred config` says where each value came from; a file
//! another user could have written is refused; the first packages'
//! environment file is carried over. Judged by the verdicts themselves,
//! python3's own TOML and JSON parsers and promtool.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Host, Run, judge, kubecred_with_env, snapshot, state_dir};
use kubecred::domain::demo::AdminLayout;
use serde_json::Value;
use tempfile::TempDir;

/// A folder as the package makes `/etc/kubecred`: root's, 0755.
fn config_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Writes a configuration file (root's, 0644) into `dir`.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// kubecred with `KUBECRED_CONFIG` naming `config` and these variables set.
fn with_config(config: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut env: Vec<(&str, &OsStr)> = vec![("KUBECRED_CONFIG", config.as_os_str())];
    env.extend(vars.iter().map(|(name, value)| (*name, OsStr::new(*value))));
    kubecred_with_env(args, &env)
}

/// `check -o json` of `host` under `config`.
fn check(host: &Host, config: &Path, vars: &[(&str, &str)], extra: &[&str]) -> Run {
    let dir = host.path().to_str().unwrap();
    let mut args = vec![
        "--kubernetes-dir",
        dir,
        "--no-copies",
        "check",
        "-o",
        "json",
    ];
    args.extend(extra);
    with_config(config, vars, &args)
}

/// The severity of each `expires-soon` finding in a check's JSON.
fn expiring(run: &Run) -> Vec<String> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "expires-soon")
        .map(|finding| finding["severity"].as_str().unwrap().to_owned())
        .collect()
}

/// Each setting's `(key, text, source kind)` in `config -o json`.
fn sources(run: &Run) -> Vec<(String, String, String)> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|setting| {
            (
                setting["key"].as_str().unwrap().to_owned(),
                setting["text"].as_str().unwrap().to_owned(),
                setting["source"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn setting<'a>(all: &'a [(String, String, String)], key: &str) -> (&'a str, &'a str) {
    let (_, text, kind) = all
        .iter()
        .find(|(name, _, _)| name == key)
        .unwrap_or_else(|| panic!("no setting {key}"));
    (text, kind)
}

#[test]
fn the_file_sets_the_thresholds_check_judges_by() {
    // Every leaf has 365 days left, every CA 3650.
    let host = Host::new(AdminLayout::Joined129);
    let dir = config_dir();
    let empty = config_file(dir.path(), "");
    let plain = check(&host, &empty, &[], &[]);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert!(expiring(&plain).is_empty());

    let warn = config_file(dir.path(), "[check]\nwarn = \"400d\"\n");
    let warned = check(&host, &warn, &[], &[]);
    assert_eq!(warned.code, 1, "{}", warned.stderr);
    let severities = expiring(&warned);
    assert!(severities.len() >= 10, "every leaf: {severities:?}");
    assert!(severities.iter().all(|severity| severity == "warning"));

    let crit = config_file(
        dir.path(),
        "[check]\nwarn = \"500d\"\ncrit = \"400d\"\nca_warn = \"4000d\"\nca_crit = \"3700d\"\n",
    );
    let critical = check(&host, &crit, &[], &[]);
    assert_eq!(critical.code, 2);
    assert!(
        expiring(&critical)
            .iter()
            .all(|severity| severity == "critical")
    );
    let ca = critical.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["code"] == "ca-expires-soon")
        .count();
    assert_eq!(ca, 3, "ca, etcd-ca and front-proxy-ca inside ca_crit");
    // The same verdict as the flags give: one setting, two ways to say it.
    let flags = check(
        &host,
        &empty,
        &[],
        &[
            "--warn",
            "500d",
            "--crit",
            "400d",
            "--ca-warn",
            "4000d",
            "--ca-crit",
            "3700d",
        ],
    );
    assert_eq!(flags.json()["findings"], critical.json()["findings"]);
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let host = Host::new(AdminLayout::Joined129);
    let dir = config_dir();
    let config = config_file(dir.path(), "[check]\nwarn = \"500d\"\ncrit = \"400d\"\n");
    assert_eq!(
        check(&host, &config, &[], &[]).code,
        2,
        "the file: critical"
    );
    let env = [("KUBECRED_CRIT", "10d")];
    let run = check(&host, &config, &env, &[]);
    assert_eq!(
        run.code, 1,
        "the environment's crit, the file's warn: {}",
        run.stderr
    );
    let run = check(&host, &config, &env, &["--warn", "30d"]);
    assert_eq!(run.code, 0, "the flag's warn: {}", run.stderr);

    let host_dir = host.path().to_str().unwrap();
    let shown = sources(&with_config(
        &config,
        &[
            ("KUBECRED_CRIT", "10d"),
            ("KUBECRED_STATE_DIR", "/srv/state"),
        ],
        &["--kubernetes-dir", host_dir, "-o", "json", "config"],
    ));
    assert_eq!(setting(&shown, "kubernetes_dir"), (host_dir, "flag"));
    assert_eq!(
        setting(&shown, "cert_dir"),
        (format!("{host_dir}/pki").as_str(), "default")
    );
    assert_eq!(setting(&shown, "state_dir"), ("/srv/state", "env"));
    assert_eq!(setting(&shown, "check.warn"), ("1y135d", "file"));
    assert_eq!(setting(&shown, "check.crit"), ("10d", "env"));
    assert_eq!(setting(&shown, "check.ca_warn"), ("1y", "default"));
    assert_eq!(shown.len(), 13, "every setting is shown: {shown:?}");
}

#[test]
fn kubecred_config_names_the_file_the_variable_or_the_default() {
    let dir = config_dir();
    let config = config_file(
        dir.path(),
        "copies = []\n[renew]\nrestart = \"auto\"\nwithin = \"60d\"\n",
    );
    let run = with_config(
        &config,
        &[("KUBECRED_RENEW_RESTART", "never")],
        &["-o", "json", "config"],
    );
    let doc = run.json();
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["file"]["path"], config.to_str().unwrap());
    assert_eq!(doc["file"]["present"], true);
    let restart = &doc["settings"][11];
    assert_eq!(restart["key"], "renew.restart");
    assert_eq!(restart["value"], "never");
    assert_eq!(
        restart["source"],
        serde_json::json!({"kind": "env", "name": "KUBECRED_RENEW_RESTART"})
    );
    let within = &doc["settings"][9];
    assert_eq!(within["key"], "renew.within");
    assert_eq!(within["value"], 60 * 86_400, "durations in seconds");
    assert_eq!(within["source"]["path"], config.to_str().unwrap());
    assert_eq!(doc["settings"][3]["value"], serde_json::json!([]));
    assert_eq!(doc["settings"][3]["text"], "none");
    // The table says the same, one line per setting.
    let table = with_config(&config, &[("KUBECRED_RENEW_RESTART", "never")], &["config"]);
    assert_eq!(table.code, 0);
    let line = |key: &str| {
        table
            .stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} line:\n{}", table.stdout))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("renew.restart"),
        "never environment KUBECRED_RENEW_RESTART"
    );
    assert_eq!(
        line("renew.within"),
        format!("60d file {}", config.display())
    );
    assert_eq!(line("check.warn"), "30d default");
    assert_eq!(table.stdout.lines().count(), 14, "a header and 13 settings");
}

#[test]
fn without_kubecred_config_the_default_file_is_read_or_its_absence_is_the_defaults() {
    let run = kubecred_with_env(&["-o", "json", "config"], &[]);
    let doc = run.json();
    let default = Path::new("/etc/kubecred/config.toml");
    assert_eq!(doc["file"]["path"], "/etc/kubecred/config.toml");
    assert_eq!(doc["file"]["present"], default.exists());
    if !default.exists() {
        assert!(
            sources(&run).iter().all(|(_, _, kind)| kind == "default"),
            "no file: every value is the default"
        );
    }
}

#[test]
fn a_file_kubecred_config_names_must_exist() {
    let dir = config_dir();
    let missing = dir.path().join("absent.toml");
    let host = Host::new(AdminLayout::Joined129);
    let run = check(&host, &missing, &[], &[]);
    assert_eq!(run.code, 3, "check: UNKNOWN");
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        format!(
            "error: the configuration file KUBECRED_CONFIG names does not exist ({})",
            missing.display()
        )
    );
    let run = with_config(&missing, &[], &["config"]);
    assert_eq!(run.code, 2, "other commands: as bad arguments");
}

#[test]
fn an_unknown_key_or_a_bad_value_is_one_line_naming_it_and_changes_nothing() {
    let host = Host::new(AdminLayout::Joined129);
    let state = state_dir();
    let dir = config_dir();
    let before = snapshot(host.path());
    let host_dir = host.path().to_str().unwrap();
    let state_path = state.path().to_str().unwrap();
    for (text, says) in [
        (
            "[check]\nwarn = \"30d\"\nwarning = \"45d\"\n",
            "line 3: unknown key `warning`",
        ),
        (
            "[renew]\nwithin = \"30x\"\n",
            "`renew.within`: `30x`: unknown unit `x`",
        ),
        (
            "[renew]\nrestart = \"sometimes\"\n",
            "`renew.restart`: `sometimes` is not `auto` or `never`",
        ),
        (
            "kubernetes_dir = \"etc/kubernetes\"\n",
            "`kubernetes_dir`: `etc/kubernetes` is not an absolute path",
        ),
        (
            "[check]\ncrit = 7\n",
            "line 2: `crit`: invalid type: integer `7`, expected a string",
        ),
    ] {
        let config = config_file(dir.path(), text);
        let checked = check(&host, &config, &[], &[]);
        assert_eq!(checked.code, 3, "{text}");
        assert_eq!(checked.stdout, "", "nothing judged");
        let first = checked.stderr.lines().next().unwrap();
        assert!(
            first.starts_with("error: ") && first.contains(says),
            "{text}: {first}"
        );
        assert!(
            first.ends_with(&format!("({})", config.display())),
            "{first}"
        );
        let renewed = with_config(
            &config,
            &[],
            &[
                "--kubernetes-dir",
                host_dir,
                "--state-dir",
                state_path,
                "renew",
                "all",
                "--yes",
            ],
        );
        assert_eq!(renewed.code, 2, "{text}: {}", renewed.stderr);
        assert!(renewed.stderr.contains(says));
    }
    assert_eq!(snapshot(host.path()), before, "no renewal happened");
    assert_eq!(fs::read_dir(state.path()).unwrap().count(), 0);
    let run = check(
        &host,
        &config_file(dir.path(), ""),
        &[("KUBECRED_WARN", "soon")],
        &[],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.starts_with("error: KUBECRED_WARN: `soon`:"),
        "{}",
        run.stderr
    );
    let both = config_file(dir.path(), "[check]\nwarn = \"7d\"\n");
    let run = check(&host, &both, &[("KUBECRED_CRIT", "14d")], &[]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        format!(
            "error: KUBECRED_CRIT 14d must not be longer than check.warn in {} 7d",
            both.display()
        )
    );
}

#[test]
fn a_root_run_refuses_a_file_another_user_could_have_written() {
    let host = Host::new(AdminLayout::Joined129);
    let dir = config_dir();
    let good = config_file(dir.path(), "[check]\nwarn = \"400d\"\n");
    assert_eq!(check(&host, &good, &[], &[]).code, 1, "trusted: read");

    let link = dir.path().join("link.toml");
    symlink(&good, &link).unwrap();
    let refused = |config: &Path, says: &str| {
        let run = check(&host, config, &[], &[]);
        assert_eq!(run.code, 3, "{says}: {}", run.stderr);
        let first = run.stderr.lines().next().unwrap();
        assert!(first.contains(says), "{first}");
        assert!(
            first.ends_with(&format!("({})", config.display())),
            "{first}"
        );
        assert_eq!(run.stdout, "");
    };
    refused(
        &link,
        "refusing the configuration file: it is a symbolic link",
    );

    fs::set_permissions(&good, fs::Permissions::from_mode(0o664)).unwrap();
    refused(&good, "it is writable by its group (mode 0664)");
    fs::set_permissions(&good, fs::Permissions::from_mode(0o646)).unwrap();
    refused(&good, "it is writable by others (mode 0646)");
    fs::set_permissions(&good, fs::Permissions::from_mode(0o644)).unwrap();

    std::os::unix::fs::chown(&good, Some(65_534), None).unwrap();
    refused(&good, "it is owned by uid 65534, not root");
    std::os::unix::fs::chown(&good, Some(0), None).unwrap();

    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    refused(
        &good,
        &format!(
            "its folder {} is writable by others (mode 1777)",
            dir.path().display()
        ),
    );
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65_534), None).unwrap();
    refused(
        &good,
        &format!(
            "its folder {} is owned by uid 65534, not root",
            dir.path().display()
        ),
    );
    std::os::unix::fs::chown(dir.path(), Some(0), None).unwrap();
    assert_eq!(check(&host, &good, &[], &[]).code, 1, "trusted again");
}

#[test]
fn a_user_run_reads_a_file_of_its_own() {
    // The trust rule is for root: a user can only steer their own run.
    let dir = config_dir();
    std::os::unix::fs::chown(dir.path(), Some(65_534), Some(65_534)).unwrap();
    let config = config_file(dir.path(), "[check]\nwarn = \"45d\"\n");
    std::os::unix::fs::chown(&config, Some(65_534), Some(65_534)).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o664)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_kubecred"))
        .args(["-o", "json", "config"])
        .env("KUBECRED_CONFIG", &config)
        .env_remove("KUBECRED_TEST_OWNER")
        .output()
        .expect("setpriv is needed to run as another user");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(setting(&sources(&run), "check.warn"), ("45d", "file"));
}

#[test]
fn a_bare_textfile_writes_the_configured_one_and_a_plain_check_none() {
    let host = Host::new(AdminLayout::Joined129);
    let dir = config_dir();
    let metrics = tempfile::tempdir().unwrap();
    let configured = metrics.path().join("configured.prom");
    let config = config_file(
        dir.path(),
        &format!("[check]\ntextfile = \"{}\"\n", configured.display()),
    );
    assert_eq!(check(&host, &config, &[], &[]).code, 0);
    assert!(!configured.exists(), "a plain check writes no textfile");
    assert_eq!(check(&host, &config, &[], &["--textfile"]).code, 0);
    let text = fs::read(&configured).unwrap();
    let (ok, said) = judge("promtool", &["check", "metrics"], &text);
    assert!(ok, "promtool: {said}");
    assert!(
        String::from_utf8(text)
            .unwrap()
            .contains("kubecred_check_status 0")
    );
    let named = metrics.path().join("named.prom");
    fs::remove_file(&configured).unwrap();
    let run = check(
        &host,
        &config,
        &[],
        &["--textfile", named.to_str().unwrap()],
    );
    assert_eq!(run.code, 0);
    assert!(
        named.exists() && !configured.exists(),
        "the flag's path, not the file's"
    );
}

#[test]
fn a_refused_configuration_still_marks_the_textfile_unknown() {
    let host = Host::new(AdminLayout::Joined129);
    let dir = config_dir();
    let metrics = tempfile::tempdir().unwrap();
    let textfile = metrics.path().join("kubecred.prom");
    let config = config_file(dir.path(), "[check]\nwarning = \"30d\"\n");
    let run = check(
        &host,
        &config,
        &[],
        &["--textfile", textfile.to_str().unwrap()],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown key `warning`"),
        "{}",
        run.stderr
    );
    let text = fs::read(&textfile).expect("the textfile is written even so");
    let (ok, said) = judge("promtool", &["check", "metrics"], &text);
    assert!(ok, "promtool: {said}");
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("kubecred_check_status 3"), "{text}");
    assert!(text.contains("kubecred_check_success 0"), "{text}");
}

#[test]
fn a_bare_within_renews_what_is_due_in_the_configured_window() {
    let host = Host::new(AdminLayout::Joined129);
    let state = state_dir();
    let dir = config_dir();
    let host_dir = host.path().to_str().unwrap();
    let state_path = state.path().to_str().unwrap();
    let plan = |config: &Path, extra: &[&str]| {
        let mut args = vec![
            "--kubernetes-dir",
            host_dir,
            "--state-dir",
            state_path,
            "-o",
            "json",
            "renew",
            "all",
        ];
        args.extend(extra);
        args.push("--dry-run");
        with_config(config, &[], &args)
    };
    let empty = config_file(dir.path(), "");
    // 365 days left everywhere: nothing is due within the default 30 days.
    let run = plan(&empty, &["--within"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let nothing = run.stdout.clone();
    let wide = config_file(
        dir.path(),
        "[renew]\nwithin = \"400d\"\nvalidity = \"2y\"\n",
    );
    let run = plan(&wide, &["--within"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(
        run.stdout, nothing,
        "the configured 400d makes every leaf due"
    );
    assert_eq!(
        run.stdout,
        plan(&empty, &["--within", "400d", "--validity", "2y"]).stdout
    );
    assert_eq!(
        plan(&wide, &["--within", "10d"]).stdout,
        nothing,
        "a flag's window beats the file's"
    );
}

/// The template the packages install, every line uncommented.
fn uncommented_template() -> String {
    let template = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config/config.toml"),
    )
    .unwrap();
    template
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_packaged_template_names_every_key_at_its_default() {
    let dir = config_dir();
    let text = uncommented_template();
    let (ok, said) = judge(
        "python3",
        &[
            "-c",
            "import sys, tomllib, json; print(json.dumps(tomllib.load(sys.stdin.buffer)))",
        ],
        text.as_bytes(),
    );
    assert!(ok, "python3's tomllib reads it: {said}");
    let parsed: Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        parsed["check"]["textfile"],
        "/var/lib/node_exporter/textfile_collector/kubecred.prom"
    );
    let all = config_file(dir.path(), &text);
    let from_file = sources(&with_config(&all, &[], &["-o", "json", "config"]));
    let empty = config_file(dir.path(), "");
    let defaults = sources(&with_config(&empty, &[], &["-o", "json", "config"]));
    assert_eq!(from_file.len(), 13);
    for ((key, text, kind), (default_key, default_text, default_kind)) in
        from_file.iter().zip(&defaults)
    {
        assert_eq!(kind, "file", "{key} is in the template");
        assert_eq!(default_kind, "default");
        assert_eq!(
            (key, text),
            (default_key, default_text),
            "the template shows the default"
        );
    }
    // The purge script reads the textfile with sed: one `textfile = "..."` line under [check].
    let template = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config/config.toml"),
    )
    .unwrap();
    assert_eq!(
        template
            .lines()
            .filter(|line| line.starts_with("#textfile = \""))
            .count(),
        1
    );
}

/// `config --from-env-file` of `file`.
fn from_env_file(file: &Path) -> Run {
    kubecred_with_env(
        &[
            OsStr::new("config"),
            OsStr::new("--from-env-file"),
            file.as_os_str(),
        ],
        &[],
    )
}

/// What python3's tomllib reads of a TOML text, as JSON.
fn toml_judged(text: &str) -> Value {
    let (ok, said) = judge(
        "python3",
        &[
            "-c",
            "import sys, tomllib, json; print(json.dumps(tomllib.load(sys.stdin.buffer)))",
        ],
        text.as_bytes(),
    );
    assert!(ok, "python3's tomllib reads it: {said}\n{text}");
    serde_json::from_str(&said).unwrap()
}

#[test]
fn the_first_packages_environment_file_as_shipped_carries_over_as_the_defaults() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/env-file/kubecred");
    let run = from_env_file(&shipped);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "everything in it has a setting");
    assert_eq!(
        toml_judged(&run.stdout),
        serde_json::json!({"check": {}, "renew": {}})
    );
    let dir = config_dir();
    let migrated = config_file(dir.path(), &run.stdout);
    let shown = sources(&with_config(&migrated, &[], &["-o", "json", "config"]));
    assert!(
        shown.iter().all(|(_, _, kind)| kind == "default"),
        "{shown:?}"
    );
}

#[test]
fn an_edited_environment_file_keeps_the_operators_values_and_reports_the_rest() {
    let shipped = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/env-file/kubecred"),
    )
    .unwrap();
    let edited = shipped
        .replace("KUBECRED_WARN=30d", "KUBECRED_WARN=45d")
        .replace(
            "KUBECRED_CHECK_FLAGS=\n",
            "KUBECRED_CHECK_FLAGS=\"--ca-warn 400d --ca-crit=120d --no-copies -o nagios\"\n",
        )
        .replace(
            "KUBECRED_RENEW_FLAGS=\n",
            "KUBECRED_RENEW_FLAGS=\"--reuse-key --validity 4380h\"\n",
        )
        .replace(
            "KUBECRED_RENEW_RESTART=never",
            "KUBECRED_RENEW_RESTART=auto",
        )
        .replace(
            "KUBECRED_TEXTFILE=/var/lib/node_exporter/textfile_collector/kubecred.prom",
            "KUBECRED_TEXTFILE=/var/lib/prometheus/node-exporter/kubecred.prom",
        )
        .replace(
            "#KUBECRED_STATE_DIR=/var/lib/kubecred",
            "KUBECRED_STATE_DIR=/srv/kubecred",
        );
    assert_ne!(edited, shipped);
    let dir = config_dir();
    let file = dir.path().join("kubecred");
    fs::write(&file, &edited).unwrap();
    let run = from_env_file(&file);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "kubecred: not carried over: KUBECRED_CHECK_FLAGS: `-o nagios` has no setting in the configuration file\n\
         kubecred: not carried over: KUBECRED_RENEW_FLAGS: `--reuse-key` has no setting in the configuration file\n"
    );
    assert!(
        run.stdout.contains("#   KUBECRED_CHECK_FLAGS: `-o nagios`"),
        "kept as a comment"
    );
    assert_eq!(
        toml_judged(&run.stdout),
        serde_json::json!({
            "state_dir": "/srv/kubecred",
            "copies": [],
            "check": {
                "warn": "45d",
                "ca_warn": "400d",
                "ca_crit": "120d",
                "textfile": "/var/lib/prometheus/node-exporter/kubecred.prom",
            },
            "renew": {"validity": "4380h", "restart": "auto"},
        })
    );
    let migrated = config_file(dir.path(), &run.stdout);
    let shown = sources(&with_config(&migrated, &[], &["-o", "json", "config"]));
    assert_eq!(setting(&shown, "check.warn"), ("45d", "file"));
    assert_eq!(setting(&shown, "check.crit"), ("7d", "default"));
    assert_eq!(setting(&shown, "renew.restart"), ("auto", "file"));
    assert_eq!(setting(&shown, "copies"), ("none", "file"));
    let missing = from_env_file(&dir.path().join("absent"));
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with("error: no such file ("),
        "{}",
        missing.stderr
    );
}
