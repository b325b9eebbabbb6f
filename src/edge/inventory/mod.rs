//! The host scan: reads every kubeadm credential (and stale admin copies) into
//! plain values. This is the only module that reads credential files; it never
//! writes, and it keeps no private key material, only each key's public half.

mod copies;
mod file;
mod manifests;
mod paths;
pub mod presence;
mod source;
mod stream;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

pub use file::{Links, Opened, found, open_regular, read_file, read_opened};
pub use source::Host;
pub use stream::Stream;

use copies::find_copies;
use paths::{collect_files, read_any, resolve_issuers};

use crate::domain::cert::{Certificate, IssuerKey, SignatureAlgorithm};
use crate::domain::key;
use crate::domain::kubeconfig::{Kubeconfig, Source};
use crate::domain::layout::{self, Kind, Presence, Spec};
use crate::domain::model::{
    Credential, FileMeta, FileRead, Inventory, KeyInCertificate, KeyState, KubeconfigFacts,
    Material, Origin, Scope, ServiceAccount, State,
};
use crate::domain::pem::{self, BlockKind};

/// The effective uid files are read as (what permission checks judge).
pub fn reader_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The largest credential file kubecred reads; kubeadm's are a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

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
        let static_pods = manifests::read_static_pods(&scope.kubernetes_dir);
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
            static_pods,
            reader_uid: reader_uid(),
            index: HashMap::new(),
        })
    }

    /// Indexes the credentials by name and verifies each against its CA, on
    /// every core; each CA's key is parsed once for all it signed.
    fn assemble(mut self) -> Self {
        self = self.indexed();
        let chains = {
            let keys = self.issuer_keys();
            parallel(&self.credentials, |cred| {
                let cert = &cred.material()?.certificate;
                let name = cred.ca.as_deref()?;
                let ca = &self.material(name)?.certificate;
                let key = keys.get(&(name, cert.signature_algorithm()))?;
                Some(cert.verify_with(ca, key))
            })
        };
        for (cred, chain) in self.credentials.iter_mut().zip(chains) {
            cred.chain = chain;
        }
        self
    }

    /// Each CA's public key, parsed once per signature algorithm its certificates use.
    fn issuer_keys(&self) -> HashMap<(&str, SignatureAlgorithm), IssuerKey> {
        let mut keys = HashMap::new();
        for cred in &self.credentials {
            let (Some(material), Some(name)) = (cred.material(), cred.ca.as_deref()) else {
                continue;
            };
            let algorithm = material.certificate.signature_algorithm();
            if keys.contains_key(&(name, algorithm)) {
                continue;
            }
            if let Some(ca) = self.material(name) {
                keys.insert((name, algorithm), ca.certificate.issuer_key(algorithm));
            }
        }
        keys
    }

    /// Reads the files and folders an operator named; their keys must belong to `expected_owner`.
    pub fn scan_paths(paths: &[PathBuf], expected_owner: u32) -> Self {
        let mut files = Vec::new();
        for path in paths {
            collect_files(path, &mut files);
        }
        let mut credentials: Vec<Credential> =
            parallel(&files, read_any).into_iter().flatten().collect();
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
            static_pods: Vec::new(),
            reader_uid: reader_uid(),
            index: HashMap::new(),
        })
    }
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
        Err(reason) if file::denied(&reason) => {
            // Its key is most likely out of reach too: name it with the certificate.
            let also = match read_key(key_path, Links::Refuse) {
                KeyState::Unreadable(key) => vec![key],
                _ => Vec::new(),
            };
            return State::Unreadable {
                path: crt.to_path_buf(),
                also,
            };
        }
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
        Err(reason) if file::denied(&reason) => KeyState::Unreadable(path.to_path_buf()),
        Err(reason) => KeyState::Malformed {
            path: path.to_path_buf(),
            reason,
        },
        Ok(Some((bytes, file))) => key_state(path, &bytes, file),
    }
}

/// A key file's bytes, judged: its public half, or why it is malformed.
fn key_state(path: &Path, bytes: &[u8], file: FileMeta) -> KeyState {
    match pem::parse(bytes).and_then(|blocks| key::from_blocks(&blocks)) {
        Ok(info) => KeyState::Present { info, file },
        Err(reason) => KeyState::Malformed {
            path: path.to_path_buf(),
            reason,
        },
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
        kubeconfig: Some(Box::new(KubeconfigFacts {
            context: current.context,
            user: current.user,
            cluster: current.cluster,
            server: current.server,
            certificate_authority,
        })),
        keys_in_certificates,
    })
}

fn read_service_account(cert_dir: &Path) -> ServiceAccount {
    let pub_path = cert_dir.join("sa.pub");
    let public = match read_file(&pub_path, Links::Refuse) {
        Ok(None) => FileRead::Absent(pub_path),
        Err(reason) if file::denied(&reason) => FileRead::Unreadable(pub_path),
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
                sha256: None,
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

/// A file that cannot be used: unreadable when the running user may not read
/// it, malformed otherwise.
fn malformed(path: &Path, reason: String) -> State {
    if file::denied(&reason) {
        return State::Unreadable {
            path: path.to_path_buf(),
            also: Vec::new(),
        };
    }
    State::Malformed {
        path: path.to_path_buf(),
        reason,
    }
}

/// Maps `items` on every core, keeping their order. Workers take blocks of
/// items as they finish the last, so a core slowed by other work does not
/// hold the rest back.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const BLOCK: usize = 32;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if items.len() < 64 || threads < 2 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut blocks: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let (work, next) = (&work, &next);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let start = next.fetch_add(BLOCK, Ordering::Relaxed);
                        let end = start.saturating_add(BLOCK).min(items.len());
                        match items.get(start..end) {
                            Some(part) if !part.is_empty() => {
                                done.push((start, part.iter().map(work).collect::<Vec<R>>()));
                            }
                            _ => break done,
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            // A worker's panic is a bug: re-raise it rather than lose its share silently.
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    blocks.sort_unstable_by_key(|(start, _)| *start);
    blocks
        .into_iter()
        .flat_map(|(_, results)| results)
        .collect()
}
