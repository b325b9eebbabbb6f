//! The host scan: reads every kubeadm credential (and stale admin copies) into
//! plain values. This is the only module that reads credential files; it never
//! writes, and it keeps no private key material, only each key's public half.

mod copies;
mod file;
mod paths;
pub mod presence;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

pub use file::{Links, Opened, escaped, open_regular, read_file, read_opened};

use copies::find_copies;
use paths::{collect_files, read_any, resolve_issuers};

use crate::domain::cert::{Certificate, ChainError};
use crate::domain::key::{self, KeyInfo};
use crate::domain::kubeconfig::{Kubeconfig, Source};
use crate::domain::layout::{self, Kind, Presence, Spec};
use crate::domain::pem::{self, BlockKind};

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

impl Inventory {
    /// Scans a kubeadm host.
    pub fn scan(scope: &Scope) -> Self {
        let local_etcd = scope.cert_dir.join("etcd").is_dir();
        let credentials: Vec<Credential> = layout::CREDENTIALS
            .iter()
            .map(|spec| read_spec(scope, spec, local_etcd))
            .collect();
        let service_account = Some(read_service_account(&scope.cert_dir));
        let (copies, skipped_copies) = find_copies(scope, &credentials);
        Self::assemble(Self {
            kubernetes_dir: scope.kubernetes_dir.clone(),
            cert_dir: scope.cert_dir.clone(),
            local_etcd,
            expected_owner: scope.expected_owner,
            folders: folders(scope),
            credentials,
            service_account,
            copies,
            skipped_copies,
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

    /// Reads the files and folders an operator named; their keys must belong to `expected_owner`.
    pub fn scan_paths(paths: &[PathBuf], expected_owner: u32) -> Self {
        let mut files = Vec::new();
        for path in paths {
            collect_files(path, &mut files);
        }
        let mut credentials: Vec<Credential> = parallel(&files, |path| read_any(path))
            .into_iter()
            .flatten()
            .collect();
        resolve_issuers(&mut credentials);
        Self::assemble(Self {
            kubernetes_dir: PathBuf::new(),
            cert_dir: PathBuf::new(),
            local_etcd: false,
            expected_owner,
            folders: Vec::new(),
            credentials,
            service_account: None,
            copies: Vec::new(),
            skipped_copies: Vec::new(),
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
    /// A credential that is no kubeadm name: a file an operator named.
    fn adhoc(name: String, path: &Path, kind: Kind, state: State) -> Self {
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
    let (certificate, holds_key) = match certificate_and_key_block(&bytes) {
        Ok(parsed) => parsed,
        Err(reason) => return malformed(crt, reason),
    };
    let keys_in_certificates = holds_key
        .then(|| KeyInCertificate {
            file: file.clone(),
            field: None,
        })
        .into_iter()
        .collect();
    State::Present(Box::new(Material {
        certificate,
        origin: Origin::File(crt.to_path_buf()),
        file,
        key: read_key(key_path, Links::Refuse),
        kubeconfig: None,
        keys_in_certificates,
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
    let mut keys_in_certificates = Vec::new();
    let (certificate, origin) = match &current.certificate {
        None => {
            return Err(at_config(format!(
                "user `{}` has no client certificate",
                current.user
            )));
        }
        Some(Source::Embedded { pem, field, .. }) => {
            let (cert, holds_key) = certificate_and_key_block(pem).map_err(|reason| {
                at_config(format!("`{field}` of `{}`: {reason}", current.user))
            })?;
            if holds_key {
                keys_in_certificates.push(KeyInCertificate {
                    file: file.clone(),
                    field: Some(format!("`{field}` of `{}`", current.user)),
                });
            }
            (
                cert,
                Origin::Embedded {
                    user: current.user.clone(),
                    field,
                },
            )
        }
        Some(Source::File(cert_path)) => {
            let (pem, cert_file) = read_file(cert_path, Links::Follow)
                .and_then(|read| read.ok_or_else(|| "client certificate file is absent".to_owned()))
                .map_err(|reason| (cert_path.clone(), reason))?;
            let (cert, holds_key) =
                certificate_and_key_block(&pem).map_err(|reason| (cert_path.clone(), reason))?;
            // One file named as both certificate and key (the kubelet's rotated
            // `kubelet-client-current.pem`) is a key file, judged as one.
            let is_key_file =
                matches!(&current.key, Some(Source::File(key_path)) if key_path == cert_path);
            if holds_key && !is_key_file {
                keys_in_certificates.push(KeyInCertificate {
                    file: cert_file,
                    field: None,
                });
            }
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
            Source::Embedded { pem, field, owner } => {
                let (cert, holds_key) = certificate_and_key_block(pem)?;
                if holds_key {
                    keys_in_certificates.push(KeyInCertificate {
                        file: file.clone(),
                        field: Some(format!("`{field}` of `{owner}`")),
                    });
                }
                Ok(cert)
            }
            Source::File(ca_path) => read_file(ca_path, Links::Follow)
                .and_then(|read| read.ok_or_else(|| "file is absent".to_owned()))
                .and_then(|(pem, ca_file)| {
                    let (cert, holds_key) = certificate_and_key_block(&pem)?;
                    if holds_key {
                        keys_in_certificates.push(KeyInCertificate {
                            file: ca_file,
                            field: None,
                        });
                    }
                    Ok(cert)
                })
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
        keys_in_certificates,
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

/// The kubernetes dir, the cert dir and `pki/etcd`, each once, as `stat` sees them.
fn folders(scope: &Scope) -> Vec<FileMeta> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in [
        scope.kubernetes_dir.clone(),
        scope.cert_dir.clone(),
        scope.cert_dir.join("etcd"),
    ] {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.into_iter()
        .filter_map(|dir| {
            let meta = fs::metadata(&dir).ok().filter(fs::Metadata::is_dir)?;
            Some(FileMeta {
                symlink_target: fs::read_link(&dir).ok(),
                path: dir,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            })
        })
        .collect()
}

fn first_certificate(pem_bytes: &[u8]) -> Result<Certificate, String> {
    certificate_and_key_block(pem_bytes).map(|(certificate, _)| certificate)
}

/// The first certificate of PEM text, and whether the text also holds a private key block.
fn certificate_and_key_block(pem_bytes: &[u8]) -> Result<(Certificate, bool), String> {
    let blocks = pem::parse(pem_bytes)?;
    let block = blocks
        .iter()
        .find(|block| block.kind == BlockKind::Certificate)
        .ok_or("no certificate in the file")?;
    let holds_key = blocks.iter().any(|block| block.kind.is_private_key());
    Certificate::from_der(&block.der).map(|certificate| (certificate, holds_key))
}

fn malformed(path: &Path, reason: String) -> State {
    State::Malformed {
        path: path.to_path_buf(),
        reason,
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
