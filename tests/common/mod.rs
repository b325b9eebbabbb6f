//! Shared test harness: generated hosts, the real binary, and tree snapshots.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

pub mod apiserver;
pub mod live;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use kubecred::domain::demo::{self, AdminLayout, HostSpec};
use kubecred::domain::issue::KeyAlgorithm;
use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

/// The fixed clock of every test: the day kubeadm's own test trees were issued.
pub const NOW: &str = "2026-11-26T12:00:00Z";

pub fn now() -> OffsetDateTime {
    datetime!(2026-11-26 12:00 UTC)
}

/// The fixed clock as seconds since the epoch, for `openssl verify -attime`:
/// every judge looks at the certificates at the time they were minted for.
pub fn now_epoch() -> String {
    now().unix_timestamp().to_string()
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not JSON ({err}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the real kubecred binary with the fixed clock and a clean environment.
/// Files must belong to root, as on a node: see `kubecred_owned_by`.
pub fn kubecred<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    kubecred_run(None, args, &[])
}

/// As `kubecred`, with `KUBECRED_TEST_OWNER` naming the uid that must own the
/// credentials in place of root (`None`: root, as on a node).
pub fn kubecred_owned_by<S: AsRef<std::ffi::OsStr>>(owner: Option<u32>, args: &[S]) -> Run {
    kubecred_run(owner, args, &[])
}

/// As `kubecred`, with these variables set too (a fault to inject, say).
pub fn kubecred_with_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    vars: &[(&str, &std::ffi::OsStr)],
) -> Run {
    kubecred_run(None, args, vars)
}

fn kubecred_run<S: AsRef<std::ffi::OsStr>>(
    owner: Option<u32>,
    args: &[S],
    vars: &[(&str, &std::ffi::OsStr)],
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubecred"));
    match owner {
        Some(uid) => command.env("KUBECRED_TEST_OWNER", uid.to_string()),
        None => command.env_remove("KUBECRED_TEST_OWNER"),
    };
    // Settings from the caller's environment stay out (a test sets its own).
    command.env_remove(kubecred::domain::config::CONFIG_VAR);
    for key in kubecred::domain::config::Key::ALL {
        command.env_remove(key.env());
    }
    let output = command
        .args(args)
        .envs(vars.iter().copied())
        .env("KUBECRED_TEST_NOW", NOW)
        .env_remove("NO_COLOR")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("run kubecred");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kubecred panicked: {}",
        run.stderr
    );
    run
}

/// A generated host in a temporary folder.
pub struct Host {
    pub dir: TempDir,
}

impl Host {
    /// Generates a host from `spec`; the kubelet's certificate is embedded unless the spec says otherwise.
    pub fn generate(spec: &HostSpec) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = demo::generate(spec).unwrap();
        kubecred::edge::apply::tree::write(dir.path(), &files).unwrap();
        Self { dir }
    }

    /// An ECDSA host of the given layout at the fixed clock.
    pub fn new(admin: AdminLayout) -> Self {
        Self::generate(&spec(admin))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `check -o json` over this host with extra arguments.
    pub fn check(&self, extra: &[&str]) -> Run {
        self.check_owned_by(None, extra)
    }

    /// `check -o json` with `KUBECRED_TEST_OWNER` naming the owner (`None`: root).
    pub fn check_owned_by(&self, owner: Option<u32>, extra: &[&str]) -> Run {
        let mut args: Vec<String> =
            vec!["--kubernetes-dir".into(), self.path().display().to_string()];
        if !extra.iter().any(|arg| arg.starts_with("--copies")) {
            args.push("--no-copies".into());
        }
        args.extend(["check".into(), "-o".into(), "json".into()]);
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        kubecred_owned_by(owner, &args)
    }

    pub fn chmod(&self, rel: &str, mode: u32) {
        fs::set_permissions(self.file(rel), fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// An ECDSA spec at the fixed clock.
pub fn spec(admin: AdminLayout) -> HostSpec {
    HostSpec::new(now(), KeyAlgorithm::EcdsaP256, admin)
}

/// `(credential, code)` pairs of a check's JSON, in its order.
pub fn codes(json: &Value) -> Vec<(String, String)> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["credential"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Builds an expected `(credential, code)` list.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The finding of `code` on `credential`.
pub fn finding<'a>(json: &'a Value, credential: &str, code: &str) -> &'a Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["credential"] == credential && f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} on {credential} in {json:#}"))
}

/// The credential named `name` in an `inspect` or `check` JSON document.
pub fn credential<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no credential {name}"))
}

/// The message of the finding of `code` on `credential`.
pub fn message<'a>(json: &'a Value, credential: &str, code: &str) -> &'a str {
    finding(json, credential, code)["message"].as_str().unwrap()
}

/// Every file under `root` (not following symlinks) with its SHA-256 and mode.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(rel, (format!("-> {}", target.display()), 0o777));
            } else {
                let sha =
                    kubecred::domain::cert::Fingerprint::of(&fs::read(&path).unwrap()).to_string();
                out.insert(rel, (sha, meta.permissions().mode() & 0o7777));
            }
        }
    }
    out
}

/// Copies a tree (regular files, folders, symlinks), keeping modes.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            copy_tree(&path, &dest);
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&path).unwrap(), &dest).unwrap();
        } else {
            fs::copy(&path, &dest).unwrap();
            fs::set_permissions(&dest, meta.permissions()).unwrap();
        }
    }
}

/// Copies one of kubeadm's own trees (`testdata/kubeadm-1.28.7/<variant>`) and
/// restores the modes kubeadm gave its files (git keeps none).
pub fn kubeadm_tree(variant: &str) -> TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/kubeadm-1.28.7")
        .join(variant);
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&src.join("etc-kubernetes"), dir.path());
    for line in fs::read_to_string(src.join("modes.txt")).unwrap().lines() {
        let mut parts = line.split_whitespace();
        let (Some(mode), Some(_kind), Some(rel)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let mode = u32::from_str_radix(mode, 8).unwrap();
        fs::set_permissions(dir.path().join(rel), fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

/// Runs an independent judge (a program kubecred does not ship) on `input`:
/// whether it accepted, and what it said on stdout and stderr. A judge that is
/// not installed fails the test: `.ci/run` installs every one.
pub fn judge(program: &str, args: &[&str], input: &[u8]) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("the judge {program} is needed by this test ({err}); .ci/run installs it")
        });
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

/// A fresh state dir as kubecred trusts one: a 0700 folder of the running user's.
pub fn state_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Reads `json` with python3's `json` module (a parser kubecred does not
/// share) and returns what the Python expression `expr` over the document
/// `d` prints.
pub fn python_json(json: &str, expr: &str) -> String {
    let (ok, said) = judge(
        "python3",
        &[
            "-c",
            &format!("import json,sys; d=json.load(sys.stdin); print({expr})"),
        ],
        json.as_bytes(),
    );
    assert!(ok, "python3 rejects the JSON: {said}");
    said.trim_end().to_owned()
}

/// The SHA-256 of a file as `sha256sum` computes it.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils) is needed by this test");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}
