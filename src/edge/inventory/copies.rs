//! Stale copies: kubeconfigs outside the kubernetes dir whose users hold a
//! cluster admin certificate of this cluster.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::domain::cert::Certificate;
use crate::domain::kubeconfig::Kubeconfig;
use crate::domain::layout;
use crate::domain::model::{Copy, Credential, Scope};
use crate::edge::inventory::{Links, first_certificate, read_file};

/// Finds kubeconfigs outside the kubernetes dir holding an admin credential of
/// this cluster; also returns the matched files that were refused, and why.
pub(super) fn find_copies(
    scope: &Scope,
    credentials: &[Credential],
) -> (Vec<Copy>, Vec<(PathBuf, String)>) {
    let ca = credentials
        .iter()
        .find(|cred| cred.name == "ca")
        .and_then(Credential::material)
        .map(|material| &material.certificate);
    let mut copies = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = Vec::new();
    for pattern in &scope.copies {
        for path in expand(pattern) {
            if path.starts_with(&scope.kubernetes_dir) || seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            match read_copy(&path, ca) {
                Ok((found, cut)) => {
                    copies.extend(found);
                    if let Some(reason) = cut {
                        skipped.push((path, reason));
                    }
                }
                Err(reason) => skipped.push((path, reason)),
            }
        }
    }
    (copies, skipped)
}

/// How deep `**` looks, and how many folders it lists at most.
const MAX_DEPTH: usize = 16;
const MAX_FOLDERS: usize = 100_000;

/// The paths a glob pattern matches, sorted: `*`, `?` and `[...]` within a
/// name, `**` for any number of folders (not following symlinks, at most
/// `MAX_DEPTH` deep). Names that are not UTF-8 are kept, exact (a wildcard
/// matches them by their lossy form): `glob` alone would skip them, hiding a
/// copy under `/home/<such a name>/`.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let mut found = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for part in pattern.split('/').filter(|part| !part.is_empty()) {
        let mut next = Vec::new();
        if part == "**" {
            for dir in &found {
                subfolders(dir, 0, &mut next);
            }
        } else if part.contains(['*', '?', '[']) {
            let Ok(wildcard) = glob::Pattern::new(part) else {
                return Vec::new();
            };
            for dir in &found {
                let Ok(entries) = list(dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if wildcard.matches(&name.to_string_lossy()) {
                        next.push(dir.join(name));
                    }
                }
            }
        } else {
            next.extend(found.iter().map(|dir| dir.join(part)));
        }
        found = next;
    }
    found.retain(|path| !path.as_os_str().is_empty() && fs::symlink_metadata(path).is_ok());
    found.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    found
}

/// `dir` and every folder under it, not following symlinks, to `MAX_DEPTH`.
fn subfolders(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if out.len() >= MAX_FOLDERS {
        return;
    }
    out.push(dir.to_path_buf());
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = list(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            subfolders(&dir.join(entry.file_name()), depth + 1, out);
        }
    }
}

/// A folder's entries; the empty path is the current folder.
fn list(dir: &Path) -> std::io::Result<fs::ReadDir> {
    if dir.as_os_str().is_empty() {
        fs::read_dir(".")
    } else {
        fs::read_dir(dir)
    }
}

/// The most certificate files the users of one kubeconfig may name, and
/// about the most bytes read from them; past either, its other users are left
/// unchecked (a local user's kubeconfig must not slow the root check down).
const MAX_NAMED_FILES: usize = 100;
const MAX_NAMED_BYTES: usize = 8 * 1024 * 1024;

/// The admin users of one kubeconfig, and why it was read only in part, if it
/// was. Each file its users name is read once; a file, or a kubeconfig, that
/// is no credential is not ours to judge, but one refused unread (a device, a
/// FIFO, ...) is an error saying why.
fn read_copy(path: &Path, ca: Option<&Certificate>) -> Result<(Vec<Copy>, Option<String>), String> {
    let Some((bytes, file)) = read_file(path, Links::Follow)? else {
        return Ok((Vec::new(), None));
    };
    let Ok(config) = Kubeconfig::parse(&bytes) else {
        return Ok((Vec::new(), None));
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    // The certificate in `pem`, if it is an admin certificate of this cluster.
    let admin = |pem: &[u8]| {
        let certificate = first_certificate(pem).ok()?;
        let is_admin = certificate.groups.iter().any(|group| {
            group == layout::SYSTEM_MASTERS || group == layout::KUBEADM_CLUSTER_ADMINS
        });
        let of_this_cluster = ca.is_none_or(|ca| {
            matches!(
                certificate.verify_signed_by(ca),
                Ok(()) | Err(crate::domain::cert::ChainError::UnsupportedAlgorithm)
            )
        });
        (is_admin && of_this_cluster).then_some(certificate)
    };
    let mut named: HashMap<PathBuf, Option<Certificate>> = HashMap::new();
    let mut named_bytes = 0_usize;
    let mut copies = Vec::new();
    let total = config.users.len();
    for (index, user) in config.users.iter().enumerate() {
        let certificate = if let Some(data) = user.user.client_certificate_data.as_deref() {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .ok()
                .and_then(|pem| admin(&pem))
        } else if let Some(name) = user.user.client_certificate.as_deref() {
            let target = dir.join(name);
            if let Some(known) = named.get(&target) {
                known.clone()
            } else {
                let over = if named.len() >= MAX_NAMED_FILES {
                    Some(format!(
                        "its users name more than {MAX_NAMED_FILES} certificate files, the most read per kubeconfig"
                    ))
                } else if named_bytes >= MAX_NAMED_BYTES {
                    Some(format!(
                        "the certificate files its users name hold more than {} MiB, the most read per kubeconfig",
                        MAX_NAMED_BYTES / (1024 * 1024)
                    ))
                } else {
                    None
                };
                if let Some(why) = over {
                    let cut = format!(
                        "read in part: {why}; stopped before user {} of {total}, the rest were not checked",
                        index.saturating_add(1)
                    );
                    return Ok((copies, Some(cut)));
                }
                let pem = read_file(&target, Links::Follow)
                    .ok()
                    .flatten()
                    .map(|(bytes, _)| bytes);
                named_bytes = named_bytes.saturating_add(pem.as_ref().map_or(0, Vec::len));
                let judged = pem.and_then(|pem| admin(&pem));
                named.insert(target, judged.clone());
                judged
            }
        } else {
            None
        };
        if let Some(certificate) = certificate {
            copies.push(Copy {
                file: file.clone(),
                user: user.name.clone(),
                certificate,
            });
        }
    }
    Ok((copies, None))
}
