//! The host scan: reads every kubeadm credential (and stale admin copies) into
//! plain values. This is the only module that reads credential files; it never
//! writes, and it keeps no private key material, only each key's public half.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::cert::{Certificate, ChainError};
use crate::key::{self, KeyInfo};
use crate::kubeconfig::{Kubeconfig, Source};
use crate::layout::{self, Kind, Presence, Spec};
use crate::pem::{self, BlockKind};

/// The largest credential file kubecred reads; kubeadm's are a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where to look and what to look for.
#[derive(Clone, Debug)]
pub struct Scope {
    /// kubeadm's kubernetes dir (`/etc/kubernetes`).
    pub kubernetes_dir: PathBuf,
    /// kubeadm's certificatesDir (`/etc/kubernetes/pki`).
    pub cert_dir: PathBuf,
    /// Glob patterns of kubeconfigs that may hold stale admin copies.
    pub copies: Vec<String>,
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
    /// The owner kubeadm's files should have: root, or the kubernetes dir's owner
    /// when that is not root (a demo or test tree).
    pub expected_owner: u32,
    /// Every credential, in layout order (or input order for paths).
    pub credentials: Vec<Credential>,
    /// The service-account signing key pair (host scans only).
    pub service_account: Option<ServiceAccount>,
    /// Kubeconfigs outside the kubernetes dir that hold cluster admin credentials.
    pub copies: Vec<Copy>,
    /// Credential positions by name.
    index: HashMap<String, usize>,
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
    /// There but unreadable or unparsable.
    Malformed {
        /// The file at fault (may be a key or referenced file, not `path`).
        path: PathBuf,
        /// What is wrong, in a few words.
        reason: String,
    },
    /// Parsed.
    Present(Box<Material>),
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
    /// For kubeconfigs: the current context's names and CA data.
    pub kubeconfig: Option<KubeconfigFacts>,
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
    /// There but unreadable or unparsable.
    Malformed {
        /// The key's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
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

/// Ownership and mode of a file, as `lstat` sees it.
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

/// Whether a symlink may stand where a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// kubeadm writes regular files here: a symlink is malformed.
    Refuse,
    /// The file was named by a kubeconfig (the kubelet's rotating cert): follow it.
    Follow,
}

impl Inventory {
    /// Scans a kubeadm host.
    pub fn scan(scope: &Scope) -> Self {
        let local_etcd = scope.cert_dir.join("etcd").is_dir();
        let credentials: Vec<Credential> = layout::CREDENTIALS
            .iter()
            .map(|spec| read_spec(scope, spec, local_etcd))
            .collect();
        let service_account = Some(read_service_account(&scope.cert_dir));
        let expected_owner = expected_owner(&scope.kubernetes_dir);
        let copies = find_copies(scope, &credentials);
        Self::assemble(Self {
            kubernetes_dir: scope.kubernetes_dir.clone(),
            cert_dir: scope.cert_dir.clone(),
            local_etcd,
            expected_owner,
            credentials,
            service_account,
            copies,
            index: HashMap::new(),
        })
    }

    /// Indexes the credentials by name and verifies each against its CA, on every core.
    fn assemble(mut self) -> Self {
        self.index = self
            .credentials
            .iter()
            .enumerate()
            .map(|(position, cred)| (cred.name.clone(), position))
            .collect();
        let chains = parallel(&self.credentials, |cred| {
            let cert = &cred.material()?.certificate;
            let ca = &self.material(cred.ca.as_deref()?)?.certificate;
            Some(cert.verify_signed_by(ca))
        });
        for (cred, chain) in self.credentials.iter_mut().zip(chains) {
            cred.chain = chain;
        }
        self
    }

    /// Reads the files and folders an operator named.
    pub fn scan_paths(paths: &[PathBuf]) -> Self {
        let mut files = Vec::new();
        for path in paths {
            collect_files(path, &mut files);
        }
        let mut credentials: Vec<Credential> = parallel(&files, |path| read_any(path))
            .into_iter()
            .flatten()
            .collect();
        resolve_issuers(&mut credentials);
        let expected_owner = paths.first().map_or(0, |path| expected_owner(path));
        Self::assemble(Self {
            kubernetes_dir: PathBuf::new(),
            cert_dir: PathBuf::new(),
            local_etcd: false,
            expected_owner,
            credentials,
            service_account: None,
            copies: Vec::new(),
            index: HashMap::new(),
        })
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

    /// The node name, from the kubelet's client certificate.
    pub fn node_name(&self) -> Option<String> {
        node_name(&self.credentials)
    }
}

impl Credential {
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

fn read_spec(scope: &Scope, spec: &'static Spec, local_etcd: bool) -> Credential {
    let expected = match spec.presence {
        Presence::Always => true,
        Presence::LocalEtcd => local_etcd,
        Presence::InitNodeOnly => false,
    };
    let (path, state) = match spec.kind {
        Kind::Kubeconfig => {
            let path = scope.kubernetes_dir.join(spec.file);
            let state = read_kubeconfig_credential(&path, expected);
            (path, state)
        }
        Kind::Ca | Kind::Leaf => {
            let base = scope.cert_dir.join(spec.file);
            let path = base.with_extension("crt");
            let state = read_pair(&path, &base.with_extension("key"), expected);
            (path, state)
        }
    };
    Credential {
        name: spec.name.to_owned(),
        kind: spec.kind,
        spec: Some(spec),
        path,
        ca: spec.ca.map(str::to_owned),
        state,
        chain: None,
    }
}

/// Reads `<name>.crt` and `<name>.key`.
fn read_pair(crt: &Path, key_path: &Path, expected: bool) -> State {
    let (bytes, file) = match read_file(crt, Links::Refuse) {
        Ok(Some(read)) => read,
        Ok(None) => return State::Absent { expected },
        Err(reason) => return malformed(crt, reason),
    };
    let certificate = match first_certificate(&bytes) {
        Ok(parsed) => parsed,
        Err(reason) => return malformed(crt, reason),
    };
    State::Present(Box::new(Material {
        certificate,
        origin: Origin::File(crt.to_path_buf()),
        file,
        key: read_key(key_path, Links::Refuse),
        kubeconfig: None,
    }))
}

fn read_key(path: &Path, links: Links) -> KeyState {
    match read_file(path, links) {
        Ok(None) => KeyState::Absent(path.to_path_buf()),
        Err(reason) => KeyState::Malformed {
            path: path.to_path_buf(),
            reason,
        },
        Ok(Some((bytes, file))) => {
            match pem::parse(&bytes).and_then(|blocks| key::from_blocks(&blocks)) {
                Ok(info) => KeyState::Present { info, file },
                Err(reason) => KeyState::Malformed {
                    path: path.to_path_buf(),
                    reason,
                },
            }
        }
    }
}

fn read_kubeconfig_credential(path: &Path, expected: bool) -> State {
    let (bytes, file) = match read_file(path, Links::Refuse) {
        Ok(Some(read)) => read,
        Ok(None) => return State::Absent { expected },
        Err(reason) => return malformed(path, reason),
    };
    match kubeconfig_material(path, &bytes, file) {
        Ok(material) => State::Present(Box::new(material)),
        Err((at, reason)) => malformed(&at, reason),
    }
}

/// The current user's certificate and key of a kubeconfig, wherever they live.
fn kubeconfig_material(
    path: &Path,
    bytes: &[u8],
    file: FileMeta,
) -> Result<Material, (PathBuf, String)> {
    let at_config = |reason: String| (path.to_path_buf(), reason);
    let config = Kubeconfig::parse(bytes).map_err(at_config)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let current = config.current_credentials(dir).map_err(at_config)?;
    let (certificate, origin) = match &current.certificate {
        None => {
            return Err(at_config(format!(
                "user `{}` has no client certificate",
                current.user
            )));
        }
        Some(Source::Embedded { pem, field, .. }) => {
            let cert = first_certificate(pem).map_err(|reason| {
                at_config(format!("`{field}` of `{}`: {reason}", current.user))
            })?;
            (
                cert,
                Origin::Embedded {
                    user: current.user.clone(),
                    field,
                },
            )
        }
        Some(Source::File(cert_path)) => {
            let (pem, _) = read_file(cert_path, Links::Follow)
                .and_then(|read| read.ok_or_else(|| "client certificate file is absent".to_owned()))
                .map_err(|reason| (cert_path.clone(), reason))?;
            let cert = first_certificate(&pem).map_err(|reason| (cert_path.clone(), reason))?;
            (cert, Origin::File(cert_path.clone()))
        }
    };
    let key = match &current.key {
        None => KeyState::Absent(path.to_path_buf()),
        Some(Source::Embedded { pem, field, .. }) => {
            match pem::parse(pem).and_then(|blocks| key::from_blocks(&blocks)) {
                Ok(info) => KeyState::Present {
                    info,
                    file: file.clone(),
                },
                Err(reason) => KeyState::Malformed {
                    path: path.to_path_buf(),
                    reason: format!("`{field}` of `{}`: {reason}", current.user),
                },
            }
        }
        Some(Source::File(key_path)) => read_key(key_path, Links::Follow),
    };
    let certificate_authority = current
        .certificate_authority
        .as_ref()
        .map(|source| match source {
            Source::Embedded { pem, .. } => first_certificate(pem),
            Source::File(ca_path) => read_file(ca_path, Links::Follow)
                .and_then(|read| read.ok_or_else(|| "file is absent".to_owned()))
                .and_then(|(pem, _)| first_certificate(&pem))
                .map_err(|reason| format!("{}: {reason}", ca_path.display())),
        });
    Ok(Material {
        certificate,
        origin,
        file,
        key,
        kubeconfig: Some(KubeconfigFacts {
            context: current.context,
            user: current.user,
            cluster: current.cluster,
            server: current.server,
            certificate_authority,
        }),
    })
}

fn read_service_account(cert_dir: &Path) -> ServiceAccount {
    let pub_path = cert_dir.join("sa.pub");
    let public = match read_file(&pub_path, Links::Refuse) {
        Ok(None) => FileRead::Absent(pub_path),
        Err(reason) => FileRead::Malformed {
            path: pub_path,
            reason,
        },
        Ok(Some((bytes, meta))) => match pem::parse(&bytes) {
            Ok(blocks) => match blocks.into_iter().find(|b| b.kind == BlockKind::PublicKey) {
                Some(block) => FileRead::Present((block.der, meta)),
                None => FileRead::Malformed {
                    path: pub_path,
                    reason: "no `PUBLIC KEY` block".into(),
                },
            },
            Err(reason) => FileRead::Malformed {
                path: pub_path,
                reason,
            },
        },
    };
    ServiceAccount {
        key: read_key(&cert_dir.join("sa.key"), Links::Refuse),
        public,
    }
}

/// Finds kubeconfigs outside the kubernetes dir holding an admin credential of this cluster.
fn find_copies(scope: &Scope, credentials: &[Credential]) -> Vec<Copy> {
    let ca = credentials
        .iter()
        .find(|cred| cred.name == "ca")
        .and_then(Credential::material)
        .map(|material| &material.certificate);
    let mut copies = Vec::new();
    let mut seen = Vec::new();
    for pattern in &scope.copies {
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for path in paths.flatten() {
            if path.starts_with(&scope.kubernetes_dir) || seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            copies.extend(read_copy(&path, ca));
        }
    }
    copies
}

/// The admin users of one kubeconfig; unreadable files are not ours to judge.
fn read_copy(path: &Path, ca: Option<&Certificate>) -> Vec<Copy> {
    let Ok(Some((bytes, file))) = read_file(path, Links::Follow) else {
        return Vec::new();
    };
    let Ok(config) = Kubeconfig::parse(&bytes) else {
        return Vec::new();
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut copies = Vec::new();
    for user in &config.users {
        let pem = if let Some(data) = user.user.client_certificate_data.as_deref() {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .ok()
        } else {
            user.user
                .client_certificate
                .as_deref()
                .and_then(|file| read_file(&dir.join(file), Links::Follow).ok().flatten())
                .map(|(bytes, _)| bytes)
        };
        let Some(certificate) = pem.and_then(|pem| first_certificate(&pem).ok()) else {
            continue;
        };
        let is_admin = certificate.groups.iter().any(|group| {
            group == layout::SYSTEM_MASTERS || group == layout::KUBEADM_CLUSTER_ADMINS
        });
        let of_this_cluster = ca.is_none_or(|ca| certificate.verify_signed_by(ca).is_ok());
        if is_admin && of_this_cluster {
            copies.push(Copy {
                file: file.clone(),
                user: user.name.clone(),
                certificate,
            });
        }
    }
    copies
}

/// Reads any credential file: a kubeconfig, or PEM certificates (with a sibling `.key`).
fn read_any(path: &Path) -> Vec<Credential> {
    let name = path.display().to_string();
    let adhoc = |kind, state| Credential {
        name: name.clone(),
        kind,
        spec: None,
        path: path.to_path_buf(),
        ca: None,
        state,
        chain: None,
    };
    let (bytes, file) = match read_file(path, Links::Follow) {
        Ok(Some(read)) => read,
        Ok(None) => return vec![adhoc(Kind::Leaf, malformed(path, "no such file".into()))],
        Err(reason) => return vec![adhoc(Kind::Leaf, malformed(path, reason))],
    };
    let pem_named = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| matches!(ext, "crt" | "pem" | "cer" | "key" | "pub"));
    if !pem_named && !looks_like_pem(&bytes) {
        let state = match kubeconfig_material(path, &bytes, file) {
            Ok(material) => State::Present(Box::new(material)),
            Err((at, reason)) => malformed(&at, reason),
        };
        return vec![adhoc(Kind::Kubeconfig, state)];
    }
    let blocks = match pem::parse(&bytes) {
        Ok(blocks) => blocks,
        Err(reason) => return vec![adhoc(Kind::Leaf, malformed(path, reason))],
    };
    let certs: Vec<_> = blocks
        .iter()
        .filter(|block| block.kind == BlockKind::Certificate)
        .collect();
    if certs.is_empty() {
        if path
            .extension()
            .is_some_and(|ext| ext == "crt" || ext == "cer" || ext == "pem")
        {
            return vec![adhoc(
                Kind::Leaf,
                malformed(path, "no certificate in the file".into()),
            )];
        }
        // A lone key or public key: read as part of its certificate's pair, if any.
        return Vec::new();
    }
    let key = if blocks
        .iter()
        .any(|block| block.kind != BlockKind::Certificate && block.kind != BlockKind::PublicKey)
    {
        read_key(path, Links::Follow)
    } else {
        let sibling = path.with_extension("key");
        if path.extension().is_some_and(|ext| ext == "crt") && sibling.exists() {
            read_key(&sibling, Links::Follow)
        } else {
            KeyState::Unknown
        }
    };
    let many = certs.len() > 1;
    certs
        .iter()
        .enumerate()
        .map(|(index, block)| {
            let name = if many {
                format!("{name}#{}", index + 1)
            } else {
                name.clone()
            };
            let state = match Certificate::from_der(&block.der) {
                Ok(certificate) => State::Present(Box::new(Material {
                    key: if index == 0 {
                        key.clone()
                    } else {
                        KeyState::Unknown
                    },
                    certificate,
                    origin: Origin::File(path.to_path_buf()),
                    file: file.clone(),
                    kubeconfig: None,
                })),
                Err(reason) => malformed(path, reason),
            };
            let kind = match &state {
                State::Present(material) if material.certificate.is_ca => Kind::Ca,
                _ => Kind::Leaf,
            };
            Credential {
                name,
                kind,
                spec: None,
                path: path.to_path_buf(),
                ca: None,
                state,
                chain: None,
            }
        })
        .collect()
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes
        .windows(11)
        .take(4096)
        .any(|window| window == b"-----BEGIN ")
}

/// For ad-hoc certificates: the CA among the inputs whose subject is the issuer.
fn resolve_issuers(credentials: &mut [Credential]) {
    let cas: std::collections::HashMap<String, String> = credentials
        .iter()
        .filter_map(|cred| {
            let material = cred.material()?;
            material
                .certificate
                .is_ca
                .then(|| (material.certificate.subject.clone(), cred.name.clone()))
        })
        .collect();
    for cred in credentials.iter_mut() {
        let Some(material) = cred.material() else {
            continue;
        };
        let cert = &material.certificate;
        let self_signed = cert.is_ca && cert.issuer == cert.subject;
        if !self_signed {
            cred.ca = cas.get(&cert.issuer).cloned();
        }
    }
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        out.push(path.to_path_buf());
        return;
    };
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = fs::read_dir(path) else {
        out.push(path.to_path_buf());
        return;
    };
    let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    children.sort();
    for child in children {
        let skipped = child
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| layout::SKIPPED_DIRS.contains(&name));
        let is_dir = fs::symlink_metadata(&child).is_ok_and(|meta| meta.is_dir());
        if is_dir && skipped {
            continue;
        }
        if is_dir {
            collect_files(&child, out);
        } else if !child
            .extension()
            .is_some_and(|ext| ext == "key" || ext == "pub")
        {
            out.push(child);
        }
    }
}

fn expected_owner(dir: &Path) -> u32 {
    fs::metadata(dir).map_or(0, |meta| meta.uid())
}

fn first_certificate(pem_bytes: &[u8]) -> Result<Certificate, String> {
    let blocks = pem::parse(pem_bytes)?;
    let block = blocks
        .iter()
        .find(|block| block.kind == BlockKind::Certificate)
        .ok_or("no certificate in the file")?;
    Certificate::from_der(&block.der)
}

fn malformed(path: &Path, reason: String) -> State {
    State::Malformed {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads a credential file with the checks an operator would want named:
/// absent is `Ok(None)`; a folder, a device, a refused symlink, a dangling one
/// or an oversized file is an error saying which.
pub fn read_file(path: &Path, links: Links) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
    let lmeta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read ({})", io_reason(&err))),
    };
    let mut symlink_target = None;
    let meta = if lmeta.file_type().is_symlink() {
        let target = fs::read_link(path).unwrap_or_default();
        if links == Links::Refuse {
            return Err(format!(
                "is a symbolic link to {}; kubeadm writes a regular file here",
                target.display()
            ));
        }
        let meta = fs::metadata(path)
            .map_err(|_| format!("dangling symbolic link to {}", target.display()))?;
        symlink_target = Some(target);
        meta
    } else {
        lmeta
    };
    if meta.is_dir() {
        return Err("is a directory, expected a file".into());
    }
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "too large ({} bytes; a credential file is at most {} bytes)",
            meta.len(),
            MAX_FILE_BYTES
        ));
    }
    let file = File::open(path).map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    let opened = file
        .metadata()
        .map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    if opened.ino() != meta.ino() || opened.dev() != meta.dev() {
        return Err("changed while being read".into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    Ok(Some((
        bytes,
        FileMeta {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            symlink_target,
        },
    )))
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// Maps `items` on every core, keeping their order.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if items.len() < 64 || threads < 2 {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            // A worker's panic is a bug: re-raise it rather than lose its share silently.
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}
