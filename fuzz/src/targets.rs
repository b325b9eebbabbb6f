//! The fuzz targets: each takes arbitrary bytes and must return, whatever they
//! are, without a panic. Shared by the AFL binaries of the fuzz crate and by
//! `tests/fuzz_regressions.rs`, which replays saved inputs through the same code.
//!
//! Input formats (the seeds under `fuzz/seeds/<target>/` follow them):
//!
//! - `kubeconfig`: the bytes of a kubeconfig file.
//! - `pem`: the bytes of a PEM file; every block is then read as what its label says.
//! - `cert`: one DER certificate.
//! - `manifest`: the bytes of a static pod manifest, read as each component's.
//! - `key`: a PEM key file when the bytes start with `-----`; raw DER read as
//!   every key encoding when they start with `0x30` (a DER SEQUENCE); otherwise
//!   the first byte picks the encoding of the DER that follows (modulo 3:
//!   0 SEC1, 1 PKCS#1, 2 PKCS#8).
//! - `tree`: one change to a generated kubeadm node. The first byte picks the
//!   change (its low 7 bits, modulo [`CHANGES`]): a file of [`SLOTS`], which the
//!   rest of the input replaces (high bit clear) or which is deleted (high bit
//!   set), or one of the changes after the slots ([`COPY_NAMED`]). The node is
//!   then scanned, judged at [`NOW`] and rendered in every output format.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

use kubecred::domain::cert::Certificate;
use kubecred::domain::findings::{Finding, Thresholds};
use kubecred::domain::key;
use kubecred::domain::kubeconfig::Kubeconfig;
use kubecred::domain::manifest::{self, Pod, STATIC_PODS};
use kubecred::domain::model::{Inventory, Scope};
use kubecred::domain::pem::{self, Block, BlockKind};
use kubecred::domain::report::Report;
use kubecred::ui::render::{self, Paint};
use time::OffsetDateTime;
use time::macros::datetime;

/// The clock of every run: the day the base node of the `tree` target was generated.
pub const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

/// Parses a kubeconfig, resolves its current credentials, and writes it back.
///
/// What kubecred writes it must read back: `renew` and `migrate` rewrite
/// kubeconfigs through `to_yaml`, so a parsed kubeconfig whose serialization
/// does not parse again, or serializes differently the second time, is a bug.
pub fn kubeconfig(data: &[u8]) {
    let Ok(config) = Kubeconfig::parse(data) else {
        return;
    };
    let _ = config.current_credentials(Path::new("/etc/kubernetes"));
    let Ok(yaml) = config.to_yaml() else {
        return;
    };
    let again = match Kubeconfig::parse(yaml.as_bytes()) {
        Ok(again) => again,
        Err(err) => panic!("a kubeconfig kubecred wrote does not parse again: {err}\n{yaml}"),
    };
    match again.to_yaml() {
        Ok(second) => assert_eq!(
            yaml, second,
            "a kubeconfig serializes differently once read back"
        ),
        Err(err) => panic!("a re-read kubeconfig does not serialize: {err}"),
    }
}

/// Splits PEM text into blocks and reads each as what its label says.
pub fn pem(data: &[u8]) {
    let Ok(blocks) = pem::parse(data) else {
        return;
    };
    for block in &blocks {
        match block.kind {
            BlockKind::Certificate => cert(&block.der),
            BlockKind::PublicKey => {}
            BlockKind::EcPrivateKey | BlockKind::Pkcs8PrivateKey | BlockKind::RsaPrivateKey => {
                let _ = key::from_block(block);
            }
        }
    }
    let _ = key::from_blocks(&blocks);
}

/// Parses a static pod manifest as each component's, then asks it what
/// `--live` asks: the flags that name credential files and where they are on the host.
pub fn manifest(data: &[u8]) {
    for component in STATIC_PODS {
        let Ok(pod) = Pod::parse(data, component) else {
            continue;
        };
        for flag in [
            "tls-cert-file",
            "cert-file",
            "kubeconfig",
            "secure-port",
            "bind-address",
            "listen-client-urls",
            "listen-peer-urls",
        ] {
            if let Some(value) = pod.flag(flag) {
                let _ = pod.host_path(Path::new(value));
                let _ = manifest::listen_url_address(value);
                let _ = manifest::connect_address(Some(value), 6443);
            }
        }
        for mount in &pod.mounts {
            let _ = pod.host_path(&mount.container_path.join("a.crt"));
        }
    }
}

/// Parses one DER certificate and uses every accessor; checks it against itself as CA.
pub fn cert(data: &[u8]) {
    let Ok(certificate) = Certificate::from_der(data) else {
        return;
    };
    let _ = certificate.subject_alt_names();
    let _ = certificate.verify_signed_by(&certificate);
    let _ = format!("{certificate:?}");
}

/// The private key encodings, in the order the `key` target's selector byte picks them.
const KEY_KINDS: [BlockKind; 3] = [
    BlockKind::EcPrivateKey,
    BlockKind::RsaPrivateKey,
    BlockKind::Pkcs8PrivateKey,
];

/// Reads a private key: PEM, raw DER in every encoding, or DER of a chosen encoding.
pub fn key(data: &[u8]) {
    if data.starts_with(b"-----") {
        if let Ok(blocks) = pem::parse(data) {
            let _ = key::from_blocks(&blocks);
        }
        return;
    }
    match data.split_first() {
        None => {}
        Some((0x30, _)) => {
            for kind in KEY_KINDS {
                let _ = key::from_block(&Block {
                    kind,
                    der: data.to_vec(),
                });
            }
        }
        Some((selector, der)) => {
            let kind = KEY_KINDS[usize::from(*selector) % KEY_KINDS.len()];
            let _ = key::from_block(&Block {
                kind,
                der: der.to_vec(),
            });
        }
    }
}

/// What a slot of the base node holds before any change.
#[derive(Clone, Copy, Debug)]
pub enum Base {
    /// A regular file: its bytes and mode.
    File(&'static [u8], u32),
    /// A symbolic link to this (relative) target.
    Link(&'static str),
    /// Nothing: the change adds the file.
    Absent,
}

macro_rules! base_file {
    ($path:literal, $mode:literal) => {
        (
            $path,
            Base::File(include_bytes!(concat!("../base/", $path)), $mode),
        )
    };
}

/// The files of the `tree` target's base node, by slot number.
///
/// Paths are relative to the tree's folder: the kubernetes dir is `kubernetes/`,
/// and `home/`, outside it, is where the copies glob looks. The node is a
/// kubeadm 1.28 one (`kubecred demo`, RSA-2048, generated at [`NOW`]) whose
/// kubelet.conf names its rotated certificate by a relative path, with a stale
/// admin copy in `home/user/.kube/config`; slot 29 (super-admin.conf) is absent.
pub const SLOTS: [(&str, Base); 30] = [
    base_file!("kubernetes/pki/ca.crt", 0o644),
    base_file!("kubernetes/pki/ca.key", 0o600),
    base_file!("kubernetes/pki/front-proxy-ca.crt", 0o644),
    base_file!("kubernetes/pki/front-proxy-ca.key", 0o600),
    base_file!("kubernetes/pki/etcd/ca.crt", 0o644),
    base_file!("kubernetes/pki/etcd/ca.key", 0o600),
    base_file!("kubernetes/pki/apiserver.crt", 0o644),
    base_file!("kubernetes/pki/apiserver.key", 0o600),
    base_file!("kubernetes/pki/apiserver-kubelet-client.crt", 0o644),
    base_file!("kubernetes/pki/apiserver-kubelet-client.key", 0o600),
    base_file!("kubernetes/pki/front-proxy-client.crt", 0o644),
    base_file!("kubernetes/pki/front-proxy-client.key", 0o600),
    base_file!("kubernetes/pki/apiserver-etcd-client.crt", 0o644),
    base_file!("kubernetes/pki/apiserver-etcd-client.key", 0o600),
    base_file!("kubernetes/pki/etcd/server.crt", 0o644),
    base_file!("kubernetes/pki/etcd/server.key", 0o600),
    base_file!("kubernetes/pki/etcd/peer.crt", 0o644),
    base_file!("kubernetes/pki/etcd/peer.key", 0o600),
    base_file!("kubernetes/pki/etcd/healthcheck-client.crt", 0o644),
    base_file!("kubernetes/pki/etcd/healthcheck-client.key", 0o600),
    base_file!("kubernetes/pki/sa.key", 0o600),
    base_file!("kubernetes/pki/sa.pub", 0o600),
    base_file!("kubernetes/admin.conf", 0o600),
    base_file!("kubernetes/controller-manager.conf", 0o600),
    base_file!("kubernetes/scheduler.conf", 0o600),
    base_file!(
        "kubernetes/kubelet/pki/kubelet-client-2026-11-26-12-00-00.pem",
        0o600
    ),
    (
        "kubernetes/kubelet/pki/kubelet-client-current.pem",
        Base::Link("kubelet-client-2026-11-26-12-00-00.pem"),
    ),
    base_file!("kubernetes/kubelet.conf", 0o600),
    base_file!("home/user/.kube/config", 0o600),
    ("kubernetes/super-admin.conf", Base::Absent),
];

/// The base node on disk, changed and restored by each run of the `tree` target.
#[derive(Debug)]
pub struct Tree {
    root: PathBuf,
    dirty: PathBuf,
}

/// The `tree` target's changes beyond the file slots, numbered after them.
///
/// `COPY_NAMED`: the rest of the input is a folder name, a NUL byte and a
/// kubeconfig (admin.conf's when empty or without a NUL), written to
/// `home/<name>/.kube/config`, where the copies glob finds it: file names are
/// bytes, not text. `NO_ETCD_DIR` and `NO_PKI_DIR` remove `pki/etcd/` and `pki/`.
pub const COPY_NAMED: usize = SLOTS.len();
/// Removes `pki/etcd/`: a node with external etcd, or a broken one.
pub const NO_ETCD_DIR: usize = SLOTS.len() + 1;
/// Removes `pki/`.
pub const NO_PKI_DIR: usize = SLOTS.len() + 2;
/// How many changes the first byte picks from (modulo).
pub const CHANGES: usize = SLOTS.len() + 3;

impl Tree {
    /// Writes the base node into `root` (created if missing; every slot rewritten).
    pub fn create(root: &Path) -> io::Result<Self> {
        let tree = Self {
            root: root.to_path_buf(),
            dirty: root.join(".dirty"),
        };
        tree.restore_all()?;
        remove(&tree.dirty)?;
        Ok(tree)
    }

    /// The folder that holds the node: its kubernetes dir `kubernetes/`, and `home/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Applies one change, scans, judges and renders the node, then undoes the change.
    ///
    /// Returns the findings. A run that was killed (a hang, a crash) leaves a
    /// marker behind; the next run then restores the whole node first.
    pub fn run(&self, data: &[u8]) -> io::Result<Vec<Finding>> {
        let Some((&op, contents)) = data.split_first() else {
            return Ok(Vec::new());
        };
        if self.dirty.exists() {
            self.restore_all()?;
        }
        fs::write(&self.dirty, b"")?;
        let change = usize::from(op & 0x7f) % CHANGES;
        let findings = match change {
            COPY_NAMED => {
                let (name, config) = match contents.iter().position(|&byte| byte == 0) {
                    Some(nul) => (&contents[..nul], &contents[nul + 1..]),
                    None => (contents, &[][..]),
                };
                let config = if config.is_empty() {
                    include_bytes!("../base/kubernetes/admin.conf").as_slice()
                } else {
                    config
                };
                let dir = self.root.join("home").join(folder_name(name));
                fs::create_dir_all(dir.join(".kube"))?;
                fs::write(dir.join(".kube/config"), config)?;
                let findings = judge(&self.root);
                fs::remove_dir_all(&dir)?;
                self.restore(28)?;
                findings
            }
            NO_ETCD_DIR | NO_PKI_DIR => {
                let dir = if change == NO_PKI_DIR {
                    "kubernetes/pki"
                } else {
                    "kubernetes/pki/etcd"
                };
                fs::remove_dir_all(self.root.join(dir))?;
                let findings = judge(&self.root);
                self.restore_all()?;
                findings
            }
            slot => {
                let path = self.root.join(SLOTS[slot].0);
                remove(&path)?;
                if op & 0x80 == 0 {
                    fs::write(&path, contents)?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
                }
                let findings = judge(&self.root);
                self.restore(slot)?;
                findings
            }
        };
        fs::remove_file(&self.dirty)?;
        Ok(findings)
    }

    /// Puts every slot back and removes every folder a change added.
    fn restore_all(&self) -> io::Result<()> {
        if let Ok(entries) = fs::read_dir(self.root.join("home")) {
            for entry in entries {
                let entry = entry?;
                if entry.file_name() != "user" {
                    fs::remove_dir_all(entry.path())?;
                }
            }
        }
        (0..SLOTS.len()).try_for_each(|slot| self.restore(slot))
    }

    fn restore(&self, slot: usize) -> io::Result<()> {
        let (name, base) = SLOTS[slot];
        let path = self.root.join(name);
        remove(&path)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        match base {
            Base::File(bytes, mode) => {
                fs::write(&path, bytes)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            }
            Base::Link(target) => symlink(target, &path),
            Base::Absent => Ok(()),
        }
    }
}

/// A folder name from arbitrary bytes: one path component, never `.`, `..` or empty.
fn folder_name(bytes: &[u8]) -> OsString {
    let mut name: Vec<u8> = bytes
        .iter()
        .take(200)
        .map(|&byte| if byte == b'/' { b'_' } else { byte })
        .collect();
    if matches!(name.as_slice(), b"" | b"." | b"..") {
        name.push(b'_');
    }
    OsString::from_vec(name)
}

/// Removes a file or link if it is there.
fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Scans the node under `root` (as [`Tree::root`]), judges it at [`NOW`], renders every format and
/// returns the findings.
///
/// The JSON renderers must write JSON, whatever the node holds.
pub fn judge(root: &Path) -> Vec<Finding> {
    let kubernetes_dir = root.join("kubernetes");
    let scope = Scope {
        cert_dir: kubernetes_dir.join("pki"),
        kubernetes_dir,
        copies: vec![format!("{}/home/*/.kube/config", root.display())],
        expected_owner: 0,
    };
    let inventory = Inventory::scan(&scope);
    let report = Report::new(&inventory, NOW, Thresholds::default());
    let _ = render::table::inspect(&report, Paint::Color);
    let _ = render::table::check(&report, Paint::Plain);
    let _ = render::table::summary(&report);
    let _ = render::nagios::check(&report);
    let _ = render::prometheus::check(&report);
    let (mut inspect, mut check) = (Vec::new(), Vec::new());
    let written = render::json::inspect(&report, &mut inspect)
        .and_then(|()| render::json::check(&report, &mut check));
    if let Err(err) = written {
        panic!("a JSON renderer failed to write to memory: {err}");
    }
    for json in [inspect, check] {
        if let Err(err) = serde_json::from_slice::<serde_json::Value>(&json) {
            panic!("a JSON renderer wrote something that is not JSON: {err}");
        }
    }
    report.findings
}
