//! The fuzz targets of `fuzz/`, run by `cargo test` on every saved input: the
//! seed corpus (`fuzz/seeds/<target>/`), every crash the fuzzer ever found
//! (`fuzz/regressions/<target>/`) and the malformed files of
//! `testdata/malformed/`. A crash found once stays fixed. Also checks that the
//! `tree` target changes the node as its input says and always puts it back.

// A test harness: a failed setup step (a tempdir, a read) stops the test.
#![allow(clippy::disallowed_methods, clippy::expect_used, clippy::panic)]

// Shared with the fuzz crate, where these items are its public API.
#[allow(unreachable_pub, dead_code)]
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::collections::BTreeMap;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use targets::{Base, CHANGES, COPY_NAMED, NO_ETCD_DIR, NO_PKI_DIR, SLOTS, Tree};

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");
const MALFORMED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/malformed");

/// The files of `dir` (none when it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The saved inputs of one target: its seeds and regressions, then the
/// malformed test files with one of these extensions.
fn inputs(target: &str, malformed_extensions: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(FUZZ);
    let mut paths = files_in(&fuzz.join("seeds").join(target));
    paths.extend(files_in(&fuzz.join("regressions").join(target)));
    paths.extend(malformed(malformed_extensions));
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).expect("a saved input");
            (path, bytes)
        })
        .collect()
}

/// The files of `testdata/malformed/` with one of these extensions.
fn malformed(extensions: &[&str]) -> Vec<PathBuf> {
    files_in(Path::new(MALFORMED))
        .into_iter()
        .filter(|path| {
            path.extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| extensions.contains(&ext))
        })
        .collect()
}

/// Runs every input through `run`; fails naming each input that panicked.
fn replay(target: &str, inputs: &[(PathBuf, Vec<u8>)], minimum: usize, run: impl Fn(&[u8])) {
    assert!(
        inputs.len() >= minimum,
        "{target}: only {} saved inputs, expected at least {minimum}",
        inputs.len()
    );
    let panicked: Vec<String> = inputs
        .iter()
        .filter(|(_, bytes)| panic::catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        panicked.is_empty(),
        "{target}: {} inputs panicked:\n{}",
        panicked.len(),
        panicked.join("\n")
    );
}

#[test]
fn kubeconfig_inputs_replay_without_a_panic() {
    replay(
        "kubeconfig",
        &inputs("kubeconfig", &["conf"]),
        50,
        targets::kubeconfig,
    );
}

#[test]
fn manifest_inputs_replay_without_a_panic() {
    replay("manifest", &inputs("manifest", &[]), 4, targets::manifest);
}

#[test]
fn pem_inputs_replay_without_a_panic() {
    replay("pem", &inputs("pem", &["crt", "key"]), 60, targets::pem);
}

#[test]
fn cert_inputs_replay_without_a_panic() {
    let mut inputs = inputs("cert", &[]);
    // Every certificate file of the malformed set, as the DER inside it where it is PEM.
    for path in malformed(&["crt"]) {
        let bytes = fs::read(&path).expect("a malformed file");
        match kubecred::domain::pem::parse(&bytes) {
            Ok(blocks) => inputs.extend(blocks.into_iter().map(|block| (path.clone(), block.der))),
            Err(_) => inputs.push((path, bytes)),
        }
    }
    replay("cert", &inputs, 30, targets::cert);
}

#[test]
fn key_inputs_replay_without_a_panic() {
    replay("key", &inputs("key", &["key"]), 30, targets::key);
}

#[test]
fn tree_inputs_replay_without_a_panic() {
    let dir = tempfile::tempdir().expect("a tempdir");
    let tree = Tree::create(dir.path()).expect("the base node");
    let mut inputs = inputs("tree", &[]);
    // Each malformed file in place of the credential its extension names.
    for path in malformed(&["crt", "key", "conf"]) {
        let bytes = fs::read(&path).expect("a malformed file");
        let slot = match path.extension().and_then(|ext| ext.to_str()) {
            Some("crt") => 6,
            Some("key") => 7,
            Some("conf") => 22,
            _ => continue,
        };
        inputs.push((path, [&[slot][..], &bytes].concat()));
    }
    replay("tree", &inputs, 80, |bytes| {
        tree.run(bytes)
            .expect("the harness changes and restores the node");
    });
}

/// Every file and link under `root`, with its contents or target.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (bool, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("a folder of the node") {
            let path = entry.expect("an entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                pending.push(path);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("a link");
                out.insert(path, (true, target.into_os_string().into_encoded_bytes()));
            } else {
                out.insert(path.clone(), (false, fs::read(&path).expect("a file")));
            }
        }
    }
    out
}

fn codes_on(
    findings: &[kubecred::domain::findings::Finding],
    credential: &str,
) -> Vec<&'static str> {
    findings
        .iter()
        .filter(|finding| finding.credential == credential)
        .map(|finding| finding.code.as_str())
        .collect()
}

#[test]
fn tree_target_applies_its_change_and_puts_the_node_back() {
    let dir = tempfile::tempdir().expect("a tempdir");
    let tree = Tree::create(dir.path()).expect("the base node");
    let base = snapshot(dir.path());
    assert_eq!(
        base.len(),
        SLOTS
            .iter()
            .filter(|(_, base)| !matches!(base, Base::Absent))
            .count(),
        "every present slot is on disk"
    );

    // The base node: every credential read, nothing malformed.
    let findings = targets::judge(dir.path());
    assert!(
        findings
            .iter()
            .all(|finding| finding.code.as_str() != "malformed"),
        "{findings:?}"
    );
    assert!(codes_on(&findings, "apiserver").is_empty(), "{findings:?}");

    // Slot 6 is pki/apiserver.crt: garbage there is a malformed apiserver.
    let garbage = tree.run(b"\x06not a certificate").expect("a run");
    assert_eq!(
        codes_on(&garbage, "apiserver"),
        ["malformed"],
        "{garbage:?}"
    );
    assert_eq!(
        snapshot(dir.path()),
        base,
        "the node is put back after a change"
    );

    // The high bit deletes: 0x86 removes pki/apiserver.crt.
    let deleted = tree.run(b"\x86").expect("a run");
    let apiserver = codes_on(&deleted, "apiserver");
    assert!(
        !apiserver.is_empty() && !apiserver.contains(&"malformed"),
        "{deleted:?}"
    );
    assert_eq!(
        snapshot(dir.path()),
        base,
        "the node is put back after a deletion"
    );

    // Change numbers wrap: 6 + CHANGES is slot 6 again.
    let wrapped = [
        &[u8::try_from(6 + CHANGES).expect("a byte")][..],
        b"not a certificate",
    ]
    .concat();
    let wrapped = tree.run(&wrapped).expect("a run");
    assert_eq!(
        codes_on(&wrapped, "apiserver"),
        ["malformed"],
        "{wrapped:?}"
    );

    // A run killed half-way leaves its marker and its change; the next run repairs both.
    fs::write(
        dir.path().join("kubernetes/pki/ca.crt"),
        b"left by a killed run",
    )
    .expect("a write");
    fs::write(dir.path().join(".dirty"), b"").expect("a marker");
    let repaired = tree.run(b"\x1d").expect("a run");
    assert!(codes_on(&repaired, "ca").is_empty(), "{repaired:?}");
    assert_eq!(
        snapshot(dir.path()),
        base,
        "a killed run's change is undone"
    );
}

#[test]
fn tree_target_folder_changes_are_seen_and_undone() {
    let dir = tempfile::tempdir().expect("a tempdir");
    let tree = Tree::create(dir.path()).expect("the base node");
    let base = snapshot(dir.path());
    let op = |change: usize| u8::try_from(change).expect("a byte");

    // A second admin copy under another user's home, found by the copies glob.
    let copy = tree
        .run(&[op(COPY_NAMED), b'o', b'p', b's'])
        .expect("a run");
    let copies: Vec<&str> = copy
        .iter()
        .filter(|finding| finding.code.as_str() == "stale-admin-copy")
        .map(|finding| finding.credential.as_str())
        .collect();
    assert_eq!(copies.len(), 2, "{copy:?}");
    assert!(
        copies
            .iter()
            .any(|name| name.ends_with("/home/ops/.kube/config")),
        "{copy:?}"
    );
    assert_eq!(snapshot(dir.path()), base, "the added home is removed");

    // Without pki/etcd/, no etcd credential is expected; without pki/, every
    // certificate of the cert dir is missing.
    let no_etcd = tree.run(&[op(NO_ETCD_DIR)]).expect("a run");
    assert!(codes_on(&no_etcd, "etcd-server").is_empty(), "{no_etcd:?}");
    assert_eq!(snapshot(dir.path()), base, "pki/etcd/ is put back");
    let no_pki = tree.run(&[op(NO_PKI_DIR)]).expect("a run");
    assert!(!codes_on(&no_pki, "ca").is_empty(), "{no_pki:?}");
    assert_eq!(snapshot(dir.path()), base, "pki/ is put back");
}
