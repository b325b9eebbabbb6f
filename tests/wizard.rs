//! The wizard: its flow with a scripted prompter for every path and every
//! cancel point, then the real binary on a pseudo-terminal.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::process::Command;

use common::{Host, snapshot};
use kubecred::domain::demo::AdminLayout;
use kubecred::ui::wizard::flow::{Answers, Binding, Facts, Intent, Offer, Running, offers};
use kubecred::ui::wizard::prompt::{Reply, Scripted};
use kubecred::ui::wizard::{self, Executor, Outcome};
use rexpect::process::WaitStatus;
use std::time::Instant;
use time::Duration;

/// Records plans shown and intents run; runs nothing.
#[derive(Default)]
struct Fake {
    planned: Vec<Intent>,
    ran: Vec<Intent>,
    refuse: Option<String>,
}

impl Executor for Fake {
    type Plan = Intent;

    fn plan(&mut self, intent: &Intent) -> Result<Intent, String> {
        self.planned.push(intent.clone());
        match self.refuse.take() {
            Some(reason) => Err(reason),
            None => Ok(intent.clone()),
        }
    }

    fn show(&self, plan: &Intent) -> String {
        format!("PLAN {plan:?}")
    }

    fn run(&mut self, plan: Intent) -> u8 {
        self.ran.push(plan);
        0
    }
}

fn facts() -> Facts {
    let now = time::macros::datetime!(2026-11-26 12:00 UTC);
    Facts {
        kubernetes_dir: "/etc/kubernetes".into(),
        admin_groups: Some(vec!["system:masters".into()]),
        super_admin: Some("/etc/kubernetes/super-admin.conf".into()),
        expiries: vec![
            ("apiserver".into(), now + Duration::days(5)),
            ("etcd-peer".into(), now + Duration::days(300)),
        ],
        now: Some(now),
        stale_copies: vec!["/root/.kube/config".into()],
        admin_copies: vec!["/root/.kube/config".into()],
        binding: Some(Binding::Missing),
        backups: vec![
            "20261101T000000Z-renew".into(),
            "20261120T000000Z-renew".into(),
        ],
        running: None,
        warn: None,
        renew_within: None,
        renew_validity: None,
    }
}

fn drive(facts: &Facts, replies: Vec<Reply>) -> (Outcome, Fake, Scripted) {
    let mut prompter = Scripted::new(replies);
    let mut fake = Fake::default();
    let outcome = wizard::run(facts, &mut prompter, &mut fake);
    (outcome, fake, prompter)
}

fn pick(text: &str) -> Reply {
    Reply::Pick(text.into())
}

#[test]
fn offers_only_what_applies() {
    let all = facts();
    assert_eq!(
        offers(&all),
        [
            Offer::Migrate,
            Offer::Renew,
            Offer::MoveSuperAdmin,
            Offer::Rollback,
            Offer::Quit
        ]
    );
    let unreachable = Facts {
        binding: Some(Binding::Unreachable("down".into())),
        ..facts()
    };
    assert_eq!(offers(&unreachable)[0], Offer::MigrateOffline);
    let migrated = Facts {
        admin_groups: Some(vec!["kubeadm:cluster-admins".into()]),
        super_admin: None,
        expiries: vec![],
        binding: Some(Binding::Bound),
        backups: vec![],
        ..facts()
    };
    assert_eq!(
        offers(&migrated),
        [Offer::UpdateCopies, Offer::Quit],
        "nothing to migrate, renew, move or roll back"
    );
    let wrong = Facts {
        binding: Some(Binding::Wrong),
        ..facts()
    };
    assert!(
        !offers(&wrong).contains(&Offer::Migrate),
        "a wrong binding is fixed by hand first"
    );
}

#[test]
fn opening_screen_says_what_each_fact_means() {
    let (_, _, prompter) = drive(&facts(), vec![pick("Quit")]);
    let screen = prompter.transcript.join("\n");
    for expected in [
        "likely the node where `kubeadm init` ran",
        "bypasses RBAC and can never be revoked",
        "super-admin.conf: present at /etc/kubernetes/super-admin.conf",
        "1 expire within 30 days, first apiserver on 2026-12-01 12:00 UTC",
        "/root/.kube/config hold an old or system:masters admin credential",
        "Binding kubeadm:cluster-admins: missing",
    ] {
        assert!(
            screen.contains(expected),
            "missing {expected:?} in:\n{screen}"
        );
    }
}

#[test]
fn quit_changes_nothing() {
    let (outcome, fake, _) = drive(&facts(), vec![pick("Quit")]);
    assert_eq!(outcome, Outcome::Quit);
    assert_eq!(outcome.exit(), 0);
    assert!(fake.ran.is_empty() && fake.planned.is_empty());
}

#[test]
fn migrate_with_copies_shows_the_plan_then_runs() {
    let (outcome, fake, prompter) = drive(
        &facts(),
        vec![pick("Migrate"), Reply::Confirm(true), Reply::Confirm(true)],
    );
    let intent = Intent::Migrate {
        offline: false,
        update_copies: true,
    };
    assert_eq!(outcome, Outcome::Ran(intent.clone(), 0));
    assert_eq!(fake.planned, std::slice::from_ref(&intent));
    assert_eq!(fake.ran, [intent]);
    let plan_at = prompter
        .transcript
        .iter()
        .position(|l| l.starts_with("PLAN"))
        .unwrap();
    let confirm_at = prompter
        .transcript
        .iter()
        .position(|l| l.starts_with("? Carry this out?"))
        .unwrap();
    assert!(
        plan_at < confirm_at,
        "the plan is shown before the final confirmation"
    );
}

#[test]
fn migrate_offline_when_the_api_server_does_not_answer() {
    let facts = Facts {
        binding: Some(Binding::Unreachable("down".into())),
        stale_copies: vec![],
        ..facts()
    };
    let (outcome, _, _) = drive(&facts, vec![pick("Migrate offline"), Reply::Confirm(true)]);
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::Migrate {
                offline: true,
                update_copies: false
            },
            0
        )
    );
}

#[test]
fn renew_asks_window_and_validity_with_kubeadm_defaults() {
    let (outcome, _, prompter) = drive(
        &facts(),
        vec![
            pick("Renew"),
            Reply::Type(String::new()),
            Reply::Type(String::new()),
            Reply::Confirm(true),
        ],
    );
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::Renew {
                within: Duration::days(30),
                validity: Duration::hours(8760),
                update_copies: false
            },
            0
        )
    );
    assert!(
        prompter
            .transcript
            .iter()
            .any(|l| l.contains("Renew what expires within"))
    );
    let (outcome, _, prompter) = drive(
        &facts(),
        vec![
            pick("Renew"),
            Reply::Type("soon".into()),
            Reply::Type("90d".into()),
            Reply::Type("1h".into()),
            Reply::Type("30d".into()),
            Reply::Type("90d".into()),
            Reply::Type("100000y".into()),
            Reply::Type("2y".into()),
            Reply::Confirm(true),
        ],
    );
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::Renew {
                within: Duration::days(90),
                validity: Duration::days(730),
                update_copies: false
            },
            0
        )
    );
    let said = prompter.transcript.join("\n");
    assert!(
        said.contains("`soon`: expected a number"),
        "a bad duration is explained: {said}"
    );
    assert!(said.contains("less than a day"), "{said}");
    assert_eq!(
        said.matches("not longer than the window (90d)").count(),
        2,
        "shorter and equal are both refused: {said}"
    );
    assert!(said.contains("`100000y` is too long"), "{said}");
}

#[test]
fn move_super_admin_asks_for_a_path_off_the_node() {
    let (outcome, fake, prompter) = drive(
        &facts(),
        vec![
            pick("Move super-admin.conf"),
            Reply::Type("relative/path".into()),
            Reply::Type("/etc/kubernetes/elsewhere.conf".into()),
            Reply::Type("/media/usb/super-admin.conf".into()),
            Reply::Confirm(true),
        ],
    );
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::MoveSuperAdmin {
                to: PathBuf::from("/media/usb/super-admin.conf")
            },
            0
        )
    );
    assert_eq!(fake.planned.len(), 1);
    let said = prompter.transcript.join("\n");
    assert!(
        said.contains("absolute path") && said.contains("the point is to move it off"),
        "{said}"
    );
}

#[test]
fn a_plan_that_cannot_be_made_asks_again() {
    let mut prompter = Scripted::new(vec![
        pick("Move super-admin.conf"),
        Reply::Type("/media/usb/taken.conf".into()),
        Reply::Type("/media/usb/free.conf".into()),
        Reply::Confirm(false),
        pick("Quit"),
    ]);
    let mut fake = Fake {
        refuse: Some("/media/usb/taken.conf exists already".into()),
        ..Fake::default()
    };
    let outcome = wizard::run(&facts(), &mut prompter, &mut fake);
    assert_eq!(
        outcome,
        Outcome::Quit,
        "declining the final confirmation goes back to the menu"
    );
    assert!(fake.ran.is_empty());
    assert!(
        prompter
            .transcript
            .iter()
            .any(|l| l.contains("exists already"))
    );
}

#[test]
fn rollback_picks_a_backup() {
    let (outcome, _, _) = drive(
        &facts(),
        vec![pick("Roll back"), pick("20261101"), Reply::Confirm(true)],
    );
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::Rollback {
                id: "20261101T000000Z-renew".into()
            },
            0
        )
    );
}

/// Numbers each plan it makes; records which one it is handed to run.
#[derive(Default)]
struct Counting {
    made: usize,
    ran: Vec<usize>,
}

impl Executor for Counting {
    type Plan = usize;

    fn plan(&mut self, _: &Intent) -> Result<usize, String> {
        self.made += 1;
        Ok(self.made)
    }

    fn show(&self, plan: &usize) -> String {
        format!("PLAN #{plan}")
    }

    fn run(&mut self, plan: usize) -> u8 {
        self.ran.push(plan);
        0
    }
}

#[test]
fn the_plan_carried_out_is_the_one_shown_at_the_confirmation() {
    let mut prompter = Scripted::new(vec![
        pick("Roll back"),
        pick("20261101"),
        Reply::Confirm(false),
        pick("Roll back"),
        pick("20261120"),
        Reply::Confirm(true),
    ]);
    let mut counting = Counting::default();
    let outcome = wizard::run(&facts(), &mut prompter, &mut counting);
    assert_eq!(
        outcome,
        Outcome::Ran(
            Intent::Rollback {
                id: "20261120T000000Z-renew".into()
            },
            0
        )
    );
    assert_eq!(
        counting.made, 2,
        "each confirmation shows one plan; none is made to run"
    );
    assert_eq!(
        counting.ran,
        [2],
        "the plan confirmed, not the declined one, nor a new one"
    );
    let shown = prompter
        .transcript
        .iter()
        .rposition(|l| l == "PLAN #2")
        .unwrap();
    let confirmed = prompter
        .transcript
        .iter()
        .rposition(|l| l.starts_with("? Carry this out?"))
        .unwrap();
    assert!(shown < confirmed, "{:#?}", prompter.transcript);
}

#[test]
fn every_cancel_point_changes_nothing_and_exits_130() {
    let paths: Vec<Vec<Reply>> = vec![
        vec![],
        vec![pick("Migrate")],
        vec![pick("Migrate"), Reply::Confirm(true)],
        vec![pick("Renew")],
        vec![pick("Renew"), Reply::Type("30d".into())],
        vec![
            pick("Renew"),
            Reply::Type("30d".into()),
            Reply::Type("8760h".into()),
        ],
        vec![pick("Move super-admin.conf")],
        vec![
            pick("Move super-admin.conf"),
            Reply::Type("/media/usb/s.conf".into()),
        ],
        vec![pick("Roll back")],
        vec![pick("Roll back"), pick("20261120")],
    ];
    for path in paths {
        for cancel in [Reply::Escape, Reply::Hangup] {
            let mut replies = path.clone();
            replies.push(cancel.clone());
            let (outcome, fake, _) = drive(&facts(), replies);
            assert_eq!(outcome, Outcome::Cancelled, "{path:?} then {cancel:?}");
            assert_eq!(outcome.exit(), 130);
            assert!(
                fake.ran.is_empty(),
                "{path:?} then {cancel:?}: nothing is begun before the final confirmation"
            );
        }
    }
}

// ---- the real binary on a pseudo-terminal -----------------------------------

/// A 1.29 node on which `name` expires in 12 days (issued 350 days ago), and its spec.
fn due_in_12_days(name: &str) -> (kubecred::domain::demo::HostSpec, Host) {
    let mut spec = common::spec(AdminLayout::Init129);
    spec.overrides.insert(
        name.into(),
        (
            common::now() - Duration::days(350),
            common::now() + Duration::days(12),
        ),
    );
    let host = Host::generate(&spec);
    (spec, host)
}

/// From the menu, picks the renewal (entries: Renew, Move super-admin.conf,
/// Quit (default); up twice reaches Renew) and takes its default window and validity.
fn choose_renewal_with_defaults(session: &mut rexpect::session::PtySession) {
    session.exp_string("What do you want to do?").unwrap();
    session.send(UP).unwrap();
    session.send(UP).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("Renew what expires within").unwrap();
    session.send_line("").unwrap();
    session.exp_string("valid for").unwrap();
    session.send_line("").unwrap();
}

fn spawn_wizard(host: &Host, state: &std::path::Path) -> rexpect::session::PtySession {
    spawn_wizard_at(host, state, "https://127.0.0.1:9", "1s")
}

fn spawn_wizard_at(
    host: &Host,
    state: &std::path::Path,
    server: &str,
    timeout: &str,
) -> rexpect::session::PtySession {
    spawn_wizard_on(host.path(), state, server, timeout, &[])
}

/// The wizard on the tree `root`, with extra environment variables.
fn spawn_wizard_on(
    root: &std::path::Path,
    state: &std::path::Path,
    server: &str,
    timeout: &str,
    env: &[(&str, &std::path::Path)],
) -> rexpect::session::PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    command.envs(env.iter().copied());
    command
        .arg("--kubernetes-dir")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args([
            "--no-copies",
            "wizard",
            "--server",
            server,
            "--api-timeout",
            timeout,
        ])
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    rexpect::session::spawn_command(command, Some(30_000)).unwrap()
}

fn exit_code(session: &rexpect::session::PtySession) -> i32 {
    match session.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the wizard did not exit normally: {other:?}"),
    }
}

const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";

#[test]
fn pty_offline_migration_end_to_end() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let mut session = spawn_wizard(&host, state.path());
    session
        .exp_string("admin.conf: group system:masters")
        .unwrap();
    session.exp_string("What do you want to do?").unwrap();
    // The default is Quit (last); Down wraps to the first entry, Migrate offline.
    session.send(DOWN).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("offline: unverified").unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("kubectl --kubeconfig").unwrap();
    session.exp_string("UNVERIFIED (offline)").unwrap();
    assert_eq!(exit_code(&session), 0);
    let json = host.check(&[]).json();
    assert!(
        !common::codes(&json)
            .iter()
            .any(|(_, code)| code == "admin-in-system-masters")
    );
    assert!(host.file("super-admin.conf").exists());
}

#[test]
fn pty_online_migration_carries_out_the_plan_it_showed() {
    let host = Host::new(AdminLayout::Pre129);
    let api = common::apiserver::ApiServer::start(host.path());
    let state = common::state_dir();
    let mut session = spawn_wizard_at(&host, state.path(), &api.url, "5s");
    session
        .exp_string("admin.conf: group system:masters")
        .unwrap();
    session.exp_string("What do you want to do?").unwrap();
    // Down wraps from Quit to the first entry: Migrate.
    session.send(DOWN).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session
        .exp_string("prove it with SelfSubjectReview and SelfSubjectAccessReview")
        .unwrap();
    session.exp_string("Carry this out?").unwrap();
    let asked_before_confirming = api.seen().len();
    session.send_line("y").unwrap();
    session.exp_string("verified by the API server").unwrap();
    assert_eq!(exit_code(&session), 0);
    let seen = api.seen();
    let after: Vec<(&str, &str)> = seen[asked_before_confirming..]
        .iter()
        .map(|s| (s.method.as_str(), s.path.rsplit('/').next().unwrap()))
        .collect();
    // The change asks nothing again before it begins: create, read back, prove.
    assert_eq!(
        after,
        [
            ("POST", "clusterrolebindings"),
            ("GET", "kubeadm:cluster-admins"),
            ("POST", "selfsubjectreviews"),
            ("POST", "selfsubjectaccessreviews"),
        ]
    );
    let json = host.check(&[]).json();
    assert!(
        !common::codes(&json)
            .iter()
            .any(|(_, code)| code == "admin-in-system-masters"),
        "{json}"
    );
}

#[test]
fn pty_the_opening_screen_and_the_renewal_offer_follow_the_configuration() {
    let (_, host) = due_in_12_days("front-proxy-client");
    let state = common::state_dir();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[check]\nwarn = \"14d\"\ncrit = \"3d\"\n[renew]\nwithin = \"20d\"\nvalidity = \"90d\"\n",
    )
    .unwrap();
    let mut session = spawn_wizard_on(
        host.path(),
        state.path(),
        "https://127.0.0.1:9",
        "1s",
        &[("KUBECRED_CONFIG", config.as_path())],
    );
    session
        .exp_string("1 expire within 14 days, first front-proxy-client")
        .unwrap();
    session.exp_string("What do you want to do?").unwrap();
    session.send(UP).unwrap();
    session.send(UP).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("Renew what expires within").unwrap();
    session.exp_string("20d").unwrap();
    session.send_line("").unwrap();
    session.exp_string("valid for").unwrap();
    session.exp_string("90d").unwrap();
    session.send_line("").unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("n").unwrap();
    session.send_control('c').unwrap();
    assert_ne!(exit_code(&session), 0, "left at the prompt");
    // With the defaults, 12 days is within the 30 the screen counts too;
    // with a 5-day warning it is not.
    std::fs::write(&config, "[check]\nwarn = \"5d\"\ncrit = \"2d\"\n").unwrap();
    let mut session = spawn_wizard_on(
        host.path(),
        state.path(),
        "https://127.0.0.1:9",
        "1s",
        &[("KUBECRED_CONFIG", config.as_path())],
    );
    session
        .exp_string("none expire within 5 days; the first is front-proxy-client")
        .unwrap();
    session.exp_string("What do you want to do?").unwrap();
    session.send_control('c').unwrap();
    assert_ne!(exit_code(&session), 0, "left at the menu");
}

#[test]
fn pty_renewing_what_is_due() {
    let (_, host) = due_in_12_days("front-proxy-client");
    let state = common::state_dir();
    let before = snapshot(host.path());
    let mut session = spawn_wizard(&host, state.path());
    session
        .exp_string("1 expire within 30 days, first front-proxy-client")
        .unwrap();
    choose_renewal_with_defaults(&mut session);
    session.exp_string("front-proxy-client").unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("renewed 1 certificate").unwrap();
    assert_eq!(exit_code(&session), 0);
    let after = snapshot(host.path());
    let changed: Vec<String> = before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .map(|k| k.display().to_string())
        .collect();
    assert_eq!(
        changed,
        ["pki/front-proxy-client.crt", "pki/front-proxy-client.key"]
    );
}

#[test]
fn pty_a_node_changed_after_the_plan_was_shown_is_refused_and_left_as_it_is() {
    let (spec, host) = due_in_12_days("front-proxy-client");
    // The same node generated again: other keys, so other certificates.
    let elsewhere = Host::generate(&spec);
    let state = common::state_dir();
    let mut session = spawn_wizard(&host, state.path());
    choose_renewal_with_defaults(&mut session);
    session.exp_string("front-proxy-client").unwrap();
    session.exp_string("Carry this out?").unwrap();
    // While the plan is on the screen, the certificate it renews is rewritten.
    std::fs::copy(
        elsewhere.file("pki/front-proxy-client.crt"),
        host.file("pki/front-proxy-client.crt"),
    )
    .unwrap();
    let changed = snapshot(host.path());
    session.send_line("y").unwrap();
    let said = session.exp_eof().unwrap();
    let code = exit_code(&session);
    assert!(
        said.contains("The plan shown was not carried out")
            && said.contains("run `kubecred wizard` again"),
        "the refusal says so: {said}"
    );
    assert!(!said.contains("renewed 1 certificate"), "{said}");
    assert_eq!(code, 1, "{said}");
    assert_eq!(
        snapshot(host.path()),
        changed,
        "nothing is written over the change"
    );
    let backups = state.path().join("backups");
    assert!(
        !backups.exists() || std::fs::read_dir(&backups).unwrap().next().is_none(),
        "the refusal comes before any backup"
    );
}

#[test]
fn pty_ctrl_c_at_the_final_confirmation_leaves_the_tree_byte_identical() {
    let host = Host::new(AdminLayout::Pre129);
    let state = common::state_dir();
    let before = snapshot(host.path());
    let mut session = spawn_wizard(&host, state.path());
    session.exp_string("What do you want to do?").unwrap();
    session.send(DOWN).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_control('c').unwrap();
    session
        .exp_string("cancelled: nothing was changed")
        .unwrap();
    assert_eq!(exit_code(&session), 130);
    assert_eq!(snapshot(host.path()), before);
    assert!(!state.path().join("backups").exists());
}

#[test]
fn without_a_terminal_the_wizard_refuses_and_names_the_commands() {
    let host = Host::new(AdminLayout::Pre129);
    let root = host.path().display().to_string();
    let run = common::kubecred(&["--kubernetes-dir", &root, "--no-copies", "wizard"]);
    assert_eq!(run.code, 2);
    for command in [
        "kubecred check",
        "kubecred renew --yes",
        "kubecred migrate --yes",
        "kubecred rollback ID --yes",
    ] {
        assert!(run.stderr.contains(command), "{}", run.stderr);
    }
}

#[test]
fn pty_moving_super_admin_off_the_node() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let usb = tempfile::tempdir().unwrap();
    let target = usb.path().join("cluster-super-admin.conf");
    let original = std::fs::read(host.file("super-admin.conf")).unwrap();
    let mut session = spawn_wizard(&host, state.path());
    session.exp_string("super-admin.conf: present at").unwrap();
    session.exp_string("What do you want to do?").unwrap();
    // Entries: Move super-admin.conf, Quit (default).
    session.send(UP).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("Move super-admin.conf to").unwrap();
    session.send_line(&target.display().to_string()).unwrap();
    session.exp_string("re-read").unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("super-admin.conf moved to").unwrap();
    assert_eq!(exit_code(&session), 0);
    assert!(!host.file("super-admin.conf").exists());
    assert_eq!(std::fs::read(&target).unwrap(), original);
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn offline_migration_is_offered_only_when_the_api_server_cannot_be_reached() {
    let unreachable = Facts {
        binding: Some(Binding::Unreachable("connection refused".into())),
        ..facts()
    };
    assert!(offers(&unreachable).contains(&Offer::MigrateOffline));
    let failed = Facts {
        binding: Some(Binding::Failed("failed TLS verification".into())),
        ..facts()
    };
    let offered = offers(&failed);
    assert!(
        !offered.contains(&Offer::MigrateOffline) && !offered.contains(&Offer::Migrate),
        "{offered:?}"
    );
    let (_, _, prompter) = drive(&failed, vec![pick("Quit")]);
    let screen = prompter.transcript.join("\n");
    assert!(
        screen.contains("could not be asked (failed TLS verification)")
            && screen.contains("migrating offline would not help"),
        "{screen}"
    );
}

#[test]
fn the_node_is_shown_before_the_api_servers_answer_is_awaited() {
    let mut prompter = Scripted::new(vec![pick("Quit")]);
    let mut fake = Fake::default();
    let node_lines = facts().describe_node().len();
    let seen = std::cell::Cell::new(0);
    let outcome = wizard::run_pending(
        Facts {
            binding: None,
            ..facts()
        },
        || {
            seen.set(seen.get() + 1);
            Answers {
                binding: Some(Binding::Unreachable("down".into())),
                running: Some(Running {
                    in_use: 9,
                    stale: vec![("scheduler.conf".into(), "kube-scheduler".into())],
                    not_running: vec![],
                    unknown: 1,
                }),
            }
        },
        &mut prompter,
        &mut fake,
    );
    assert_eq!(outcome, Outcome::Quit);
    assert_eq!(seen.get(), 1);
    let transcript = &prompter.transcript;
    let binding_at = transcript
        .iter()
        .position(|l| l.contains("Binding kubeadm:cluster-admins: unknown, the API server could not be reached (down)"))
        .unwrap();
    assert_eq!(
        binding_at,
        node_lines + 1,
        "after \"This node:\" and every node line: {transcript:#?}"
    );
    assert_eq!(
        transcript[binding_at + 1],
        "  • Running components: 9 credential(s) in use as on disk; stale: scheduler.conf (kube-scheduler) — restart the component to load the file on disk; 1 unknown (`kubecred check --live` says why)."
    );
    assert_eq!(transcript[binding_at + 2], "? What do you want to do?");
}

#[test]
fn pty_the_first_screen_appears_at_once_while_the_api_server_keeps_silent() {
    // A loopback listener that accepts and never answers: the API server's answer takes the whole timeout.
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
    let host = Host::new(AdminLayout::Pre129);
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut session = spawn_wizard_at(&host, state.path(), &url, "4s");
    session
        .exp_string("admin.conf: group system:masters")
        .unwrap();
    let first_screen = started.elapsed();
    eprintln!("wizard first screen, silent API server: {first_screen:?}");
    // Drawn at once, long before the API server's answer (at least 3 s
    // later); measured at about 0.1 s, bounded loosely for a loaded machine.
    assert!(
        first_screen < std::time::Duration::from_millis(2500),
        "{first_screen:?}"
    );
    session
        .exp_string("the API server could not be reached")
        .unwrap();
    let answer = started.elapsed();
    eprintln!("wizard binding line, silent API server, --api-timeout 4s: {answer:?}");
    assert!(answer >= std::time::Duration::from_secs(3), "{answer:?}");
    session.exp_string("What do you want to do?").unwrap();
    session.exp_string("Migrate offline").unwrap();
    session.send_control('c').unwrap();
    session
        .exp_string("cancelled: nothing was changed")
        .unwrap();
    assert_eq!(exit_code(&session), 130);
    assert!(!state.path().join("backups").exists());
}

#[test]
fn pty_the_running_components_are_shown_after_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let made = common::kubecred(&["demo".into(), node.display().to_string()]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let no_processes = tempfile::tempdir().unwrap();
    std::fs::write(no_processes.path().join("stat"), "btime 1700000000\n").unwrap();
    let state = common::state_dir();
    let mut session = spawn_wizard_on(
        &node,
        state.path(),
        "https://127.0.0.1:9",
        "1s",
        &[("KUBECRED_TEST_PROC_ROOT", no_processes.path())],
    );
    session
        .exp_string("Binding kubeadm:cluster-admins")
        .unwrap();
    let (_, line) = session.exp_regex("Running components: [^\r\n]*").unwrap();
    assert!(
        line.contains("0 credential(s) in use as on disk")
            && line.contains(
                "not running: etcd, kube-apiserver, kube-controller-manager, kube-scheduler"
            ),
        "{line}"
    );
    session.exp_string("What do you want to do?").unwrap();
    session.send("q").unwrap();
    session.flush().unwrap();
}

#[test]
fn pty_after_renewing_what_loads_only_at_start_the_restart_is_offered() {
    let (_, host) = due_in_12_days("scheduler.conf");
    let state = common::state_dir();
    let mut session = spawn_wizard(&host, state.path());
    choose_renewal_with_defaults(&mut session);
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("renewed 1 certificate").unwrap();
    session
        .exp_string(
            "Restart kube-scheduler now, one at a time, each until it uses the new files? [y/N]",
        )
        .unwrap();
    session.send_line("n").unwrap();
    session
        .exp_string("You must restart kube-scheduler so that it loads the new certificates.")
        .unwrap();
    assert_eq!(exit_code(&session), 0);
}

#[test]
fn a_renewal_of_admin_conf_asks_whether_its_copies_are_updated_too() {
    let now = facts().now.unwrap();
    let due = Facts {
        expiries: vec![("admin.conf".into(), now + Duration::days(5))],
        ..facts()
    };
    let renewal = |update_copies| Intent::Renew {
        within: Duration::days(30),
        validity: Duration::hours(8760),
        update_copies,
    };
    let defaults = |answer| {
        vec![
            pick("Renew"),
            Reply::Type(String::new()),
            Reply::Type(String::new()),
            Reply::Confirm(answer),
            Reply::Confirm(true),
        ]
    };
    for answer in [true, false] {
        let (outcome, fake, prompter) = drive(&due, defaults(answer));
        assert_eq!(outcome, Outcome::Ran(renewal(answer), 0));
        assert_eq!(
            fake.planned,
            [renewal(answer)],
            "the plan shown is the one asked for"
        );
        assert!(
            prompter
                .transcript
                .iter()
                .any(|l| l.contains("also rewrite its copies")),
            "{:?}",
            prompter.transcript
        );
    }
    // No copy of admin.conf, or admin.conf not due: nothing to ask.
    for facts in [
        Facts {
            admin_copies: vec![],
            ..due.clone()
        },
        Facts {
            expiries: vec![
                ("apiserver".into(), now + Duration::days(5)),
                ("admin.conf".into(), now + Duration::days(200)),
            ],
            ..due.clone()
        },
    ] {
        let replies = vec![
            pick("Renew"),
            Reply::Type(String::new()),
            Reply::Type(String::new()),
            Reply::Confirm(true),
        ];
        let (outcome, _, prompter) = drive(&facts, replies);
        assert_eq!(outcome, Outcome::Ran(renewal(false), 0));
        assert!(
            !prompter
                .transcript
                .iter()
                .any(|l| l.contains("also rewrite its copies")),
            "{:?}",
            prompter.transcript
        );
    }
}

#[test]
fn pty_renewing_admin_conf_updates_its_copies_when_asked() {
    let (_, host) = due_in_12_days("admin.conf");
    let state = common::state_dir();
    let home = tempfile::tempdir().unwrap();
    let copy = home.path().join("alice/.kube/config");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(host.file("admin.conf"), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&copy, Some(1000), Some(1000)).unwrap();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    command
        .arg("--kubernetes-dir")
        .arg(host.path())
        .arg("--state-dir")
        .arg(state.path())
        .args([
            glob.as_str(),
            "wizard",
            "--server",
            "https://127.0.0.1:9",
            "--api-timeout",
            "1s",
        ])
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    let mut session = rexpect::session::spawn_command(command, Some(30_000)).unwrap();
    choose_renewal_with_defaults(&mut session);
    session.exp_string("also rewrite its copies").unwrap();
    session.send_line("y").unwrap();
    session
        .exp_string("(user kubernetes-admin): updated with admin.conf's new credential")
        .unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session
        .exp_string("renewed 1 certificate(s) and updated 1 copy(ies) of admin.conf")
        .unwrap();
    assert_eq!(exit_code(&session), 0);
    let config = |path: &std::path::Path| {
        kubecred::domain::kubeconfig::Kubeconfig::parse(&std::fs::read(path).unwrap()).unwrap()
    };
    let (admin, alice) = (config(&host.file("admin.conf")), config(&copy));
    assert_eq!(
        alice.users[0].user.client_certificate_data,
        admin.users[0].user.client_certificate_data
    );
    let meta = std::fs::metadata(&copy).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o600));
    let json = common::kubecred(&[
        "--kubernetes-dir",
        &host.path().display().to_string(),
        &glob,
        "check",
        "-o",
        "json",
    ])
    .json();
    assert!(
        !common::codes(&json)
            .iter()
            .any(|(_, code)| code == "stale-admin-copy"),
        "{json}"
    );
}

#[test]
fn pty_updating_stale_copies_on_a_joined_node_writes_the_copies_and_nothing_else() {
    let host = Host::new(AdminLayout::Joined129);
    let state = common::state_dir();
    let home = tempfile::tempdir().unwrap();
    let copy = home.path().join("alice/.kube/config");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(host.file("admin.conf"), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&copy, Some(1000), Some(1000)).unwrap();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    let cli = |args: &[&str]| {
        let mut full = vec![
            "--kubernetes-dir".to_owned(),
            host.path().display().to_string(),
            "--state-dir".to_owned(),
            state.path().display().to_string(),
            glob.clone(),
        ];
        full.extend(args.iter().map(|a| (*a).to_owned()));
        common::kubecred(&full)
    };
    // A renewal without --update-copies leaves alice's copy stale.
    assert_eq!(cli(&["renew", "admin.conf", "--yes"]).code, 0);
    let any_stale = |json: &serde_json::Value| {
        common::codes(json)
            .iter()
            .any(|(_, code)| code == "stale-admin-copy")
    };
    assert!(any_stale(&cli(&["check", "-o", "json"]).json()));
    let before = snapshot(host.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    command
        .arg("--kubernetes-dir")
        .arg(host.path())
        .arg("--state-dir")
        .arg(state.path())
        .args([
            glob.as_str(),
            "wizard",
            "--server",
            "https://127.0.0.1:9",
            "--api-timeout",
            "1s",
        ])
        .env("KUBECRED_TEST_NOW", common::NOW)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    let mut session = rexpect::session::spawn_command(command, Some(30_000)).unwrap();
    // Entries: [Renew,] Update the stale copies, Roll back, Quit (default): up twice.
    session.exp_string("What do you want to do?").unwrap();
    session.send(UP).unwrap();
    session.send(UP).unwrap();
    session.flush().unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session
        .exp_string("(user kubernetes-admin): updated with admin.conf's current credential")
        .unwrap();
    session.exp_string("Carry this out?").unwrap();
    session.send_line("y").unwrap();
    session
        .exp_string("updated 1 copy(ies) of admin.conf")
        .unwrap();
    assert_eq!(exit_code(&session), 0);
    assert_eq!(
        snapshot(host.path()),
        before,
        "nothing of the node is written: no super-admin.conf on a joined node"
    );
    assert!(!any_stale(&cli(&["check", "-o", "json"]).json()));
    let meta = std::fs::metadata(&copy).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o600));
}
