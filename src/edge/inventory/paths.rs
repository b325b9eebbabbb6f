//! `inspect PATH...`: any files and folders an operator names, read by
//! content, with each certificate's CA found among them by subject.

use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::domain::cert::Certificate;
use crate::domain::key;
use crate::domain::layout::{self, Kind};
use crate::domain::model::{Credential, KeyInCertificate, KeyState, Material, Origin, State};
use crate::domain::pem::{self, BlockKind};
use crate::edge::inventory::file::{read_listed, real_filesystem};
use crate::edge::inventory::{Links, kubeconfig_material, malformed, read_file, read_key};

/// A file to read: named by the operator, or found in a folder's listing.
#[derive(Debug)]
pub(super) struct Listed {
    /// The file.
    pub(super) path: PathBuf,
    /// Its folder's device, when the listing said it is a regular file in a
    /// folder on a real filesystem (read with one `open`; see `read_listed`).
    regular_on: Option<u64>,
    /// For a `.crt` from a listing, what the listing said of its `.key`.
    sibling: Sibling,
}

/// A certificate's `.key`, as its folder's listing shows it.
#[derive(Clone, Copy, Debug)]
enum Sibling {
    /// Not listed: no key is looked for.
    Absent,
    /// Listed as a regular file in a folder on this device.
    Regular(u64),
    /// Not from a listing, or listed as something else (a symlink, ...): looked at by path.
    Unlisted,
}

/// Reads any credential file: a kubeconfig, or PEM certificates (with a sibling `.key`).
pub(super) fn read_any(listed: &Listed) -> Vec<Credential> {
    read_any_with(listed, true)
}

/// [`read_any`]; without `keys`, a PEM file's keys are neither read nor
/// judged (each certificate's key is `Unknown`): enough to know the CAs.
pub(super) fn read_any_with(listed: &Listed, keys: bool) -> Vec<Credential> {
    let path = listed.path.as_path();
    let name = crate::domain::exact::escaped(path);
    let adhoc = |kind, state| Credential::adhoc(name.clone(), path, kind, state);
    let read = match listed.regular_on {
        Some(dev) => read_listed(path, dev),
        None => read_file(path, Links::Follow),
    };
    let (bytes, file) = match read {
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
    let key = if !keys {
        KeyState::Unknown
    } else if blocks
        .iter()
        .any(|block| block.kind != BlockKind::Certificate && block.kind != BlockKind::PublicKey)
    {
        // The key is in the bytes just read: judged from them, not read again.
        match key::from_blocks(&blocks) {
            Ok(info) => KeyState::Present {
                info,
                file: file.clone(),
            },
            Err(reason) => KeyState::Malformed {
                path: path.to_path_buf(),
                reason,
            },
        }
    } else if path.extension().is_some_and(|ext| ext == "crt") {
        sibling_key(&path.with_extension("key"), listed.sibling)
    } else {
        KeyState::Unknown
    };
    // A `.crt` is a certificate file, whatever else it holds: a key in it is exposed.
    let keys_in_certificates: Vec<KeyInCertificate> = (keys
        && path.extension().is_some_and(|ext| ext == "crt")
        && blocks.iter().any(|block| block.kind.is_private_key()))
    .then(|| KeyInCertificate {
        file: file.clone(),
        field: None,
    })
    .into_iter()
    .collect();
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
                    keys_in_certificates: keys_in_certificates.clone(),
                })),
                Err(reason) => malformed(path, reason),
            };
            let kind = match &state {
                State::Present(material) if material.certificate.is_ca => Kind::Ca,
                _ => Kind::Leaf,
            };
            Credential::adhoc(name, path, kind, state)
        })
        .collect()
}

/// A certificate's `.key`, read as its folder listed it.
fn sibling_key(path: &Path, sibling: Sibling) -> KeyState {
    match sibling {
        Sibling::Absent => KeyState::Unknown,
        Sibling::Unlisted if !path.exists() => KeyState::Unknown,
        Sibling::Unlisted => read_key(path, Links::Follow),
        Sibling::Regular(dev) => match read_listed(path, dev) {
            // Gone since it was listed: as if it had not been there.
            Ok(None) => KeyState::Unknown,
            Err(reason) if super::file::denied(&reason) => KeyState::Unreadable(path.to_path_buf()),
            Err(reason) => KeyState::Malformed {
                path: path.to_path_buf(),
                reason,
            },
            Ok(Some((bytes, file))) => super::key_state(path, &bytes, file),
        },
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes
        .windows(11)
        .take(4096)
        .any(|window| window == b"-----BEGIN ")
}

/// For ad-hoc certificates: the CA among the inputs whose subject is the issuer.
pub(super) fn resolve_issuers(credentials: &mut [Credential]) {
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

/// The files to read under `path`, in order: `path` itself if it is no
/// folder, else every file below it (by name, folder by folder) but keys and
/// public keys, which are read with their certificates.
pub(super) fn collect_files(path: &Path, out: &mut Vec<Listed>) {
    let named = |path: &Path| Listed {
        path: path.to_path_buf(),
        regular_on: None,
        sibling: Sibling::Unlisted,
    };
    let Ok(meta) = fs::symlink_metadata(path) else {
        out.push(named(path));
        return;
    };
    if !meta.is_dir() {
        out.push(named(path));
        return;
    }
    let Ok(entries) = fs::read_dir(path) else {
        out.push(named(path));
        return;
    };
    // Files of a folder on procfs or sysfs are read the careful way, which refuses them by name.
    let dev = real_filesystem(path).then(|| std::os::unix::fs::MetadataExt::dev(&meta));
    // The listing's own types (`d_type`): no `stat` per entry.
    let mut children: Vec<(PathBuf, Option<fs::FileType>)> = entries
        .flatten()
        .map(|entry| (entry.path(), entry.file_type().ok()))
        .collect();
    // Siblings: their paths order as their names' bytes (no component-wise compare).
    children.sort_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    let keys: std::collections::HashMap<&Path, Option<fs::FileType>> = children
        .iter()
        .filter(|(child, _)| child.extension().is_some_and(|ext| ext == "key"))
        .map(|(child, kind)| (child.as_path(), *kind))
        .collect();
    for (child, kind) in &children {
        let skipped = child
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| layout::SKIPPED_DIRS.contains(&name));
        let is_dir = kind.is_some_and(|kind| kind.is_dir());
        if is_dir && skipped {
            continue;
        }
        if is_dir {
            collect_files(child, out);
        } else if !child
            .extension()
            .is_some_and(|ext| ext == "key" || ext == "pub")
        {
            let regular = |kind: &Option<fs::FileType>| kind.is_some_and(|kind| kind.is_file());
            let sibling = match (dev, keys.get(child.with_extension("key").as_path())) {
                (_, None) => Sibling::Absent,
                (Some(dev), Some(kind)) if regular(kind) => Sibling::Regular(dev),
                _ => Sibling::Unlisted,
            };
            out.push(Listed {
                path: child.clone(),
                regular_on: dev.filter(|_| regular(kind)),
                sibling,
            });
        }
    }
}
