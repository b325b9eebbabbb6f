//! The model: what kubecred knows about a host's credentials, as plain
//! values. `edge::inventory` produces it; every other module only reads it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::domain::cert::{Certificate, ChainError, Fingerprint};
use crate::domain::key::KeyInfo;
use crate::domain::layout::{Kind, Spec};
use crate::domain::manifest::{Component, Pod};
use crate::domain::plan::Expect;

/// Where to look and what to look for.
#[derive(Clone, Debug)]
pub struct Scope {
    /// kubeadm's kubernetes dir (`/etc/kubernetes`).
    pub kubernetes_dir: PathBuf,
    /// kubeadm's certificatesDir (`/etc/kubernetes/pki`).
    pub cert_dir: PathBuf,
    /// Glob patterns of kubeconfigs that may hold stale admin copies.
    pub copies: Vec<String>,
    /// The uid every credential file and folder must belong to: root (0) on a
    /// node; only tests name another (through the process context).
    pub expected_owner: u32,
}

/// Everything kubecred knows about a host's credentials.
#[derive(Clone, Debug)]
pub struct Inventory {
    /// The kubernetes dir scanned.
    pub kubernetes_dir: PathBuf,
    /// The cert dir scanned.
    pub cert_dir: PathBuf,
    /// Whether `pki/etcd/` exists, i.e. etcd is local (stacked).
    pub local_etcd: bool,
    /// The uid kubeadm's files and folders must belong to: root (0) on a node.
    pub expected_owner: u32,
    /// The kubernetes dir, the cert dir and `pki/etcd` as found (host scans
    /// only; symlinks followed): who may replace the credentials in them.
    pub folders: Vec<FileMeta>,
    /// Every credential, in layout order (or input order for paths).
    pub credentials: Vec<Credential>,
    /// The service-account signing key pair (host scans only).
    pub service_account: Option<ServiceAccount>,
    /// Kubeconfigs outside the kubernetes dir that hold cluster admin credentials.
    pub copies: Vec<Copy>,
    /// Files the copies globs matched that were not read, and why (a device, a FIFO, ...).
    pub skipped_copies: Vec<(PathBuf, String)>,
    /// kubeadm's static pod manifests, one per component (host scans only).
    pub static_pods: Vec<StaticPod>,
    /// The effective uid the scan read the files as.
    pub reader_uid: u32,
    /// Credential positions by name (see [`Inventory::indexed`]).
    pub(crate) index: HashMap<String, usize>,
}

/// One credential and what was found of it.
#[derive(Clone, Debug)]
pub struct Credential {
    /// kubeadm's name, or the file (and user) for ad-hoc paths.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// The layout entry, for kubeadm credentials.
    pub spec: Option<&'static Spec>,
    /// The file that holds (or would hold) it: `.crt` or kubeconfig.
    pub path: PathBuf,
    /// The name of the CA credential that should have signed it.
    pub ca: Option<String>,
    /// What was found.
    pub state: State,
    /// Whether it chains to that CA (`None`: no CA to check against).
    pub chain: Option<Result<(), ChainError>>,
}

/// What was found of a credential.
#[derive(Clone, Debug)]
pub enum State {
    /// Not there; `expected` says whether kubeadm always writes it on this node.
    Absent {
        /// Whether its absence is a fault.
        expected: bool,
    },
    /// There but unparsable, or refused for what it is (a symlink, a device, ...).
    Malformed {
        /// The file at fault (may be a key or referenced file, not `path`).
        path: PathBuf,
        /// What is wrong, in a few words.
        reason: String,
    },
    /// Parsed.
    Present(Box<Material>),
    /// There, but the running user may not read it (or search a folder on its
    /// path): nothing is known of its content.
    Unreadable {
        /// The file that could not be read (may be a key or referenced file, not `path`).
        path: PathBuf,
        /// Its other files the user may not read either (the key of a certificate).
        also: Vec<PathBuf>,
    },
}

/// A present credential's certificate, key and metadata.
#[derive(Clone, Debug)]
pub struct Material {
    /// The certificate.
    pub certificate: Certificate,
    /// Where the certificate came from.
    pub origin: Origin,
    /// The file that holds the certificate (the kubeconfig for embedded ones).
    pub file: FileMeta,
    /// The private key, as far as it was found.
    pub key: KeyState,
    /// For kubeconfigs: the current context's names and CA data (boxed: most credentials have none).
    pub kubeconfig: Option<Box<KubeconfigFacts>>,
    /// Places read as certificates that also hold a private key block.
    pub keys_in_certificates: Vec<KeyInCertificate>,
}

/// A private key block found where a certificate was read (never the key itself).
#[derive(Clone, Debug)]
pub struct KeyInCertificate {
    /// The file that holds it (the kubeconfig for embedded data).
    pub file: FileMeta,
    /// The kubeconfig field that holds it, for embedded data.
    pub field: Option<String>,
}

/// Where a certificate was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in a kubeconfig user's field.
    Embedded {
        /// The kubeconfig user.
        user: String,
        /// The field, e.g. `client-certificate-data`.
        field: &'static str,
    },
    /// A PEM file.
    File(PathBuf),
}

/// What was found of a private key.
#[derive(Clone, Debug)]
pub enum KeyState {
    /// Not there (for a CA: an external CA).
    Absent(PathBuf),
    /// There but unparsable, or refused for what it is.
    Malformed {
        /// The key's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// There, but the running user may not read it.
    Unreadable(PathBuf),
    /// Parsed: its public half.
    Present {
        /// Its public facts.
        info: KeyInfo,
        /// The file that holds it (the kubeconfig for embedded keys).
        file: FileMeta,
    },
    /// No key is looked for (ad-hoc certificates without a sibling key).
    Unknown,
}

/// The facts of a kubeconfig that checks need.
#[derive(Clone, Debug)]
pub struct KubeconfigFacts {
    /// The current context.
    pub context: String,
    /// The current context's user.
    pub user: String,
    /// The current context's cluster.
    pub cluster: String,
    /// The API server URL.
    pub server: Option<String>,
    /// The cluster's CA certificate, or why it could not be read.
    pub certificate_authority: Option<Result<Certificate, String>>,
}

/// Ownership and mode of a file, as `fstat` on the handle it was read through
/// sees it (a folder: as `stat` sees it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// The file.
    pub path: PathBuf,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Where the path pointed, if it was a symlink that was followed.
    pub symlink_target: Option<PathBuf>,
    /// The SHA-256 of the bytes read (`None` for a folder, and for the files
    /// `inspect PATH` reads from a folder's listing, which no plan writes from).
    pub sha256: Option<Fingerprint>,
}

/// The service-account signing key pair (`sa.key`, `sa.pub`).
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// `sa.key`
    pub key: KeyState,
    /// `sa.pub`: the public key DER, or why not.
    pub public: FileRead<(Vec<u8>, FileMeta)>,
}

/// A read of a file that may be absent.
#[derive(Clone, Debug)]
pub enum FileRead<T> {
    /// Not there.
    Absent(PathBuf),
    /// There but unusable.
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Read and parsed.
    Present(T),
    /// There, but the running user may not read it.
    Unreadable(PathBuf),
}

/// The reason the host reader gives for a file the running user may not read
/// (`EACCES` or `EPERM` on the file or on a folder of its path): such a file
/// is [`State::Unreadable`], never malformed.
pub const PERMISSION_DENIED: &str = "cannot read (permission denied)";

/// A static pod manifest of the node, as found (read-only: kubecred never
/// writes one here).
#[derive(Clone, Debug)]
pub struct StaticPod {
    /// The component it runs.
    pub component: Component,
    /// `<kubernetes-dir>/manifests/<component>.yaml`.
    pub path: PathBuf,
    /// The parsed manifest and the file it was read from, or why not.
    pub state: FileRead<(Pod, FileMeta)>,
}

impl StaticPod {
    /// The parsed manifest, if it was read.
    pub fn pod(&self) -> Option<&Pod> {
        match &self.state {
            FileRead::Present((pod, _)) => Some(pod),
            _ => None,
        }
    }
}

/// A kubeconfig outside the kubernetes dir whose user holds a cluster admin credential.
#[derive(Clone, Debug)]
pub struct Copy {
    /// The kubeconfig.
    pub file: FileMeta,
    /// The user entry.
    pub user: String,
    /// The admin certificate it holds.
    pub certificate: Certificate,
}

impl Inventory {
    /// Indexes the credentials by name; call once they are all in.
    #[must_use]
    pub fn indexed(mut self) -> Self {
        self.index = self
            .credentials
            .iter()
            .enumerate()
            .map(|(position, cred)| (cred.name.clone(), position))
            .collect();
        self
    }

    /// A credential by name.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.index
            .get(name)
            .and_then(|position| self.credentials.get(*position))
    }

    /// A present credential's material by name.
    pub fn material(&self, name: &str) -> Option<&Material> {
        self.credential(name).and_then(Credential::material)
    }

    /// Whether anything of a kubeadm layout was found.
    pub fn has_layout(&self) -> bool {
        self.credentials
            .iter()
            .any(|cred| !matches!(cred.state, State::Absent { .. }))
    }

    /// What the scan found at `path`, if it looked there: the bytes it read
    /// (as a digest) or no file. A plan made from this inventory expects
    /// exactly that when it writes there.
    pub fn scanned(&self, path: &Path) -> Option<Expect> {
        let read = |file: &FileMeta| {
            (file.path == path)
                .then_some(file.sha256)
                .flatten()
                .map(Expect::Sha256)
        };
        for cred in &self.credentials {
            match &cred.state {
                State::Absent { .. } if cred.path == path => return Some(Expect::Absent),
                State::Present(material) => {
                    if let Some(found) = read(&material.file) {
                        return Some(found);
                    }
                    match &material.key {
                        KeyState::Present { file, .. } => {
                            if let Some(found) = read(file) {
                                return Some(found);
                            }
                        }
                        KeyState::Absent(key) if key == path => return Some(Expect::Absent),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        self.copies.iter().find_map(|copy| read(&copy.file))
    }

    /// Every file the scan could not read for lack of permission, sorted, each once.
    pub fn unreadable(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = Vec::new();
        for cred in &self.credentials {
            match &cred.state {
                State::Unreadable { path, also } => {
                    files.push(path);
                    files.extend(also.iter().map(PathBuf::as_path));
                }
                State::Present(material) => {
                    if let KeyState::Unreadable(path) = &material.key {
                        files.push(path);
                    }
                }
                _ => {}
            }
        }
        if let Some(sa) = &self.service_account {
            if let KeyState::Unreadable(path) = &sa.key {
                files.push(path);
            }
            if let FileRead::Unreadable(path) = &sa.public {
                files.push(path);
            }
        }
        for pod in &self.static_pods {
            if let FileRead::Unreadable(path) = &pod.state {
                files.push(path);
            }
        }
        files.sort();
        files.dedup();
        files
    }

    /// The static pod manifest of a component, if the scan looked for it.
    pub fn static_pod(&self, component: Component) -> Option<&StaticPod> {
        self.static_pods
            .iter()
            .find(|pod| pod.component == component)
    }

    /// The node name, from the kubelet's client certificate.
    pub fn node_name(&self) -> Option<String> {
        node_name(&self.credentials)
    }
}

impl Credential {
    /// A credential that is no kubeadm name: a file an operator named.
    pub(crate) fn adhoc(name: String, path: &Path, kind: Kind, state: State) -> Self {
        Self {
            name,
            kind,
            spec: None,
            path: path.to_path_buf(),
            ca: None,
            state,
            chain: None,
        }
    }

    /// The material, if present.
    pub fn material(&self) -> Option<&Material> {
        match &self.state {
            State::Present(material) => Some(material),
            _ => None,
        }
    }
}

fn node_name(credentials: &[Credential]) -> Option<String> {
    credentials
        .iter()
        .find(|cred| cred.name == "kubelet.conf")
        .and_then(Credential::material)
        .and_then(|material| {
            material
                .certificate
                .common_name
                .strip_prefix("system:node:")
                .map(str::to_owned)
        })
}
