//! The writer's safety as a local attacker and a crash would try it: reads
//! that cannot be redirected by a symlink, a state dir that is trusted only
//! when private, the locks, exact and timely recovery, and `check` never
//! judging a change in flight.

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
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Host, NOW, Run, codes, kubecred, now, snapshot, state_dir};
use kubecred::domain::demo::AdminLayout;
use kubecred::domain::plan::{Action, Expect, Ownership, Write as Change};
use kubecred::edge::apply::hook::Proceed;
use kubecred::edge::apply::lock::{RunLock, Wait};
use kubecred::edge::apply::transaction::Transaction;

/// What a secret an attacker wants copied looks like; it must never show up.
const SECRET: &str = "TOP-SECRET-MARKER-7f3a";

fn run_in(dir: &Path, state: &Path, args: &[&str]) -> Run {
    let mut full = vec![
        "--kubernetes-dir".to_owned(),
        dir.display().to_string(),
        "--state-dir".to_owned(),
        state.display().to_string(),
        "--no-copies".to_owned(),
    ];
    full.extend(args.iter().map(|arg| (*arg).to_owned()));
    kubecred(&full)
}

/// Whether any file under `root` (not following symlinks) contains `needle`.
fn contains_anywhere(root: &Path, needle: &str) -> bool {
    let Ok(entries) = fs::read_dir(root) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            contains_anywhere(&path, needle)
        } else if meta.is_file() {
            String::from_utf8_lossy(&fs::read(&path).unwrap()).contains(needle)
        } else {
            false
        }
    })
}

fn assert_never_echoed(run: &Run, what: &str) {
    assert!(
        !run.stdout.contains(what) && !run.stderr.contains(what),
        "{what} was echoed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// A file outside every tree holding the secret, as /etc/shadow would.
fn shadow_like(dir: &Path) -> PathBuf {
    let path = dir.join("shadow");
    fs::write(&path, format!("root:{SECRET}:19000:0:99999:7:::\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The renewal of admin.conf that a crash will interrupt: its only change.
fn admin_change(host: &Host) -> Change {
    let old = fs::read(host.file("admin.conf")).unwrap();
    let mut bytes = old.clone();
    bytes.extend_from_slice(b"# renewed\n");
    Change {
        path: host.file("admin.conf"),
        action: Action::Write(bytes, Ownership::Keep(0o600)),
        kubeconfig: true,
        expect: Expect::of(Some(&old)),
    }
}

/// Writes that only name `paths` as they are now: what a transaction backs up.
fn as_found(paths: &[PathBuf]) -> Vec<Change> {
    paths
        .iter()
        .map(|path| Change {
            path: path.clone(),
            action: Action::Remove,
            kubeconfig: false,
            expect: kubecred::edge::inventory::found(path).unwrap_or(Expect::Absent),
        })
        .collect()
}

/// Leaves what a crash mid-change leaves: admin.conf written, the journal pending.
fn crash_after_admin_conf(host: &Host, state: &Path) -> String {
    let change = admin_change(host);
    let mut transaction = Transaction::begin(
        state,
        host.path(),
        "renew",
        &[
            change.clone(),
            as_found(&[host.file("scheduler.conf")]).remove(0),
        ],
        now(),
        &Proceed,
    )
    .unwrap();
    transaction.write(&change).unwrap();
    let id = transaction.backup().manifest.id.clone();
    // A crash: no commit, no abort, no drop.
    std::mem::forget(transaction);
    assert!(state.join("journal").exists());
    id
}

#[test]
fn a_symlinked_file_in_the_tree_is_refused_and_its_target_never_copied() {
    let host = Host::new(AdminLayout::Init129);
    let outside = tempfile::tempdir().unwrap();
    let shadow = shadow_like(outside.path());
    let key = host.file("pki/apiserver.key");
    fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&shadow, &key).unwrap();
    let state = state_dir();
    let before = snapshot(host.path());
    let run = run_in(host.path(), state.path(), &["renew", "apiserver", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(run.stderr.contains("apiserver.key"), "{}", run.stderr);
    assert_never_echoed(&run, SECRET);
    assert_eq!(snapshot(host.path()), before);
    assert!(
        !contains_anywhere(state.path(), SECRET),
        "copied into the state dir"
    );

    // Swapped in after the plan, between the scan and the backup: the backup refuses it.
    let err = Transaction::begin(
        state.path(),
        host.path(),
        "renew",
        &as_found(&[host.file("admin.conf"), key.clone()]),
        now(),
        &Proceed,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!(
            "cannot back up {}: is a symbolic link",
            key.display()
        )),
        "{err}"
    );
    assert!(!err.contains(SECRET));
    assert!(
        !contains_anywhere(state.path(), SECRET),
        "copied into the state dir"
    );
    assert!(!state.path().join("journal").exists());
}

#[test]
fn a_copy_swapped_for_a_symlink_is_refused_and_its_target_never_copied() {
    let host = Host::new(AdminLayout::Pre129);
    let api = common::apiserver::ApiServer::start(host.path());
    let home = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let shadow = shadow_like(outside.path());
    let kube = home.path().join("mallory/.kube");
    fs::create_dir_all(&kube).unwrap();
    // Mallory's copy of admin.conf is a symlink to the shadow file.
    std::os::unix::fs::symlink(&shadow, kube.join("config")).unwrap();
    let state = state_dir();
    let glob = format!("--copies={}/*/.kube/config", home.path().display());
    let run = kubecred(&[
        "--kubernetes-dir",
        host.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        &glob,
        "migrate",
        "--server",
        &api.url,
        "--api-timeout",
        "3s",
        "--yes",
        "--update-copies",
    ]);
    assert_never_echoed(&run, SECRET);
    assert!(
        !contains_anywhere(state.path(), SECRET),
        "copied into the backup"
    );
    assert!(
        !contains_anywhere(home.path(), SECRET),
        "copied into the home"
    );
    assert!(
        fs::symlink_metadata(kube.join("config"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink is left alone"
    );
    assert_eq!(
        fs::read_to_string(&shadow).unwrap(),
        format!("root:{SECRET}:19000:0:99999:7:::\n")
    );

    // Swapped in after the scan: the backup of the copy refuses it, naming it.
    let copy = kube.join("config");
    let err = Transaction::begin(
        state.path(),
        host.path(),
        "migrate",
        &as_found(std::slice::from_ref(&copy)),
        now(),
        &Proceed,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!(
            "cannot back up {}: is a symbolic link",
            copy.display()
        )),
        "{err}"
    );
    assert!(!contains_anywhere(state.path(), SECRET));
}

#[test]
fn a_copy_behind_a_symlinked_kube_folder_is_neither_read_nor_written() {
    let host = Host::new(AdminLayout::Pre129);
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("config"), SECRET).unwrap();
    fs::create_dir(home.path().join("mallory")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), home.path().join("mallory/.kube")).unwrap();
    let copy = home.path().join("mallory/.kube/config");
    let state = state_dir();
    let err = Transaction::begin(
        state.path(),
        host.path(),
        "migrate",
        &as_found(std::slice::from_ref(&copy)),
        now(),
        &Proceed,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("a folder on the way is a symbolic link"),
        "{err}"
    );
    assert!(!contains_anywhere(state.path(), SECRET));
    // A write planned before the swap is refused too, and nothing lands elsewhere.
    fs::remove_file(home.path().join("mallory/.kube")).unwrap();
    fs::create_dir(home.path().join("mallory/.kube")).unwrap();
    fs::write(&copy, b"apiVersion: v1\n").unwrap();
    let mut transaction = Transaction::begin(
        state.path(),
        host.path(),
        "migrate",
        &as_found(std::slice::from_ref(&copy)),
        now(),
        &Proceed,
    )
    .unwrap();
    fs::remove_dir_all(home.path().join("mallory/.kube")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), home.path().join("mallory/.kube")).unwrap();
    let change = Change {
        path: copy.clone(),
        action: Action::Write(b"written by root".to_vec(), Ownership::Keep(0o600)),
        kubeconfig: true,
        expect: Expect::Absent,
    };
    let err = transaction.write(&change).unwrap_err().to_string();
    assert!(
        err.contains("a folder on the way is a symbolic link"),
        "{err}"
    );
    // Undoing refuses that path as well: the journal stays for an operator.
    drop(transaction);
    assert_eq!(
        fs::read_to_string(elsewhere.path().join("config")).unwrap(),
        SECRET
    );
    assert!(state.path().join("journal").exists());
}

#[test]
fn two_runs_with_different_state_dirs_on_one_tree_cannot_write_at_once() {
    let host = Host::new(AdminLayout::Init129);
    let (first, second) = (state_dir(), state_dir());
    let before = snapshot(host.path());
    let held = RunLock::acquire(first.path(), host.path(), Wait::Never).unwrap();
    let run = run_in(host.path(), second.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "error: another kubecred run holds the lock (pid {}: ",
            std::process::id()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(host.path()), before);
    assert!(!second.path().join("backups").exists());
    // The same tree named through a symlink is the same tree.
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join("kubernetes");
    std::os::unix::fs::symlink(host.path(), &link).unwrap();
    let run = run_in(&link, second.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("holds the lock"), "{}", run.stderr);
    // --wait says whom it waits for, and goes on once the holder is done.
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(800));
        drop(held);
    });
    let run = run_in(
        host.path(),
        second.path(),
        &["renew", "all", "--yes", "--wait", "1m"],
    );
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "waiting for another kubecred run to finish (pid {}: ",
            std::process::id()
        )),
        "{}",
        run.stderr
    );
    assert_ne!(snapshot(host.path()), before);
}

#[test]
fn check_waits_a_moment_for_a_writer_then_is_unknown_naming_it() {
    let host = Host::new(AdminLayout::Init129);
    let writer_state = state_dir();
    let held = RunLock::acquire(writer_state.path(), host.path(), Wait::Never).unwrap();
    let started = std::time::Instant::now();
    // check with its own (default) state dir still sees the writer of this tree.
    let run = host.check(&[]);
    let waited = started.elapsed();
    drop(held);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "another kubecred run holds the lock (pid {}: ",
            std::process::id()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no findings of a tree in flight");
    assert!(
        waited >= std::time::Duration::from_secs(4) && waited < std::time::Duration::from_secs(30),
        "waited {waited:?}"
    );
    assert!(matches!(host.check(&[]).code, 0..=2));
}

#[test]
fn a_live_kubectl_lock_survives_recovery_and_kubecreds_own_stale_lock_does_not() {
    let host = Host::new(AdminLayout::Init129);
    let before = snapshot(host.path());
    let state = state_dir();
    crash_after_admin_conf(&host, state.path());
    // kubectl is writing admin.conf (client-go's empty lock file) ...
    let kubectl_lock = host.file("admin.conf.lock");
    fs::write(&kubectl_lock, b"").unwrap();
    // ... and a kubecred that crashed long ago left its own on scheduler.conf.
    fs::write(host.file("scheduler.conf.lock"), b"kubecred 999999\n").unwrap();
    let run = run_in(host.path(), state.path(), &["recover"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("admin.conf.lock"), "{}", run.stderr);
    assert!(
        kubectl_lock.exists(),
        "kubectl's lock is not ours to remove"
    );
    assert!(state.path().join("journal").exists(), "still pending");
    // Once kubectl is done, recovery goes through.
    fs::remove_file(&kubectl_lock).unwrap();
    let run = run_in(host.path(), state.path(), &["recover"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("restored its backup"), "{}", run.stderr);
    assert!(
        !host.file("scheduler.conf.lock").exists(),
        "our own stale lock goes"
    );
    assert_eq!(snapshot(host.path()), before);
    assert!(!state.path().join("journal").exists());
    let run = run_in(host.path(), state.path(), &["recover"]);
    assert_eq!((run.code, run.stderr.trim()), (0, "nothing to recover"));
}

#[test]
fn check_reports_a_pending_journal_until_recover_repairs_it() {
    let host = Host::new(AdminLayout::Init129);
    let state = state_dir();
    let clean = run_in(host.path(), state.path(), &["check", "-o", "json"]);
    let id = crash_after_admin_conf(&host, state.path());
    let run = run_in(host.path(), state.path(), &["check", "-o", "json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let json = run.json();
    let finding = common::finding(&json, "kubecred", "interrupted-change");
    assert_eq!(finding["severity"], "critical");
    assert!(
        finding["message"].as_str().unwrap().contains(&id),
        "{finding}"
    );
    let remedy = finding["remedy"].as_str().unwrap();
    assert!(remedy.contains("kubecred recover"), "{remedy}");
    assert!(
        remedy.contains(&format!("kubecred rollback {id}")),
        "{remedy}"
    );
    let table = run_in(host.path(), state.path(), &["check"]);
    assert!(table.stdout.contains("interrupted"), "{}", table.stdout);
    assert_eq!(run_in(host.path(), state.path(), &["recover"]).code, 0);
    let run = run_in(host.path(), state.path(), &["check", "-o", "json"]);
    assert_eq!(codes(&run.json()), codes(&clean.json()));
}

/// Every way a state dir can be hostile: refused with one line naming it,
/// nothing written anywhere, no file's content echoed.
#[test]
fn a_hostile_state_dir_is_refused_and_nothing_is_written() {
    type Setup = Box<dyn Fn(&Path, &Host)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "world-writable",
            Box::new(|state, _| {
                fs::set_permissions(state, fs::Permissions::from_mode(0o777)).unwrap();
            }),
            "has mode 0777",
        ),
        (
            "group-readable",
            Box::new(|state, _| {
                fs::set_permissions(state, fs::Permissions::from_mode(0o750)).unwrap();
            }),
            "has mode 0750",
        ),
        (
            "another user's",
            Box::new(|state, _| std::os::unix::fs::chown(state, Some(65534), None).unwrap()),
            "belongs to uid 65534",
        ),
        (
            "backups is a symlink",
            Box::new(|state, _| {
                let elsewhere = state.parent().unwrap().join("elsewhere");
                fs::create_dir(&elsewhere).unwrap();
                std::os::unix::fs::symlink(&elsewhere, state.join("backups")).unwrap();
            }),
            "symbolic link",
        ),
        (
            "a world-writable backups",
            Box::new(|state, _| {
                fs::create_dir(state.join("backups")).unwrap();
                fs::set_permissions(state.join("backups"), fs::Permissions::from_mode(0o1777))
                    .unwrap();
            }),
            "has mode 1777",
        ),
    ];
    for (name, setup, expected) in cases {
        let host = Host::new(AdminLayout::Init129);
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        fs::create_dir(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        setup(&state, &host);
        let before_tree = snapshot(host.path());
        let before_state = snapshot(root.path());
        for args in [
            &["renew", "all", "--yes"][..],
            &["recover"],
            &["rollback", "20261126T120000Z-renew", "--yes"],
            &["rollback", "--list"],
        ] {
            let run = run_in(host.path(), &state, args);
            assert_eq!(run.code, 1, "{name} {args:?}: {}", run.stderr);
            let first = run.stderr.lines().next().unwrap();
            assert!(
                first.starts_with("error: refusing the state folder: it "),
                "{name}: {first}"
            );
            assert!(first.contains(expected), "{name}: {first}");
            assert_eq!(snapshot(host.path()), before_tree, "{name}: tree unchanged");
            assert_eq!(
                snapshot(root.path()),
                before_state,
                "{name}: state unchanged"
            );
        }
        let run = run_in(host.path(), &state, &["check"]);
        assert_eq!(run.code, 3, "{name}: check is UNKNOWN: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
    }
}

#[test]
fn a_journal_or_lock_symlink_is_refused_without_echo_or_creation() {
    let host = Host::new(AdminLayout::Init129);
    fs::write(
        host.file("pki/ca.key"),
        format!("-----BEGIN EC PRIVATE KEY-----\n{SECRET}\n"),
    )
    .unwrap();
    let before = snapshot(host.path());
    // The journal points at the CA key.
    let state = state_dir();
    std::os::unix::fs::symlink(host.file("pki/ca.key"), state.path().join("journal")).unwrap();
    for args in [&["renew", "all", "--yes"][..], &["recover"], &["check"]] {
        let run = run_in(host.path(), state.path(), args);
        assert_ne!(run.code, 0, "{args:?}");
        assert!(run.stderr.contains("journal"), "{args:?}: {}", run.stderr);
        assert_never_echoed(&run, SECRET);
        assert_never_echoed(&run, "BEGIN EC PRIVATE KEY");
    }
    // A journal holding something else than a backup id is not quoted either.
    fs::remove_file(state.path().join("journal")).unwrap();
    fs::write(state.path().join("journal"), SECRET).unwrap();
    let run = run_in(host.path(), state.path(), &["recover"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not hold a backup id"),
        "{}",
        run.stderr
    );
    assert_never_echoed(&run, SECRET);
    assert_eq!(snapshot(host.path()), before);

    // A dangling lock symlink creates nothing where it points.
    let state = state_dir();
    let target = tempfile::tempdir().unwrap();
    let planted = target.path().join("created-by-root");
    std::os::unix::fs::symlink(&planted, state.path().join("lock")).unwrap();
    let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!planted.exists(), "nothing created through the symlink");
    assert_eq!(snapshot(host.path()), before);
}

/// Plants a journal and a complete, well-formed set whose manifest says what to write.
fn plant(state: &Path, path: &Path, mode: u32, bytes: &[u8]) {
    let id = "20261126T120000Z-renew";
    let set = state.join("backups").join(id);
    fs::create_dir_all(set.join("files")).unwrap();
    for dir in [state.join("backups"), set.clone(), set.join("files")] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    fs::write(set.join("files/0001"), bytes).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 1, "id": id, "operation": "renew", "createdAt": NOW,
        "files": [{
            "path": path, "existed": true, "mode": mode, "uid": 0, "gid": 0,
            "sha256": kubecred::domain::cert::Fingerprint::of(bytes).to_string(), "stored": "0001"
        }]
    });
    fs::write(set.join("manifest.json"), manifest.to_string()).unwrap();
    fs::write(state.join("journal"), id).unwrap();
}

#[test]
fn a_planted_manifest_may_not_write_outside_the_tree_nor_set_special_bits() {
    let host = Host::new(AdminLayout::Init129);
    let outside = tempfile::tempdir().unwrap();
    let before = snapshot(host.path());
    let cases = [
        (
            outside.path().join("evil"),
            0o600,
            "outside the kubernetes dir",
        ),
        (host.file("pki/evil"), 0o4755, "setuid"),
        (
            host.file("pki/../../evil"),
            0o600,
            "outside the kubernetes dir",
        ),
    ];
    for (path, mode, expected) in cases {
        let state = state_dir();
        plant(state.path(), &path, mode, b"#!/bin/sh\nid\n");
        for args in [&["recover"][..], &["renew", "all", "--yes"]] {
            let run = run_in(host.path(), state.path(), args);
            assert_eq!(run.code, 4, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
            assert!(!path.exists(), "{} written", path.display());
            assert!(!outside.path().join("evil").exists());
            assert_eq!(snapshot(host.path()), before);
        }
        // rollback of that set is refused the same way, before anything is written.
        fs::remove_file(state.path().join("journal")).unwrap();
        let run = run_in(
            host.path(),
            state.path(),
            &["rollback", "20261126T120000Z-renew", "--yes"],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(!path.exists());
        assert_eq!(snapshot(host.path()), before);
    }
}

#[test]
fn rollback_restores_only_into_the_tree_named() {
    let original = Host::new(AdminLayout::Init129);
    let copy = tempfile::tempdir().unwrap();
    common::copy_tree(original.path(), copy.path());
    let state = state_dir();
    let before = snapshot(original.path());
    assert_eq!(
        run_in(original.path(), state.path(), &["renew", "all", "--yes"]).code,
        0
    );
    let renewed = snapshot(original.path());
    let list = run_in(
        original.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    )
    .json();
    let id = list["backups"][0]["id"].as_str().unwrap().to_owned();
    // Named the copied tree: refused, neither tree changes.
    let run = run_in(copy.path(), state.path(), &["rollback", &id, "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("was taken of"), "{}", run.stderr);
    assert!(run.stderr.contains("--into-original"), "{}", run.stderr);
    assert_eq!(snapshot(original.path()), renewed);
    assert_eq!(snapshot(copy.path()), before);
    // --into-original: the tree it was taken of, and only that one.
    let run = run_in(
        copy.path(),
        state.path(),
        &["rollback", &id, "--yes", "--into-original"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(snapshot(original.path()), before);
    assert_eq!(snapshot(copy.path()), before);
    // A backup of the copy goes back into the copy only.
    assert_eq!(
        run_in(copy.path(), state.path(), &["renew", "all", "--yes"]).code,
        0
    );
    let list = run_in(
        copy.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    )
    .json();
    let of_copy = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|b| b["operation"] == "renew")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(of_copy, id);
    let run = run_in(copy.path(), state.path(), &["rollback", &of_copy, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(snapshot(copy.path()), before);
    assert_eq!(snapshot(original.path()), before);
}

#[test]
fn crash_debris_is_listed_then_removed_by_the_next_writing_run() {
    let host = Host::new(AdminLayout::Init129);
    let state = state_dir();
    let half = state.path().join("backups/20261126T110000Z-renew");
    fs::create_dir_all(half.join("files")).unwrap();
    for dir in [
        state.path().join("backups"),
        half.clone(),
        half.join("files"),
    ] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    fs::write(half.join("files/0001"), b"half a set").unwrap();
    let temp = state.path().join(".journal.kubecred-4242-0.tmp");
    fs::write(&temp, b"20261126T110000Z-renew").unwrap();
    let list = run_in(host.path(), state.path(), &["rollback", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains("20261126T110000Z-renew"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("has no manifest.json"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains(".journal.kubecred-4242-0.tmp"),
        "{}",
        list.stdout
    );
    let run = run_in(
        host.path(),
        state.path(),
        &["renew", "all", "--within", "1d", "--yes"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!half.exists(), "the half set is gone");
    assert!(!temp.exists(), "the temporary journal is gone");
    let list = run_in(host.path(), state.path(), &["rollback", "--list"]);
    assert!(!list.stdout.contains("UNREADABLE"), "{}", list.stdout);
}

/// Mounts `dir` read-only over itself; unmounted when dropped.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> Self {
        let status = Command::new("mount")
            .args(["--bind", "-o", "ro"])
            .arg(dir)
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount --bind -o ro needs root");
        let probe = fs::write(dir.join(".probe"), b"");
        assert!(probe.is_err(), "the bind mount is read-only");
        Self(dir.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_tree_ends_with_nothing_changed_and_no_journal() {
    let host = Host::new(AdminLayout::Init129);
    let state = state_dir();
    let before = snapshot(host.path());
    {
        let _ro = ReadOnly::mount(host.path());
        let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("every file was restored"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("Read-only file system"),
            "{}",
            run.stderr
        );
        assert_eq!(snapshot(host.path()), before);
        assert!(!state.path().join("journal").exists(), "no journal left");
        let check = run_in(host.path(), state.path(), &["check", "-o", "json"]);
        assert!(
            !check.stdout.contains("interrupted-change"),
            "{}",
            check.stdout
        );
    }
    let run = run_in(host.path(), state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 0, "the next run is clean: {}", run.stderr);
    assert!(!run.stderr.contains("interrupted"), "{}", run.stderr);
}

/// A small tmpfs mounted on `dir`; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs needs root");
        Self(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_tree_ends_with_nothing_changed_and_no_journal() {
    let template = Host::new(AdminLayout::Init129);
    let mount = tempfile::tempdir().unwrap();
    let _tmpfs = Tmpfs::mount(mount.path(), "1m");
    let tree = mount.path().join("kubernetes");
    common::copy_tree(template.path(), &tree);
    // Fill the filesystem to its last byte.
    let mut filler = fs::File::create(mount.path().join("filler")).unwrap();
    let chunk = vec![0_u8; 4096];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut filler, &chunk[..1]).is_ok() {}
    drop(filler);
    let state = state_dir();
    let before = snapshot(&tree);
    let run = run_in(&tree, state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("every file was restored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&tree), before, "nothing changed");
    assert!(!state.path().join("journal").exists(), "no journal left");
    // With room again, the next run is clean.
    fs::remove_file(mount.path().join("filler")).unwrap();
    let run = run_in(&tree, state.path(), &["renew", "all", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("interrupted"), "{}", run.stderr);
}

#[test]
fn sigkill_at_every_rename_of_a_renewal_then_recover_gives_the_old_tree() {
    let template = Host::new(AdminLayout::Init129);
    let before = snapshot(template.path());
    let mut killed = 0;
    for n in 1.. {
        let dir = tempfile::tempdir().unwrap();
        common::copy_tree(template.path(), dir.path());
        let state = state_dir();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubecred"))
            .arg("--kubernetes-dir")
            .arg(dir.path())
            .arg("--state-dir")
            .arg(state.path())
            .args(["--no-copies", "renew", "all", "--yes"])
            .env("KUBECRED_TEST_NOW", NOW)
            .env("KUBECRED_TEST_PAUSE_AT", format!("rename:{n}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let paused = stderr
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with("kubecred: paused before Rename"));
        if !paused {
            // Finished before the n-th rename: every rename was tried.
            assert!(child.wait().unwrap().success());
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        killed += 1;
        let run = run_in(dir.path(), state.path(), &["recover"]);
        assert_eq!(run.code, 0, "rename {n}: {}", run.stderr);
        assert_eq!(
            snapshot(dir.path()),
            before,
            "rename {n}: the old tree, byte for byte"
        );
        assert!(!state.path().join("journal").exists(), "rename {n}");
        let check = run_in(dir.path(), state.path(), &["check", "-o", "json"]);
        assert!(!check.stdout.contains("interrupted-change"), "rename {n}");
    }
    // Every backup copy, the manifest, the journal and every file: each was a kill point.
    assert!(killed > 30, "killed at {killed} renames");
}

#[test]
fn check_while_renewals_run_never_reports_a_finding_of_neither_tree() {
    let mut spec = common::spec(AdminLayout::Init129);
    spec.overrides.insert(
        "etcd-peer".into(),
        (
            now() - time::Duration::days(350),
            now() + time::Duration::days(10),
        ),
    );
    let host = Host::generate(&spec);
    let state = state_dir();
    let findings = |run: &Run| -> BTreeSet<(String, String)> {
        assert!(matches!(run.code, 0..=2), "{}", run.stderr);
        codes(&run.json()).into_iter().collect()
    };
    let old = findings(&run_in(host.path(), state.path(), &["check", "-o", "json"]));
    let copy = tempfile::tempdir().unwrap();
    common::copy_tree(host.path(), copy.path());
    let copy_state = state_dir();
    assert_eq!(
        run_in(copy.path(), copy_state.path(), &["renew", "all", "--yes"]).code,
        0
    );
    let new = findings(&run_in(
        copy.path(),
        copy_state.path(),
        &["check", "-o", "json"],
    ));
    assert_ne!(old, new, "renewing changes what check finds");
    let done = AtomicBool::new(false);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let checks = std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let run = run_in(host.path(), state.path(), &["check", "-o", "json"]);
                let found = findings(&run);
                assert!(found == old || found == new, "a transient state: {found:?}");
                seen.fetch_add(1, Ordering::SeqCst);
            }
            seen.load(Ordering::SeqCst)
        });
        // At least four rounds, and on until check has run three times during
        // them, however slow the machine: a count of rounds, never a clock.
        let mut round = 0;
        while (round < 4 || seen.load(Ordering::SeqCst) < 3) && round < 40 {
            round += 1;
            let run = run_in(
                host.path(),
                state.path(),
                &["renew", "all", "--yes", "--wait", "1m"],
            );
            assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
            let list = run_in(
                host.path(),
                state.path(),
                &["-o", "json", "rollback", "--list"],
            )
            .json();
            let id = list["backups"]
                .as_array()
                .unwrap()
                .iter()
                .rev()
                .find(|b| b["operation"] == "renew")
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let run = run_in(
                host.path(),
                state.path(),
                &["rollback", &id, "--yes", "--wait", "1m"],
            );
            assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        }
        done.store(true, Ordering::SeqCst);
        checker.join().unwrap()
    });
    assert!(checks >= 3, "check ran {checks} times during the renewals");
}
