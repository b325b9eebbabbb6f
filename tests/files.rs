//! Files that are not what they seem: devices, FIFOs, sockets, kernel
//! pseudo-files, huge sparse files, and names that are not UTF-8. Nothing
//! blocks (each run has a deadline), every refusal names the path and what it
//! is, and every JSON output carries the exact bytes of every path.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

mod common;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Host, NOW, Run, codes, finding, pairs, snapshot};
use kubecred::domain::demo::AdminLayout;
use kubecred::domain::kubeconfig::Kubeconfig;
use serde_json::Value;

/// Longer than any of these runs takes; a run that blocks on a file fails here instead of hanging the suite.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs kubecred with the fixed clock, killed and failed if it outlives `DEADLINE`.
fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_kubecred"))
        .args(args)
        .env("KUBECRED_TEST_NOW", NOW)
        .env_remove("KUBECRED_KUBERNETES_DIR")
        .env_remove("KUBECRED_STATE_DIR")
        .env_remove("KUBECRED_TEST_OWNER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubecred");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(DEADLINE) else {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        panic!(
            "kubecred {:?} was still running after {DEADLINE:?}: it blocked on a file",
            args.iter().map(AsRef::as_ref).collect::<Vec<_>>()
        );
    };
    let output = output.expect("wait for kubecred");
    assert!(started.elapsed() < DEADLINE);
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kubecred panicked: {}",
        run.stderr
    );
    run
}

fn os(text: &str) -> OsString {
    OsString::from(text)
}

/// `check -o json` over `host`, with stale copies looked for by `copies` (or none).
fn check(host: &Path, copies: Option<&Path>, verbose: bool) -> Run {
    let mut args = vec![os("--kubernetes-dir"), host.as_os_str().to_owned()];
    match copies {
        Some(glob) => {
            args.push(os("--copies"));
            args.push(glob.as_os_str().to_owned());
        }
        None => args.push(os("--no-copies")),
    }
    if verbose {
        args.push(os("-v"));
    }
    args.extend([os("check"), os("-o"), os("json")]);
    run(&args)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Points kubelet.conf's `client-certificate` at `target`, in place of its embedded data.
fn kubelet_cert_at(host: &Host, target: &Path) {
    let path = host.file("kubelet.conf");
    let mut config = Kubeconfig::parse(&fs::read(&path).unwrap()).unwrap();
    let user = &mut config.users[0].user;
    user.client_certificate_data = None;
    user.client_certificate = Some(target.to_str().unwrap().to_owned());
    fs::write(&path, config.to_yaml().unwrap()).unwrap();
}

/// A kubelet.conf whose `client-certificate` is the `target` made by `make`:
/// a critical `malformed` naming the file and `what`, and nothing else changed.
fn kubelet_cert_refused(make: impl FnOnce(&Path) -> PathBuf, what: &str) {
    let host = Host::new(AdminLayout::Init129);
    // Outside the host: the snapshot below reads every file of the host, and would block on a FIFO.
    let outside = tempfile::tempdir().unwrap();
    let target = make(outside.path());
    kubelet_cert_at(&host, &target);
    let before = snapshot(host.path());
    let run = check(host.path(), None, false);
    let json = run.json();
    assert_eq!(
        codes(&json),
        pairs(&[("kubelet.conf", "malformed")]),
        "{json:#}"
    );
    let found = finding(&json, "kubelet.conf", "malformed");
    assert_eq!(found["severity"], "critical");
    let message = found["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{}: ", target.display())),
        "names the file: {message}"
    );
    assert!(message.contains(what), "says {what:?}: {message}");
    assert_eq!(run.code, 2);
    assert_eq!(snapshot(host.path()), before, "check changes nothing");
}

#[test]
fn a_fifo_as_client_certificate_is_refused_without_blocking() {
    kubelet_cert_refused(
        |root| {
            let fifo = root.join("kubelet.fifo");
            mkfifo(&fifo);
            fifo
        },
        "is not a regular file: it is a FIFO (named pipe)",
    );
}

#[test]
fn dev_zero_as_client_certificate_is_a_character_device() {
    kubelet_cert_refused(
        |_| PathBuf::from("/dev/zero"),
        "is not a regular file: it is a character device",
    );
}

#[test]
fn dev_null_via_symlink_as_client_certificate_is_a_character_device() {
    kubelet_cert_refused(
        |root| {
            let link = root.join("kubelet-client-current.pem");
            symlink("/dev/null", &link).unwrap();
            link
        },
        "is not a regular file: it is a character device",
    );
}

#[test]
fn a_directory_as_client_certificate_is_refused() {
    kubelet_cert_refused(
        |root| {
            let dir = root.join("kubelet-client.d");
            fs::create_dir(&dir).unwrap();
            dir
        },
        "is a directory, expected a file",
    );
}

#[test]
fn a_unix_socket_as_client_certificate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("kubelet.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    kubelet_cert_refused(|_| socket.clone(), "is not a regular file: it is a socket");
}

#[test]
fn proc_self_status_via_symlink_as_client_certificate_is_a_kernel_pseudo_file() {
    kubelet_cert_refused(
        |root| {
            let link = root.join("kubelet-client-current.pem");
            symlink("/proc/self/status", &link).unwrap();
            link
        },
        "is a kernel pseudo-file on procfs, not a credential file",
    );
}

#[test]
fn a_2_gb_sparse_client_certificate_is_refused_unread() {
    kubelet_cert_refused(
        |root| {
            let big = root.join("kubelet-client-big.pem");
            fs::File::create(&big)
                .unwrap()
                .set_len(2 * 1024 * 1024 * 1024)
                .unwrap();
            big
        },
        "too large (2147483648 bytes; a credential file is at most 1048576 bytes)",
    );
}

#[test]
fn a_unix_socket_at_a_kubeadm_certificate_is_malformed() {
    let host = Host::new(AdminLayout::Init129);
    let crt = host.file("pki/front-proxy-ca.crt");
    fs::remove_file(&crt).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&crt).unwrap();
    let json = check(host.path(), None, false).json();
    let message = finding(&json, "front-proxy-ca", "malformed")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        format!("{}: is not a regular file: it is a socket", crt.display())
    );
}

/// A user's `~/.kube/config` that is `link` to something that is not a file:
/// the root check finishes, judges the node as clean, and says with `-v` which
/// file it did not read and why.
fn stale_copy_refused(link_to: &Path, what: &str) {
    let host = Host::new(AdminLayout::Init129);
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join("u/.kube");
    fs::create_dir_all(&kube).unwrap();
    let config = kube.join("config");
    symlink(link_to, &config).unwrap();
    let glob = home.path().join("*/.kube/config");
    let run = check(host.path(), Some(&glob), true);
    assert_eq!(codes(&run.json()), pairs(&[]), "{}", run.stdout);
    assert_eq!(run.code, 0);
    let said = format!("kubecred: not read as a copy: {}: {what}", config.display());
    assert!(run.stderr.contains(&said), "{said:?} in {}", run.stderr);
}

#[test]
fn proc_kmsg_as_a_stale_copy_never_blocks_the_check() {
    assert!(
        Path::new("/proc/kmsg").exists(),
        "this test needs /proc/kmsg (Linux with procfs)"
    );
    stale_copy_refused(
        Path::new("/proc/kmsg"),
        "is a kernel pseudo-file on procfs, not a credential file",
    );
}

#[test]
fn proc_self_status_as_a_stale_copy_is_a_kernel_pseudo_file() {
    stale_copy_refused(
        Path::new("/proc/self/status"),
        "is a kernel pseudo-file on procfs, not a credential file",
    );
}

#[test]
fn a_fifo_as_a_stale_copy_never_blocks_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    mkfifo(&fifo);
    stale_copy_refused(&fifo, "is not a regular file: it is a FIFO (named pipe)");
}

#[test]
fn dev_zero_as_a_stale_copy_is_a_character_device() {
    stale_copy_refused(
        Path::new("/dev/zero"),
        "is not a regular file: it is a character device",
    );
}

/// A kubeconfig whose users are `admin` (the file `admin_cert`) and then one user per entry of `files`.
fn copy_with_users(path: &Path, admin_cert: &Path, files: &[PathBuf]) {
    let mut yaml =
        String::from("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers:\n");
    let entry = |name: &str, file: &Path| {
        format!(
            "- name: {name}\n  user:\n    client-certificate: {}\n",
            file.display()
        )
    };
    yaml.push_str(&entry("admin", admin_cert));
    for (index, file) in files.iter().enumerate() {
        yaml.push_str(&entry(&format!("u{index}"), file));
    }
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, yaml).unwrap();
}

#[test]
fn copies_whose_users_name_many_or_big_files_are_read_within_a_budget() {
    let host = Host::new(AdminLayout::Init129);
    let home = tempfile::tempdir().unwrap();
    let files = home.path().join("files");
    fs::create_dir_all(&files).unwrap();
    // super-admin.conf's certificate (system:masters): a stale admin copy wherever a user names it.
    let super_admin = Kubeconfig::parse(&fs::read(host.file("super-admin.conf")).unwrap()).unwrap();
    let admin_cert = files.join("super-admin.crt");
    let data = super_admin.users[0]
        .user
        .client_certificate_data
        .as_deref()
        .unwrap();
    fs::write(
        &admin_cert,
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
    .unwrap();
    let megabyte = vec![b'x'; 1024 * 1024];
    let big = files.join("big.pem");
    fs::write(&big, &megabyte).unwrap();
    // one: 5,000 users naming the same 1 MB file that is no PEM.
    let one = home.path().join("one/.kube/config");
    copy_with_users(&one, &admin_cert, &vec![big; 5_000]);
    // many: 5,000 users naming 5,000 small files that are no PEM.
    let small: Vec<PathBuf> = (0..5_000)
        .map(|index| {
            let file = files.join(format!("small-{index}.pem"));
            fs::write(&file, format!("not a certificate {index}\n")).unwrap();
            file
        })
        .collect();
    let many = home.path().join("many/.kube/config");
    copy_with_users(&many, &admin_cert, &small);
    // large: 20 users naming 20 distinct 1 MB files.
    let large: Vec<PathBuf> = (0..20)
        .map(|index| {
            let file = files.join(format!("large-{index}.pem"));
            fs::write(&file, &megabyte).unwrap();
            file
        })
        .collect();
    let large_copy = home.path().join("large/.kube/config");
    copy_with_users(&large_copy, &admin_cert, &large);
    let glob = home.path().join("*/.kube/config");
    // `run` fails the test if kubecred outlives its deadline; this must take far less.
    let started = Instant::now();
    let run = check(host.path(), Some(&glob), true);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "check took {took:?}");
    // Each admin user named first is found, in every copy.
    let json = run.json();
    let stale: Vec<(String, String)> = [&large_copy, &many, &one]
        .iter()
        .map(|path| (path.display().to_string(), "stale-admin-copy".to_owned()))
        .collect();
    assert_eq!(codes(&json), stale, "{}", run.stderr);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // With -v, the copies cut short say where and why; the one naming a single file is read whole.
    let said = |path: &Path| {
        run.stderr
            .lines()
            .find(|line| {
                line.starts_with(&format!(
                    "kubecred: not read as a copy: {}: ",
                    path.display()
                ))
            })
            .map(str::to_owned)
    };
    assert_eq!(said(&one), None, "{}", run.stderr);
    assert_eq!(
        said(&many).as_deref(),
        Some(
            format!(
                "kubecred: not read as a copy: {}: read in part: its users name more than 100 certificate files, the most read per kubeconfig; stopped before user 101 of 5001, the rest were not checked",
                many.display()
            )
            .as_str()
        ),
        "{}",
        run.stderr
    );
    let large_said = said(&large_copy).unwrap_or_default();
    assert!(
        large_said.contains(
            "read in part: the certificate files its users name hold more than 8 MiB, the most read per kubeconfig; stopped before user 10 of 21"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn inspect_dir_names_each_special_file_and_blocks_on_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mkfifo(&dir.join("pipe.crt"));
    symlink("/dev/zero", dir.join("zero.crt")).unwrap();
    symlink("/proc/self/status", dir.join("status.crt")).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(dir.join("sock.crt")).unwrap();
    let run = run(&[
        os("-o"),
        os("json"),
        os("inspect"),
        dir.as_os_str().to_owned(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let error = |name: &str| -> String {
        let path = dir.join(name);
        let cred = common::credential(&json, path.to_str().unwrap());
        assert_eq!(cred["state"], "malformed", "{cred:#}");
        cred["error"].as_str().unwrap().to_owned()
    };
    for (name, what) in [
        (
            "pipe.crt",
            "is not a regular file: it is a FIFO (named pipe)",
        ),
        (
            "zero.crt",
            "is not a regular file: it is a character device",
        ),
        (
            "status.crt",
            "is a kernel pseudo-file on procfs, not a credential file",
        ),
        ("sock.crt", "is not a regular file: it is a socket"),
    ] {
        assert_eq!(
            error(name),
            format!("{}: {what}", dir.join(name).display()),
            "{name}"
        );
    }
}

/// Parses `text` with Python's `json` module, an independent parser, and
/// returns what `expr` (Python, over the document `d`) prints.
fn python(text: &str, expr: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import json,sys; d=json.load(sys.stdin); print({expr})"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed as an independent JSON parser");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 rejects the JSON: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

/// The exact bytes a JSON path carries: a string, or `{"escaped", "base64"}`.
fn path_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) => {
            assert!(map["escaped"].is_string(), "{value}");
            base64::engine::general_purpose::STANDARD
                .decode(map["base64"].as_str().unwrap())
                .unwrap()
        }
        _ => panic!("not a path: {value}"),
    }
}

/// `name` with a byte that is not UTF-8 after it.
fn not_utf8(name: &str) -> OsString {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0xff);
    OsString::from_vec(bytes)
}

#[test]
fn a_non_utf8_file_name_in_pki_is_carried_exactly_by_inspect_json() {
    let host = Host::new(AdminLayout::Init129);
    let odd = host.file("pki").join(not_utf8("ca")).with_extension("crt");
    fs::copy(host.file("pki/ca.crt"), &odd).unwrap();
    let run = run(&[
        os("-o"),
        os("json"),
        os("inspect"),
        host.file("pki").into_os_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let escaped = format!("{}/ca\\xff.crt", host.file("pki").display());
    // An independent parser reads the document and finds the path, escaped and exact.
    let base64 = base64::engine::general_purpose::STANDARD.encode(odd.as_os_str().as_bytes());
    assert_eq!(
        python(
            &run.stdout,
            &format!("[c['path']['base64'] for c in d['credentials'] if c['name'] == {escaped:?}]")
        ),
        format!("['{base64}']")
    );
    let json = run.json();
    let cred = common::credential(&json, &escaped);
    assert_eq!(cred["state"], "present");
    assert_eq!(path_bytes(&cred["path"]), odd.as_os_str().as_bytes());
    assert_eq!(cred["path"]["escaped"], escaped.as_str());
    assert_eq!(
        path_bytes(&cred["file"]["path"]),
        odd.as_os_str().as_bytes()
    );
    assert_eq!(cred["isCa"], true);
    // Its neighbours are plain strings, as before.
    assert!(
        common::credential(&json, &format!("{}/ca.crt", host.file("pki").display()))["path"]
            .is_string()
    );
}

#[test]
fn a_non_utf8_kubernetes_dir_is_carried_exactly_by_check_json() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(AdminLayout::Pre129);
    let dir = tmp.path().join(not_utf8("k8s"));
    common::copy_tree(host.path(), &dir);
    let run = check(&dir, None, false);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        python(&run.stdout, "d['kubernetesDir']['base64'], d['status']"),
        format!(
            "{} warning",
            base64::engine::general_purpose::STANDARD.encode(dir.as_os_str().as_bytes())
        )
    );
    let json = run.json();
    assert_eq!(
        path_bytes(&json["kubernetesDir"]),
        dir.as_os_str().as_bytes()
    );
    assert_eq!(
        path_bytes(&json["certDir"]),
        dir.join("pki").as_os_str().as_bytes()
    );
    let admin = finding(&json, "admin.conf", "admin-in-system-masters");
    assert_eq!(
        path_bytes(&admin["path"]),
        dir.join("admin.conf").as_os_str().as_bytes()
    );
    let apiserver = common::credential(&json, "apiserver");
    assert_eq!(
        path_bytes(&apiserver["key"]["file"]["path"]),
        dir.join("pki/apiserver.key").as_os_str().as_bytes()
    );
}

#[test]
fn a_stale_copy_under_a_non_utf8_home_is_carried_exactly() {
    let host = Host::new(AdminLayout::Pre129);
    let homes = tempfile::tempdir().unwrap();
    let kube = homes.path().join(not_utf8("u")).join(".kube");
    fs::create_dir_all(&kube).unwrap();
    let copy = kube.join("config");
    fs::copy(host.file("admin.conf"), &copy).unwrap();
    // The copy is current, but in system:masters: stale.
    let run = check(
        host.path(),
        Some(&homes.path().join("*/.kube/config")),
        false,
    );
    let escaped = format!("{}/u\\xff/.kube/config", homes.path().display());
    assert_eq!(
        python(
            &run.stdout,
            "[(c['path']['escaped'], c['user'], c['findings']) for c in d['copies']]"
        ),
        format!("[({escaped:?}, 'kubernetes-admin', ['stale-admin-copy'])]").replace('"', "'")
    );
    let json = run.json();
    let stale = finding(&json, &escaped, "stale-admin-copy");
    assert_eq!(path_bytes(&stale["path"]), copy.as_os_str().as_bytes());
    assert_eq!(
        path_bytes(&json["copies"][0]["file"]["path"]),
        copy.as_os_str().as_bytes()
    );
    // The table says it too, escaped, not lossily.
    let table = run_table(host.path(), &homes.path().join("*/.kube/config"));
    assert!(table.contains(&escaped), "{table}");
    // `**` finds it as well, once.
    let json = check(host.path(), Some(&homes.path().join("**/config")), false).json();
    let found: Vec<Vec<u8>> = json["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|copy| path_bytes(&copy["path"]))
        .collect();
    assert_eq!(found, vec![copy.as_os_str().as_bytes().to_vec()]);
}

fn run_table(host: &Path, copies: &Path) -> String {
    let run = run(&[
        os("--kubernetes-dir"),
        host.as_os_str().to_owned(),
        os("--copies"),
        copies.as_os_str().to_owned(),
        os("check"),
    ]);
    run.stdout
}

fn in_state<S: AsRef<OsStr>>(dir: &Path, state: &Path, args: &[S]) -> Run {
    let mut all = vec![
        os("--kubernetes-dir"),
        dir.as_os_str().to_owned(),
        os("--state-dir"),
        state.as_os_str().to_owned(),
    ];
    all.extend(args.iter().map(|arg| arg.as_ref().to_owned()));
    run(&all)
}

#[test]
fn a_renew_under_a_non_utf8_dir_backs_up_exactly_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(AdminLayout::Init129);
    let dir = tmp.path().join(not_utf8("k8s"));
    common::copy_tree(host.path(), &dir);
    let state = tmp.path().join("state");
    let before = snapshot(&dir);
    let renewed = in_state(&dir, &state, &["renew", "apiserver", "admin.conf", "--yes"]);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
    let after = snapshot(&dir);
    assert_ne!(after, before);
    // The manifest on disk round-trips the path bytes exactly (read by an independent parser).
    let backups = state.join("backups");
    let set = fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest = fs::read_to_string(set.join("manifest.json")).unwrap();
    let expected: Vec<String> = ["admin.conf", "pki/apiserver.crt", "pki/apiserver.key"]
        .iter()
        .map(|rel| {
            base64::engine::general_purpose::STANDARD.encode(dir.join(rel).as_os_str().as_bytes())
        })
        .collect();
    let listed = python(&manifest, "sorted(f['path']['base64'] for f in d['files'])");
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(listed, format!("{sorted:?}").replace('"', "'"));
    // rollback --list shows it, with the exact paths.
    let list = in_state(&dir, &state, &["-o", "json", "rollback", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    python(&list.stdout, "d['backups'][0]['id']");
    let list = list.json();
    assert_eq!(list["unreadable"], Value::Array(vec![]));
    let entry = &list["backups"][0];
    let mut paths: Vec<Vec<u8>> = entry["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| path_bytes(&file["path"]))
        .collect();
    paths.sort();
    let mut want: Vec<Vec<u8>> = ["admin.conf", "pki/apiserver.crt", "pki/apiserver.key"]
        .iter()
        .map(|rel| dir.join(rel).as_os_str().as_bytes().to_vec())
        .collect();
    want.sort();
    assert_eq!(paths, want);
    // And restores it.
    let id = entry["id"].as_str().unwrap();
    let rolled = in_state(&dir, &state, &["rollback", id, "--yes"]);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(
        snapshot(&dir),
        before,
        "rollback restores every byte and mode"
    );
}

#[test]
fn an_unreadable_backup_set_is_listed_as_unreadable() {
    let host = Host::new(AdminLayout::Init129);
    let state = common::state_dir();
    let renewed = in_state(host.path(), state.path(), &["renew", "apiserver", "--yes"]);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
    let backups = state.path().join("backups");
    let good = fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let corrupt = backups.join("20261126T000000Z-renew");
    common::copy_tree(&good, &corrupt);
    fs::write(
        corrupt.join("manifest.json"),
        b"{\"schemaVersion\": 1, \"id\": ",
    )
    .unwrap();
    let empty = backups.join("20261126T000001Z-renew");
    fs::create_dir(&empty).unwrap();
    let odd = backups.join(not_utf8("set"));
    fs::create_dir(&odd).unwrap();
    fs::write(odd.join("manifest.json"), b"not json").unwrap();
    // Planted as kubecred makes its sets: private, so only the manifests are at fault.
    for dir in [&corrupt, &corrupt.join("files"), &empty, &odd] {
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }

    let table = in_state(host.path(), state.path(), &["rollback", "--list"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let good_id = good.file_name().unwrap().to_str().unwrap();
    assert!(table.stdout.contains(good_id), "{}", table.stdout);
    for (path, why) in [
        (
            corrupt.display().to_string(),
            "has a bad manifest (it ends too early: line 1",
        ),
        (empty.display().to_string(), "has no manifest.json"),
        (
            format!("{}/set\\xff", backups.display()),
            "has a bad manifest (it is not JSON: line 1",
        ),
    ] {
        let line = format!("unreadable backup {path}: {why}");
        assert!(
            table.stdout.contains(&line),
            "{line:?} in:\n{}",
            table.stdout
        );
    }
    assert_eq!(
        table.stdout.matches("UNREADABLE").count(),
        3,
        "{}",
        table.stdout
    );

    let list = in_state(
        host.path(),
        state.path(),
        &["-o", "json", "rollback", "--list"],
    );
    assert_eq!(
        python(&list.stdout, "len(d['backups']), len(d['unreadable'])"),
        "1 3"
    );
    let json = list.json();
    assert_eq!(json["backups"][0]["id"], good_id);
    let unreadable = json["unreadable"].as_array().unwrap();
    assert_eq!(
        path_bytes(&unreadable[0]["path"]),
        corrupt.as_os_str().as_bytes()
    );
    assert_eq!(unreadable[0]["id"], "20261126T000000Z-renew");
    assert!(
        unreadable[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("has a bad manifest")
    );
    assert_eq!(
        path_bytes(&unreadable[1]["path"]),
        empty.as_os_str().as_bytes()
    );
    assert_eq!(
        unreadable[1]["error"],
        "has no manifest.json: an interrupted run left it; the next writing run removes it"
    );
    assert_eq!(
        path_bytes(&unreadable[2]["path"]),
        odd.as_os_str().as_bytes()
    );
    assert_eq!(unreadable[2]["id"], "set\\xff");

    // Restoring the corrupt set is refused, naming it, and changes nothing.
    let before = snapshot(host.path());
    let refused = in_state(
        host.path(),
        state.path(),
        &["rollback", "20261126T000000Z-renew", "--yes"],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .starts_with("error: backup `20261126T000000Z-renew` has a bad manifest"),
        "{}",
        refused.stderr
    );
    assert_eq!(snapshot(host.path()), before);
}

#[test]
fn a_backup_of_a_fifo_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let regular = tmp.path().join("admin.conf");
    fs::write(&regular, b"apiVersion: v1\n").unwrap();
    let fifo = tmp.path().join("scheduler.conf");
    mkfifo(&fifo);
    let state = tmp.path().join("state");
    let (tx, rx) = mpsc::channel();
    let expect = kubecred::domain::plan::Expect::of(Some(b"apiVersion: v1\n"));
    let paths = vec![(regular, expect), (fifo.clone(), expect)];
    let worker_state = state.clone();
    let worker_tree = tmp.path().to_path_buf();
    std::thread::spawn(move || {
        let made = kubecred::edge::apply::backup::Backup::create(
            &worker_state,
            &worker_tree,
            "renew",
            &paths,
            common::now(),
            &kubecred::edge::apply::hook::Proceed,
        )
        .map(|backup| backup.dir);
        let _ = tx.send(made);
    });
    let made = rx
        .recv_timeout(DEADLINE)
        .expect("backing up a FIFO blocked");
    let err = made.expect_err("a FIFO cannot be backed up").to_string();
    assert_eq!(
        err,
        format!(
            "cannot back up {}: is not a regular file: it is a FIFO (named pipe)",
            fifo.display()
        )
    );
    assert!(
        !state.exists(),
        "nothing is written, not even the backups folder"
    );
}

#[test]
fn migrate_updates_a_copy_under_a_non_utf8_home_and_rollback_restores_it() {
    let host = Host::new(AdminLayout::Pre129);
    let tmp = tempfile::tempdir().unwrap();
    let homes = tmp.path().join("home");
    let kube = homes.join(not_utf8("u")).join(".kube");
    fs::create_dir_all(&kube).unwrap();
    let copy = kube.join("config");
    fs::copy(host.file("admin.conf"), &copy).unwrap();
    let state = tmp.path().join("state");
    let glob = homes.join("*/.kube/config");
    let (host_before, homes_before) = (snapshot(host.path()), snapshot(&homes));
    let args = |extra: &[&str]| -> Vec<OsString> {
        let mut all = vec![os("--copies"), glob.as_os_str().to_owned()];
        all.extend(extra.iter().map(|arg| os(arg)));
        all
    };
    let plan = in_state(
        host.path(),
        &state,
        &args(&["-o", "json", "migrate", "--offline", "--dry-run"]),
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        path_bytes(&plan.json()["copies"][0]["path"]),
        copy.as_os_str().as_bytes()
    );
    let migrated = in_state(
        host.path(),
        &state,
        &args(&[
            "-o",
            "json",
            "migrate",
            "--offline",
            "--update-copies",
            "--yes",
        ]),
    );
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    python(&migrated.stdout, "d['copies']['updated'][0]['base64']");
    let summary = migrated.json();
    assert_eq!(
        path_bytes(&summary["copies"]["updated"][0]),
        copy.as_os_str().as_bytes()
    );
    assert_ne!(snapshot(&homes), homes_before, "the copy was rewritten");
    let id = summary["backup"].as_str().unwrap().to_owned();
    let rolled = in_state(host.path(), &state, &["rollback", &id, "--yes"]);
    assert_eq!(rolled.code, 0, "{}", rolled.stderr);
    assert_eq!(
        snapshot(&homes),
        homes_before,
        "the copy is back, byte for byte"
    );
    assert_eq!(snapshot(host.path()), host_before);
}
