//! `migrate` and `check --online` against a loopback API server with a small
//! RBAC model: the happy path, joined nodes, a wrong binding, an API that is
//! down, that fails half-way, that does not honour the binding, `--offline`,
//! `--update-copies`, rollback, and kubectl as judge of every file written.

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
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::apiserver::{ApiServer, Faults, kubeadm_binding};
use common::{Host, Run, codes, kubecred, pairs, snapshot};
use kubecred::domain::demo::AdminLayout;
use kubecred::domain::kubeconfig::Kubeconfig;
use serde_json::json;

struct Node {
    host: Host,
    state: tempfile::TempDir,
    api: ApiServer,
}

impl Node {
    fn new(layout: AdminLayout) -> Self {
        let host = Host::new(layout);
        let api = ApiServer::start(host.path());
        Self {
            host,
            state: common::state_dir(),
            api,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut full: Vec<String> = vec![
            "--kubernetes-dir".into(),
            self.host.path().display().to_string(),
            "--state-dir".into(),
            self.state.path().display().to_string(),
        ];
        if !args.iter().any(|a| a.starts_with("--copies")) {
            full.push("--no-copies".into());
        }
        full.extend(args.iter().map(|a| (*a).to_owned()));
        kubecred(&full)
    }

    fn migrate(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "migrate",
            "--server",
            &self.api.url,
            "--api-timeout",
            "3s",
            "--yes",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn subject(&self, file: &str) -> (String, Vec<String>) {
        let config = Kubeconfig::parse(&fs::read(self.host.file(file)).unwrap()).unwrap();
        subject_of(&config, &config.users[0].name)
    }
}

fn subject_of(config: &Kubeconfig, user: &str) -> (String, Vec<String>) {
    use base64::Engine as _;
    let user = config.users.iter().find(|u| u.name == user).unwrap();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(user.user.client_certificate_data.as_ref().unwrap())
        .unwrap();
    let cert = kubecred::domain::cert::Certificate::from_der(
        &kubecred::domain::pem::parse(&pem).unwrap()[0].der,
    )
    .unwrap();
    (cert.common_name, cert.groups)
}

fn kubectl_loads(path: &Path) {
    let out = Command::new("kubectl")
        .args(["config", "view", "--kubeconfig"])
        .arg(path)
        .output()
        .expect("kubectl is needed by this test; .ci/run installs it");
    assert!(
        out.status.success(),
        "kubectl rejects {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn happy_path_from_a_128_node() {
    let node = Node::new(AdminLayout::Pre129);
    let old = node.subject("admin.conf");
    assert_eq!(old.1, ["system:masters"]);
    let run = node.migrate(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The binding, created with the old admin.conf (still in system:masters), then read back.
    assert_eq!(
        node.api.binding("kubeadm:cluster-admins").unwrap(),
        kubeadm_binding()
    );
    let seen = node.api.seen();
    let calls: Vec<(String, String, String)> = seen
        .iter()
        .map(|s| {
            (
                s.method.clone(),
                s.path.rsplit('/').next().unwrap().to_owned(),
                s.user.clone(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            (
                "GET".into(),
                "kubeadm:cluster-admins".into(),
                "kubernetes-admin".into()
            ),
            (
                "POST".into(),
                "clusterrolebindings".into(),
                "kubernetes-admin".into()
            ),
            (
                "GET".into(),
                "kubeadm:cluster-admins".into(),
                "kubernetes-admin".into()
            ),
            (
                "POST".into(),
                "selfsubjectreviews".into(),
                "kubernetes-admin".into()
            ),
            (
                "POST".into(),
                "selfsubjectaccessreviews".into(),
                "kubernetes-admin".into()
            ),
        ]
    );
    assert_eq!(seen[1].status, 201);
    // super-admin.conf: kubeadm's identity and names, 0600.
    let super_admin = node.host.file("super-admin.conf");
    assert_eq!(fs::metadata(&super_admin).unwrap().mode() & 0o777, 0o600);
    let config = Kubeconfig::parse(&fs::read(&super_admin).unwrap()).unwrap();
    assert_eq!(
        config.current_context.as_deref(),
        Some("kubernetes-super-admin@kubernetes")
    );
    assert_eq!(config.users[0].name, "kubernetes-super-admin");
    assert_eq!(
        subject_of(&config, "kubernetes-super-admin"),
        (
            "kubernetes-super-admin".into(),
            vec!["system:masters".into()]
        )
    );
    // admin.conf: the new group, the same names.
    assert_eq!(
        node.subject("admin.conf"),
        (
            "kubernetes-admin".into(),
            vec!["kubeadm:cluster-admins".into()]
        )
    );
    let admin = Kubeconfig::parse(&fs::read(node.host.file("admin.conf")).unwrap()).unwrap();
    assert_eq!(
        admin.current_context.as_deref(),
        Some("kubernetes-admin@kubernetes")
    );
    assert_eq!(
        fs::metadata(node.host.file("admin.conf")).unwrap().mode() & 0o777,
        0o600
    );
    kubectl_loads(&node.host.file("admin.conf"));
    kubectl_loads(&super_admin);
    // The summary names the old certificate and until when it stays valid.
    assert!(
        run.stdout
            .contains("The old system:masters certificate (serial"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stays valid until 2027-11-26"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("verified by the API server"),
        "{}",
        run.stdout
    );
    // And the node is clean, offline and online.
    let json = node.run(&["check", "-o", "json"]).json();
    assert_eq!(codes(&json), pairs(&[]));
    let run = node.run(&[
        "check",
        "-o",
        "json",
        "--online",
        "--server",
        &node.api.url,
        "--api-timeout",
        "3s",
    ]);
    assert_eq!(codes(&run.json()), pairs(&[]), "{}", run.stderr);
    assert_eq!(run.code, 0);
    // A second run: nothing to do.
    let before = snapshot(node.host.path());
    let again = node.migrate(&[]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("nothing to do"), "{}", again.stderr);
    assert_eq!(snapshot(node.host.path()), before);
}

#[test]
fn joined_node_with_the_binding_already_there() {
    // A node joined before 1.29: admin.conf in system:masters, no super-admin.conf;
    // the init node's upgrade created the binding.
    let node = Node::new(AdminLayout::Pre129);
    node.api
        .put_binding("kubeadm:cluster-admins", kubeadm_binding());
    let run = node.migrate(&["--no-super-admin", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["binding"], "existed");
    assert_eq!(summary["superAdmin"]["action"], "skip");
    assert_eq!(summary["admin"]["verified"], true);
    assert!(summary["backup"].as_str().unwrap().ends_with("-migrate"));
    assert!(!node.host.file("super-admin.conf").exists());
    assert_eq!(node.subject("admin.conf").1, ["kubeadm:cluster-admins"]);
    let creates = node
        .api
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("clusterrolebindings"))
        .map(|s| s.status)
        .collect::<Vec<_>>();
    assert_eq!(creates, [409], "AlreadyExists is success");
}

#[test]
fn already_split_and_bound_is_nothing_to_do() {
    let node = Node::new(AdminLayout::Joined129);
    node.api
        .put_binding("kubeadm:cluster-admins", kubeadm_binding());
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    assert_eq!(snapshot(node.host.path()), before);
    assert!(!node.state.path().join("backups").exists());
}

#[test]
fn a_binding_with_a_wrong_role_ref_stops_before_anything_changes() {
    let node = Node::new(AdminLayout::Pre129);
    let mut wrong = kubeadm_binding();
    wrong["roleRef"]["name"] = json!("view");
    node.api.put_binding("kubeadm:cluster-admins", wrong);
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("differs from kubeadm's"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\"view\"") && run.stderr.contains("\"cluster-admin\""),
        "prints both: {}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
    assert!(
        !node.state.path().join("backups").exists(),
        "nothing was even backed up"
    );
}

#[test]
fn api_down_fails_before_touching_anything_and_suggests_offline() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        )
    };
    let before = snapshot(host.path());
    let root = host.path().display().to_string();
    let state_dir = state.path().display().to_string();
    let started = std::time::Instant::now();
    let run = kubecred(&[
        "--kubernetes-dir",
        &root,
        "--state-dir",
        &state_dir,
        "--no-copies",
        "migrate",
        "--server",
        &closed,
        "--api-timeout",
        "1s",
        "--yes",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the total timeout is honoured"
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot reach the API server"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--offline"), "{}", run.stderr);
    assert_eq!(snapshot(host.path()), before);
}

#[test]
fn slow_answers_past_the_timeout_count_as_down() {
    let node = Node::new(AdminLayout::Pre129);
    node.api.faults(Faults {
        delay: Some(Duration::from_secs(3)),
        ..Faults::default()
    });
    let before = snapshot(node.host.path());
    let run = node.run(&[
        "migrate",
        "--server",
        &node.api.url,
        "--api-timeout",
        "1s",
        "--yes",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot reach the API server"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
}

#[test]
fn transient_500s_and_resets_are_retried() {
    let node = Node::new(AdminLayout::Pre129);
    node.api.faults(Faults {
        errors: 2,
        resets: 2,
        ..Faults::default()
    });
    let run = node.migrate(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(node.subject("admin.conf").1, ["kubeadm:cluster-admins"]);
}

#[test]
fn api_failing_after_super_admin_is_written_restores_everything() {
    let node = Node::new(AdminLayout::Pre129);
    // preflight GET, create, read back: then every request fails (the new admin.conf's proof).
    node.api.faults(Faults {
        fail_after: Some(3),
        ..Faults::default()
    });
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("SelfSubjectReview"),
        "says why: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("every file was restored"),
        "{}",
        run.stderr
    );
    assert_eq!(
        snapshot(node.host.path()),
        before,
        "super-admin.conf removed, admin.conf as it was"
    );
    assert!(!node.state.path().join("journal").exists());
}

#[test]
fn a_new_admin_conf_the_server_does_not_honour_is_never_installed() {
    let node = Node::new(AdminLayout::Pre129);
    node.api.faults(Faults {
        ignore_bindings: true,
        ..Faults::default()
    });
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("failed verification"), "{}", run.stderr);
    assert!(
        run.stderr.contains("may not do `*` on `*`"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
}

#[test]
fn offline_writes_the_manifest_and_says_the_new_admin_is_unverified() {
    let node = Node::new(AdminLayout::Pre129);
    let run = node.run(&["migrate", "--offline", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(node.api.seen().is_empty(), "no API call at all");
    assert!(
        run.stdout.contains("UNVERIFIED (offline)"),
        "{}",
        run.stdout
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("kubectl --kubeconfig"))
        .unwrap();
    let super_admin = node.host.file("super-admin.conf").display().to_string();
    assert!(
        line.contains(&format!("--kubeconfig {super_admin} apply -f ")),
        "{line}"
    );
    let manifest = line.rsplit(' ').next().unwrap();
    let yaml: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(yaml, kubeadm_binding());
    assert_eq!(node.subject("admin.conf").1, ["kubeadm:cluster-admins"]);
    // Applying the manifest makes the new admin.conf work: check --online agrees.
    node.api.put_binding("kubeadm:cluster-admins", yaml);
    let run = node.run(&[
        "check",
        "-o",
        "json",
        "--online",
        "--server",
        &node.api.url,
        "--api-timeout",
        "3s",
    ]);
    assert_eq!(codes(&run.json()), pairs(&[]));
}

#[test]
fn super_admin_out_writes_off_the_node_and_refuses_to_overwrite() {
    let node = Node::new(AdminLayout::Pre129);
    let vault = tempfile::tempdir().unwrap();
    let out = vault.path().join("cluster-a-super-admin.conf");
    let arg = out.display().to_string();
    let run = node.migrate(&["--super-admin-out", &arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!node.host.file("super-admin.conf").exists());
    assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o600);
    kubectl_loads(&out);
    let second = Node::new(AdminLayout::Pre129);
    let run = second.migrate(&["--super-admin-out", &arg]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("refusing to overwrite"),
        "{}",
        run.stderr
    );
}

#[test]
fn update_copies_keeps_a_users_other_contexts_owner_and_mode() {
    let node = Node::new(AdminLayout::Pre129);
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join("alice/.kube");
    fs::create_dir_all(&kube).unwrap();
    // Alice's config: her copy of admin.conf plus another cluster of her own.
    let admin = fs::read_to_string(node.host.file("admin.conf")).unwrap();
    let mut config = Kubeconfig::parse(admin.as_bytes()).unwrap();
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
    let copy = kube.join("config");
    fs::write(&copy, config.to_yaml().unwrap()).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&copy, Some(1000), Some(1000)).unwrap();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    let run = node.migrate(&[&glob, "--update-copies"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("copy updated: {}", copy.display())),
        "{}",
        run.stdout
    );
    let meta = fs::metadata(&copy).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (1000, 1000, 0o640)
    );
    let after = Kubeconfig::parse(&fs::read(&copy).unwrap()).unwrap();
    assert_eq!(after.current_context.as_deref(), Some("alice@staging"));
    assert_eq!(after.contexts.len(), 2);
    assert_eq!(
        subject_of(&after, "kubernetes-admin").1,
        ["kubeadm:cluster-admins"]
    );
    let alice = after.users.iter().find(|u| u.name == "alice").unwrap();
    assert_eq!(
        alice.user.client_certificate_data.as_deref(),
        Some("eA=="),
        "other users untouched"
    );
    // The copy now holds admin.conf's current certificate: no stale-copy finding.
    let json = node.run(&[&glob, "check", "-o", "json"]).json();
    assert_eq!(codes(&json), pairs(&[]));
    kubectl_loads(&copy);
    // It was backed up with its owner.
    let list = node.run(&["-o", "json", "rollback", "--list"]).json();
    let files = list["backups"][0]["files"].as_array().unwrap();
    let entry = files
        .iter()
        .find(|f| f["path"] == copy.display().to_string())
        .unwrap();
    assert_eq!(
        (entry["uid"].as_u64(), entry["mode"].as_str()),
        (Some(1000), Some("0640"))
    );
}

#[test]
fn rollback_after_a_migration_returns_the_tree_byte_for_byte() {
    let node = Node::new(AdminLayout::Pre129);
    let before = snapshot(node.host.path());
    assert_eq!(node.migrate(&[]).code, 0);
    assert!(node.host.file("super-admin.conf").exists());
    let list = node.run(&["-o", "json", "rollback", "--list"]).json();
    let id = list["backups"][0]["id"].as_str().unwrap().to_owned();
    let run = node.run(&["rollback", &id, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        snapshot(node.host.path()),
        before,
        "super-admin.conf removed, admin.conf restored"
    );
}

#[test]
fn check_online_reports_a_missing_binding_and_an_unreachable_server() {
    let node = Node::new(AdminLayout::Joined129);
    let online = |url: &str| {
        node.run(&[
            "check",
            "-o",
            "json",
            "--online",
            "--server",
            url,
            "--api-timeout",
            "1s",
        ])
    };
    let run = online(&node.api.url);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[
            ("admin.conf", "cluster-admins-binding-missing"),
            ("super-admin.conf", "super-admin-absent")
        ])
    );
    assert_eq!(run.code, 2);
    node.api
        .put_binding("kubeadm:cluster-admins", kubeadm_binding());
    let run = online(&node.api.url);
    assert_eq!(
        codes(&run.json()),
        pairs(&[("super-admin.conf", "super-admin-absent")])
    );
    assert_eq!(run.code, 0);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        )
    };
    let run = online(&closed);
    assert_eq!(
        codes(&run.json()),
        pairs(&[
            ("admin.conf", "api-unreachable"),
            ("super-admin.conf", "super-admin-absent")
        ])
    );
    assert_eq!(
        run.code, 1,
        "an unreachable server is a warning, never worse"
    );
}

#[test]
fn a_split_node_without_binding_or_super_admin_cannot_create_it() {
    let node = Node::new(AdminLayout::Joined129);
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no system:masters credential"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
}

/// Runs the binary offline (no API server) at another clock than the fixed one.
fn offline_at(host: &Host, state: &Path, clock: &str, extra: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kubecred"))
        .arg("--kubernetes-dir")
        .arg(host.path())
        .arg("--state-dir")
        .arg(state)
        .args(["--no-copies", "migrate", "--offline", "--yes"])
        .args(extra)
        .env("KUBECRED_TEST_NOW", clock)
        .env_remove("KUBECRED_KUBERNETES_DIR")
        .env_remove("KUBECRED_STATE_DIR")
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn client_certificate(path: &Path) -> Vec<u8> {
    use base64::Engine as _;
    let config = Kubeconfig::parse(&fs::read(path).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(
            config.users[0]
                .user
                .client_certificate_data
                .as_ref()
                .unwrap(),
        )
        .unwrap()
}

/// openssl's verdict on `cert` against ca.crt at `clock` (RFC 3339).
fn openssl_valid_at(host: &Host, cert: &[u8], clock: &str) -> bool {
    let at = time::OffsetDateTime::parse(clock, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaf.pem");
    fs::write(&file, cert).unwrap();
    Command::new("openssl")
        .args(["verify", "-attime", &at.to_string(), "-CAfile"])
        .arg(host.file("pki/ca.crt"))
        .arg(&file)
        .output()
        .expect("openssl is needed by this test; .ci/run installs it")
        .status
        .success()
}

#[test]
fn a_moved_clock_is_refused_and_a_trusted_one_issues_certificates_valid_at_it() {
    // Two years ahead, and past the CA's not-after (2036-11-23 12:00): refused, naming the clock.
    for clock in ["2028-11-26T12:00:00Z", "2036-12-01T00:00:00Z"] {
        let host = Host::new(AdminLayout::Pre129);
        let state = common::state_dir();
        let before = snapshot(host.path());
        let run = offline_at(&host, state.path(), clock, &[]);
        assert_eq!(run.code, 1, "{clock}: {}", run.stderr);
        let shown = format!("the node clock ({} {} UTC)", &clock[..10], &clock[11..16]);
        assert!(
            run.stderr.starts_with(&format!(
                "error: cannot migrate: refusing to issue: {shown}"
            )),
            "{clock}: {}",
            run.stderr
        );
        assert_eq!(snapshot(host.path()), before, "{clock}");
    }
    // Past the CA, --trust-clock does not help: the CA must be rotated.
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let run = offline_at(
        &host,
        state.path(),
        "2036-12-01T00:00:00Z",
        &["--trust-clock"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "error: cannot migrate: its CA ca expired on 2036-11-23 12:00 UTC (the clock says 2036-12-01 00:00 UTC): the CA must be rotated first"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
    // Two years ahead and trusted: both new credentials are valid at that clock, not before it.
    let clock = "2028-11-26T12:00:00Z";
    let run = offline_at(&host, state.path(), clock, &["--trust-clock"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in ["admin.conf", "super-admin.conf"] {
        let cert = client_certificate(&host.file(file));
        assert!(openssl_valid_at(&host, &cert, clock), "{file} at {clock}");
        assert!(
            !openssl_valid_at(&host, &cert, common::NOW),
            "{file} is not valid before that clock"
        );
    }
}

#[test]
fn validity_is_checked_before_anything_is_issued() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    for (validity, why) in [
        ("0s", "--validity 0s is shorter than a day"),
        ("23h59m", "--validity 23h59m is shorter than a day"),
        (
            "8000y",
            "--validity 8000y is out of range: from 2026-11-26 12:00 UTC",
        ),
    ] {
        let run = offline_at(&host, state.path(), common::NOW, &["--validity", validity]);
        assert_eq!(run.code, 2, "{validity}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("error: cannot migrate: {why}")),
            "{validity}: {}",
            run.stderr
        );
        assert_eq!(snapshot(host.path()), before, "{validity}");
    }
    // A day is enough: the new admin.conf lives exactly that long.
    let run = offline_at(&host, state.path(), common::NOW, &["--validity", "1d"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pem = client_certificate(&host.file("admin.conf"));
    let cert = kubecred::domain::cert::Certificate::from_der(
        &kubecred::domain::pem::parse(&pem).unwrap()[0].der,
    )
    .unwrap();
    assert_eq!(
        cert.not_after - cert.not_before,
        time::Duration::days(1) + time::Duration::minutes(5)
    );
}

// ---- failure classes, offline safety, pasteable commands --------------------

/// A loopback port with nothing listening.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    )
}

/// A loopback listener that accepts connections and never says a word.
fn silent_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

/// A TLS server for 127.0.0.1 whose certificate no kubeconfig of the host trusts.
fn foreign_tls_url() -> String {
    use std::sync::Arc;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    break;
                }
            }
        }
    });
    url
}

fn serial_of(path: &Path) -> String {
    let pem = client_certificate(path);
    kubecred::domain::cert::Certificate::from_der(
        &kubecred::domain::pem::parse(&pem).unwrap()[0].der,
    )
    .unwrap()
    .serial
}

fn timed(run: impl FnOnce() -> Run) -> (Run, Duration) {
    let started = std::time::Instant::now();
    let run = run();
    (run, started.elapsed())
}

impl Node {
    fn check_online(&self, url: &str, extra: &[&str]) -> (Run, Duration) {
        let mut args = vec!["check", "-o", "json", "--online", "--server", url];
        args.extend_from_slice(extra);
        timed(|| self.run(&args))
    }
}

#[test]
fn check_online_against_a_name_that_does_not_resolve_answers_at_once() {
    let node = Node::new(AdminLayout::Joined129);
    // `.invalid` never resolves (RFC 6761) and never leaves the machine; the default timeout is 60 s.
    let (run, took) = node.check_online("https://kubecred-test.invalid:6443", &[]);
    eprintln!("check --online, unresolvable name: {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json = run.json();
    let message = common::message(&json, "admin.conf", "api-unreachable");
    assert!(
        message.contains("host name `kubecred-test.invalid`")
            && message.contains("does not resolve"),
        "{message}"
    );
}

#[test]
fn check_online_against_a_refused_port_answers_at_once() {
    let node = Node::new(AdminLayout::Joined129);
    let (run, took) = node.check_online(&refused_url(), &[]);
    eprintln!("check --online, refused port: {took:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json = run.json();
    let message = common::message(&json, "admin.conf", "api-unreachable");
    assert!(message.contains("the connection was refused"), "{message}");
}

#[test]
fn check_online_against_a_silent_listener_is_bounded_by_the_timeout() {
    let node = Node::new(AdminLayout::Joined129);
    let (run, took) = node.check_online(&silent_url(), &["--api-timeout", "4s"]);
    eprintln!("check --online, silent listener, --api-timeout 4s: {took:?}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json = run.json();
    let message = common::message(&json, "admin.conf", "api-unreachable");
    assert!(message.contains("did not answer within 4s"), "{message}");
    assert!(
        !run.stderr.contains("asking the API server"),
        "no progress line without a terminal: {}",
        run.stderr
    );
}

#[test]
fn pty_a_wait_of_more_than_a_second_shows_a_progress_line() {
    let node = Node::new(AdminLayout::Joined129);
    let url = silent_url();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    command
        .arg("--kubernetes-dir")
        .arg(node.host.path())
        .arg("--state-dir")
        .arg(node.state.path())
        .args(["--no-copies", "check", "--online", "--server", &url])
        .args(["--api-timeout", "6s"])
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env("TERM", "xterm");
    let started = std::time::Instant::now();
    let mut session = rexpect::session::spawn_command(command, Some(15_000)).unwrap();
    session
        .exp_string("kubecred: asking the API server")
        .unwrap();
    let shown = started.elapsed();
    eprintln!("progress line after {shown:?}");
    // After a second of waiting, and well before the 6 s the wait lasts
    // (the upper bound leaves room for a loaded machine).
    assert!(
        shown >= Duration::from_millis(900) && shown < Duration::from_secs(5),
        "{shown:?}"
    );
    session.exp_string("did not answer within").unwrap();
    session.exp_eof().unwrap();
}

#[test]
fn each_api_failure_says_what_it_is_only_unreachability_suggests_offline_nothing_changes() {
    struct Case {
        name: &'static str,
        layout: AdminLayout,
        url: Option<String>,
        unauthorized: &'static [&'static str],
        says: &'static str,
        offline: bool,
    }
    let cases = [
        Case {
            name: "dns",
            layout: AdminLayout::Pre129,
            url: Some("https://kubecred-test.invalid:6443".into()),
            unauthorized: &[],
            says: "host name `kubecred-test.invalid`",
            offline: true,
        },
        Case {
            name: "refused",
            layout: AdminLayout::Pre129,
            url: Some(refused_url()),
            unauthorized: &[],
            says: "the connection was refused",
            offline: true,
        },
        Case {
            name: "timeout",
            layout: AdminLayout::Pre129,
            url: Some(silent_url()),
            unauthorized: &[],
            says: "did not answer within 2s",
            offline: true,
        },
        Case {
            name: "tls",
            layout: AdminLayout::Pre129,
            url: Some(foreign_tls_url()),
            unauthorized: &[],
            says: "failed TLS verification",
            offline: false,
        },
        Case {
            name: "401, super-admin.conf works",
            layout: AdminLayout::Init129,
            url: None,
            unauthorized: &["admin.conf"],
            says: "does not accept admin.conf (401 Unauthorized",
            offline: false,
        },
        Case {
            name: "401 for both",
            layout: AdminLayout::Init129,
            url: None,
            unauthorized: &["admin.conf", "super-admin.conf"],
            says: "accepts neither admin.conf nor super-admin.conf (401 Unauthorized",
            offline: false,
        },
        Case {
            name: "401, no super-admin.conf",
            layout: AdminLayout::Pre129,
            url: None,
            unauthorized: &["admin.conf"],
            says: "and there is no super-admin.conf to try",
            offline: false,
        },
    ];
    let mut first_lines = Vec::new();
    for case in cases {
        let node = Node::new(case.layout);
        node.api.faults(Faults {
            unauthorized: case
                .unauthorized
                .iter()
                .map(|file| serial_of(&node.host.file(file)))
                .collect(),
            ..Faults::default()
        });
        let url = case.url.clone().unwrap_or_else(|| node.api.url.clone());
        let before = snapshot(node.host.path());
        let (run, took) =
            timed(|| node.run(&["migrate", "--server", &url, "--api-timeout", "2s", "--yes"]));
        let name = case.name;
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(took < Duration::from_secs(5), "{name}: took {took:?}");
        assert!(run.stderr.contains(case.says), "{name}: {}", run.stderr);
        assert_eq!(
            run.stderr.contains("--offline"),
            case.offline,
            "{name}: only unreachability suggests --offline: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("nothing was changed"),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(snapshot(node.host.path()), before, "{name}");
        assert!(!node.state.path().join("backups").exists(), "{name}");
        first_lines.push(run.stderr.lines().next().unwrap().to_owned());
    }
    let mut distinct = first_lines.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), first_lines.len(), "{first_lines:#?}");
}

fn too_broad_binding() -> serde_json::Value {
    let mut binding = kubeadm_binding();
    binding["subjects"].as_array_mut().unwrap().push(json!({
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"
    }));
    binding
}

#[test]
fn a_binding_with_an_extra_subject_stops_migrate_and_check_online_flags_it() {
    let node = Node::new(AdminLayout::Pre129);
    node.api
        .put_binding("kubeadm:cluster-admins", too_broad_binding());
    let before = snapshot(node.host.path());
    let run = node.migrate(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("also grants cluster-admin to Group/system:authenticated"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#""name":"system:authenticated""#),
        "prints the binding: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("--offline"), "{}", run.stderr);
    assert_eq!(snapshot(node.host.path()), before);
    assert!(!node.state.path().join("backups").exists());
    let creates = node
        .api
        .seen()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(creates, 0, "no API write either");
    // check --online: critical, on a node that relies on the binding and on one that does not.
    for layout in [AdminLayout::Pre129, AdminLayout::Joined129] {
        let node = Node::new(layout);
        node.api
            .put_binding("kubeadm:cluster-admins", too_broad_binding());
        let (run, _) = node.check_online(&node.api.url, &["--api-timeout", "3s"]);
        assert_eq!(run.code, 2, "{}", run.stdout);
        let json = run.json();
        let finding = common::finding(&json, "admin.conf", "cluster-admins-binding-too-broad");
        assert_eq!(finding["severity"], "critical");
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("Group/system:authenticated"),
            "{finding}"
        );
    }
}

#[test]
fn offline_without_super_admin_is_refused_unless_another_break_glass_credential_is_declared() {
    let node = Node::new(AdminLayout::Pre129);
    let before = snapshot(node.host.path());
    let original_admin = fs::read(node.host.file("admin.conf")).unwrap();
    let run = node.run(&["migrate", "--offline", "--no-super-admin", "--yes"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("refusing --offline --no-super-admin"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("--i-have-another-break-glass-credential"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
    assert!(!node.state.path().join("backups").exists());
    let run = node.run(&[
        "migrate",
        "--offline",
        "--no-super-admin",
        "--i-have-another-break-glass-credential",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!node.host.file("super-admin.conf").exists());
    let manifest = node.state.path().join("kubeadm-cluster-admins.yaml");
    let apply = format!("  kubectl apply -f {}", manifest.display());
    assert!(
        run.stdout.lines().any(|l| l == apply),
        "no placeholder, the real manifest: {}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('<'),
        "no placeholder path: {}",
        run.stdout
    );
    // The old admin.conf, still in system:masters, is named by its real path in the backup.
    let kept = run
        .stdout
        .lines()
        .find_map(|l| l.split_once("is kept in the backup: "))
        .map(|(_, path)| path.to_owned())
        .unwrap();
    assert_eq!(fs::read(&kept).unwrap(), original_admin);
}

#[test]
fn an_offline_migration_is_reported_unverified_until_the_binding_is_seen() {
    let node = Node::new(AdminLayout::Pre129);
    let run = node.run(&["migrate", "--offline", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = node.state.path().join("kubeadm-cluster-admins.yaml");
    let super_admin = node.host.file("super-admin.conf");
    let line = format!(
        "kubectl --kubeconfig {} apply -f {}",
        super_admin.display(),
        manifest.display()
    );
    let check = node.run(&["check", "-o", "json"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    let json = check.json();
    let finding = common::finding(&json, "admin.conf", "cluster-admins-binding-unverified");
    assert_eq!(finding["severity"], "warning");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains(&manifest.display().to_string()),
        "{finding}"
    );
    assert!(
        finding["remedy"].as_str().unwrap().contains(&line),
        "{finding}"
    );
    // The server does not have the binding yet: still unverified after an online check.
    let (run, _) = node.check_online(&node.api.url, &["--api-timeout", "3s"]);
    assert!(
        common::codes(&run.json()).contains(&(
            "admin.conf".into(),
            "cluster-admins-binding-unverified".into()
        )),
        "{}",
        run.stdout
    );
    // Applied: the online check sees it, and from then on the offline check is clean.
    let yaml: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    node.api.put_binding("kubeadm:cluster-admins", yaml);
    let (run, _) = node.check_online(&node.api.url, &["--api-timeout", "3s"]);
    assert_eq!(codes(&run.json()), pairs(&[]), "{}", run.stderr);
    let run = node.run(&["check", "-o", "json"]);
    assert_eq!(codes(&run.json()), pairs(&[]));
    assert_eq!(run.code, 0);
}

#[test]
fn a_mark_kubecred_did_not_write_is_refused() {
    let node = Node::new(AdminLayout::Init129);
    let mark = node.state.path().join("binding-unverified.json");
    std::os::unix::fs::symlink(node.host.file("pki/ca.key"), &mark).unwrap();
    let run = node.run(&["check", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert!(!run.stderr.contains("PRIVATE KEY"), "{}", run.stderr);
    fs::remove_file(&mark).unwrap();
    fs::write(
        &mark,
        r#"{"admin":"/etc/kubernetes/admin.conf","manifest":"/m","kubeconfig":null}"#,
    )
    .unwrap();
    std::os::unix::fs::chown(&mark, Some(1000), Some(1000)).unwrap();
    let run = node.run(&["check", "-o", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("not owned by root or the running user"),
        "{}",
        run.stderr
    );
}

/// What `sh -c` passes to a command given `line` with its first word replaced by `printf '%s\n'`.
fn words_seen_by_sh(line: &str, command: &str) -> Vec<String> {
    let rest = line.trim().strip_prefix(command).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\n'{rest}"))
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
fn printed_commands_paste_into_a_shell_whatever_the_paths_hold() {
    let node = Node::new(AdminLayout::Pre129);
    let outer = tempfile::tempdir().unwrap();
    let kubernetes = outer.path().join("it's k8s");
    common::copy_tree(node.host.path(), &kubernetes);
    let state = outer.path().join("state dir's");
    let run = kubecred(&[
        "--kubernetes-dir",
        &kubernetes.display().to_string(),
        "--state-dir",
        &state.display().to_string(),
        "--no-copies",
        "migrate",
        "--offline",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let apply = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("kubectl "))
        .unwrap();
    let manifest = state.join("kubeadm-cluster-admins.yaml");
    assert_eq!(
        words_seen_by_sh(apply, "kubectl"),
        [
            "--kubeconfig".to_owned(),
            kubernetes.join("super-admin.conf").display().to_string(),
            "apply".into(),
            "-f".into(),
            manifest.display().to_string(),
        ]
    );
    assert!(manifest.is_file());
    let rollback = run
        .stdout
        .lines()
        .find_map(|l| l.split_once("undo with: "))
        .map(|(_, command)| command.to_owned())
        .unwrap();
    let words = words_seen_by_sh(&rollback, "kubecred");
    assert_eq!(
        words[..3],
        [
            "--state-dir".to_owned(),
            state.display().to_string(),
            "rollback".into()
        ]
    );
    assert!(state.join("backups").join(&words[3]).is_dir(), "{words:?}");
    // The check's remedy names the same command, quoted the same way.
    let check = kubecred(&[
        "--kubernetes-dir",
        &kubernetes.display().to_string(),
        "--state-dir",
        &state.display().to_string(),
        "--no-copies",
        "check",
        "-o",
        "json",
    ]);
    let json = check.json();
    let remedy =
        common::finding(&json, "admin.conf", "cluster-admins-binding-unverified")["remedy"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(remedy.contains(apply.trim()), "{remedy}");
}

#[test]
fn an_offline_manifest_that_cannot_be_written_leaves_admin_conf_as_it_was() {
    let node = Node::new(AdminLayout::Pre129);
    // Something that is not a regular file where the manifest goes.
    fs::create_dir_all(node.state.path().join("kubeadm-cluster-admins.yaml")).unwrap();
    let before = snapshot(node.host.path());
    let run = node.run(&["migrate", "--offline", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("kubeadm-cluster-admins.yaml"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(node.host.path()), before);
    assert!(!node.state.path().join("journal").exists());
    assert!(!node.state.path().join("binding-unverified.json").exists());
}

/// Fails the rename of one file: the write itself, inside the transaction.
struct FailRename(std::path::PathBuf);

impl kubecred::edge::apply::hook::Hook for FailRename {
    fn before(&self, step: kubecred::edge::apply::hook::Step, path: &Path) -> std::io::Result<()> {
        if step == kubecred::edge::apply::hook::Step::Rename && path == self.0 {
            return Err(std::io::Error::other("injected failure"));
        }
        Ok(())
    }
}

#[test]
fn offline_the_manifest_is_written_before_admin_conf_and_its_failure_restores_everything() {
    use kubecred::domain::migrate::{self, Options, SuperAdminTarget, Unverified};
    use kubecred::edge::apply::transaction::{ApplyError, apply};
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let inventory = kubecred::domain::model::Inventory::scan(&kubecred::domain::model::Scope {
        kubernetes_dir: host.path().to_path_buf(),
        cert_dir: host.file("pki"),
        copies: Vec::new(),
        expected_owner: 0,
    });
    let options = Options {
        super_admin: SuperAdminTarget::Default,
        update_copies: false,
        validity: time::Duration::days(365),
        trust_clock: false,
    };
    let host_source = kubecred::edge::inventory::Host::new(&inventory);
    let plan = migrate::plan(&inventory, &host_source, &options, common::now()).unwrap();
    let material = migrate::prepare(&plan, &inventory, &host_source).unwrap();
    let mark = Unverified {
        admin: plan.admin_path.clone(),
        manifest: migrate::manifest_path(state.path()),
        kubeconfig: Some(host.file("super-admin.conf")),
    };
    let changes =
        migrate::writes(&plan, &material, Some(&mark), state.path(), &host_source).unwrap();
    let at = |path: &Path| changes.iter().position(|c| c.path == path).unwrap();
    assert!(at(&mark.manifest) < at(&plan.admin_path));
    assert!(at(&migrate::mark_path(state.path())) < at(&plan.admin_path));
    let before = snapshot(host.path());
    for failing in [mark.manifest.clone(), migrate::mark_path(state.path())] {
        let result = apply(
            state.path(),
            host.path(),
            "migrate",
            &changes,
            common::now(),
            &FailRename(failing.clone()),
        );
        assert!(
            matches!(result, Err(ApplyError::RolledBack { .. })),
            "{failing:?}: {result:?}"
        );
        assert_eq!(snapshot(host.path()), before, "{failing:?}");
        assert!(!mark.manifest.exists() && !migrate::mark_path(state.path()).exists());
    }
}

#[test]
fn sigint_or_sigterm_during_the_migration_restores_everything_and_leaves_no_key_behind() {
    for signal in ["INT", "TERM"] {
        let node = Node::new(AdminLayout::Pre129);
        node.api.faults(Faults {
            delay: Some(Duration::from_millis(1500)),
            ..Faults::default()
        });
        let before = snapshot(node.host.path());
        let child = Command::new(env!("CARGO_BIN_EXE_kubecred"))
            .arg("--kubernetes-dir")
            .arg(node.host.path())
            .arg("--state-dir")
            .arg(node.state.path())
            .args(["--no-copies", "migrate", "--server", &node.api.url])
            .args(["--api-timeout", "10s", "--yes"])
            .env("KUBECRED_TEST_NOW", common::NOW)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the transaction has begun (the backup set exists), then signal.
        let backups = node.state.path().join("backups");
        let started = std::time::Instant::now();
        while !fs::read_dir(&backups).is_ok_and(|mut d| d.next().is_some()) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{signal}: no backup"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let killed = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{signal}: {stderr}");
        assert!(
            stderr.contains("every file was restored"),
            "{signal}: {stderr}"
        );
        assert_eq!(snapshot(node.host.path()), before, "{signal}");
        assert!(!node.state.path().join("journal").exists(), "{signal}");
        // Nothing but the backed-up files (old versions) under the state dir: no new key anywhere.
        let set = fs::read_dir(&backups)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let stored: Vec<String> = fs::read_dir(set.join("files"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let manifest: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(set.join("manifest.json")).unwrap()).unwrap();
        let listed: Vec<String> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["stored"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(stored.len(), listed.len(), "{signal}: {stored:?}");
        let everything = snapshot(node.state.path());
        assert!(
            everything.keys().all(|p| {
                let p = p.display().to_string();
                p == "lock" || p.ends_with("/manifest.json") || p.contains("/files/")
            }),
            "{signal}: {everything:#?}"
        );
    }
}

/// An admin.conf whose client certificate and key are files (`client-certificate:`,
/// `client-key:`), which kubectl accepts: the migrated admin.conf embeds the new
/// credential in their place, never both, and kubectl and check accept it.
#[test]
fn offline_migration_of_an_admin_conf_with_credential_files_writes_one_kubectl_accepts() {
    use base64::Engine as _;
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let admin = host.file("admin.conf");
    let mut config = Kubeconfig::parse(&fs::read(&admin).unwrap()).unwrap();
    for user in &mut config.users {
        let decode = |data: &Option<String>| {
            base64::engine::general_purpose::STANDARD
                .decode(data.as_deref().unwrap())
                .unwrap()
        };
        let (crt, key) = (host.file("admin.crt"), host.file("admin.key"));
        fs::write(&crt, decode(&user.user.client_certificate_data)).unwrap();
        fs::write(&key, decode(&user.user.client_key_data)).unwrap();
        fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        user.user.client_certificate_data = None;
        user.user.client_key_data = None;
        user.user.client_certificate = Some(crt.display().to_string());
        user.user.client_key = Some(key.display().to_string());
    }
    fs::write(&admin, config.to_yaml().unwrap()).unwrap();
    kubectl_accepts(&admin).expect("kubectl accepts the file form");
    let run = offline_at(&host, state.path(), common::NOW, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    if let Err(said) = kubectl_accepts(&admin) {
        panic!("kubectl refuses the migrated admin.conf: {said}");
    }
    let migrated = Kubeconfig::parse(&fs::read(&admin).unwrap()).unwrap();
    for user in &migrated.users {
        assert_eq!(user.user.client_certificate, None, "{}", user.name);
        assert_eq!(user.user.client_key, None, "{}", user.name);
        assert!(user.user.client_certificate_data.is_some(), "{}", user.name);
        assert!(user.user.client_key_data.is_some(), "{}", user.name);
    }
    let json = host.check(&[]).json();
    let on_admin: Vec<(String, String)> = codes(&json)
        .into_iter()
        .filter(|(credential, _)| credential == "admin.conf")
        .collect();
    assert_eq!(on_admin, pairs(&[]), "{json}");
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

/// `--super-admin-out` names a file that did not exist when the plan was made:
/// one that appears before the write (another run, a user) is never overwritten.
#[test]
fn a_super_admin_out_file_that_appears_after_the_plan_is_not_overwritten() {
    use kubecred::domain::migrate::{self, Options, SuperAdminTarget};
    use kubecred::edge::apply::transaction::{ApplyError, apply};
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let vault = tempfile::tempdir().unwrap();
    let out = vault.path().join("super-admin.conf");
    let inventory = kubecred::domain::model::Inventory::scan(&kubecred::domain::model::Scope {
        kubernetes_dir: host.path().to_path_buf(),
        cert_dir: host.file("pki"),
        copies: Vec::new(),
        expected_owner: 0,
    });
    let options = Options {
        super_admin: SuperAdminTarget::Out(out.clone()),
        update_copies: false,
        validity: time::Duration::days(365),
        trust_clock: false,
    };
    let source = kubecred::edge::inventory::Host::new(&inventory);
    let plan = migrate::plan(&inventory, &source, &options, common::now()).unwrap();
    let material = migrate::prepare(&plan, &inventory, &source).unwrap();
    let writes = migrate::writes(&plan, &material, None, state.path(), &source).unwrap();
    fs::write(&out, b"someone else's break-glass credential").unwrap();
    let before = snapshot(host.path());
    let err = apply(
        state.path(),
        host.path(),
        "migrate",
        &writes,
        common::now(),
        &kubecred::edge::apply::hook::Proceed,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Changed { path, .. } if *path == out),
        "{err}"
    );
    assert_eq!(
        fs::read(&out).unwrap(),
        b"someone else's break-glass credential"
    );
    assert_eq!(snapshot(host.path()), before);
}

/// `migrate -o json`: the plan is `applied: false` with the files it would
/// write; the result is `applied: true`, with the backup id `rollback` takes
/// and each file written with its SHA-256, as python3 reads the document and
/// sha256sum computes it; the fields scripts already read stay.
#[test]
fn migrate_json_names_the_backup_and_every_file_written_with_its_sha256() {
    let node = Node::new(AdminLayout::Pre129);
    let before = snapshot(node.host.path());
    let py = common::python_json;
    let dry = node.run(&[
        "-o",
        "json",
        "migrate",
        "--server",
        &node.api.url,
        "--api-timeout",
        "3s",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(snapshot(node.host.path()), before);
    let admin = node.host.file("admin.conf").display().to_string();
    let super_admin = node.host.file("super-admin.conf").display().to_string();
    assert_eq!(
        py(
            &dry.stdout,
            "(d['applied'], [(c['path'], c['action'], 'sha256' in c) for c in d['changes']], d['files'])"
        ),
        format!(
            "(False, [('{super_admin}', 'written', False), ('{admin}', 'written', False)], ['{super_admin}', '{admin}'])"
        )
    );
    let run = node.migrate(&["-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = &run.stdout;
    assert_eq!(
        py(doc, "(d['applied'], d['changed'], d['operation'])"),
        "(True, True, 'migrate')"
    );
    let changes = py(
        doc,
        r"'\n'.join(c['path'] + ' ' + c['action'] + ' ' + c['sha256'] for c in d['changes'])",
    );
    let changes: Vec<Vec<&str>> = changes.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(
        changes.iter().map(|c| c[0]).collect::<Vec<_>>(),
        [super_admin.as_str(), admin.as_str()]
    );
    for change in &changes {
        assert_eq!(change[1], "written");
        assert_eq!(
            change[2],
            common::sha256sum(Path::new(change[0])),
            "{}",
            change[0]
        );
    }
    assert_eq!(py(doc, "d['restart']['pods']"), "[]");
    let id = py(doc, "d['backup']");
    let list = node.run(&["-o", "json", "rollback", "--list"]);
    assert_eq!(
        py(&list.stdout, "[b['id'] for b in d['backups']]"),
        format!("['{id}']")
    );
    let undo = node.run(&["-o", "json", "rollback", &id, "--yes"]);
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    assert_eq!(snapshot(node.host.path()), before);
    // The rollback removes the super-admin.conf the migration created: no SHA-256.
    assert_eq!(
        py(
            &undo.stdout,
            "sorted((c['path'], c['action'], c.get('sha256') is None) for c in d['changes'])"
        ),
        format!("[('{admin}', 'written', False), ('{super_admin}', 'removed', True)]")
    );
}
