//! `inspect PATH...`: any files and folders an operator names, read by
//! content, with each certificate's CA found among them by subject.

use std::fs;
use std::path::{Path, PathBuf};

use crate::domain::cert::Certificate;
use crate::domain::layout::{self, Kind};
use crate::domain::model::{Credential, KeyInCertificate, KeyState, Material, Origin, State};
use crate::domain::pem::{self, BlockKind};
use crate::edge::inventory::{Links, kubeconfig_material, malformed, read_file, read_key};

/// Reads any credential file: a kubeconfig, or PEM certificates (with a sibling `.key`).
pub(super) fn read_any(path: &Path) -> Vec<Credential> {
    let name = crate::domain::exact::escaped(path);
    let adhoc = |kind, state| Credential::adhoc(name.clone(), path, kind, state);
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
    // A `.crt` is a certificate file, whatever else it holds: a key in it is exposed.
    let keys_in_certificates: Vec<KeyInCertificate> =
        (path.extension().is_some_and(|ext| ext == "crt")
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

pub(super) fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
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
