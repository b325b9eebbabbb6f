//! Stale copies: kubeconfigs outside the kubernetes dir whose users hold a
//! cluster admin certificate of this cluster.

use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::cert::Certificate;
use crate::inventory::{Copy, Credential, Links, Scope, first_certificate, read_file};
use crate::kubeconfig::Kubeconfig;
use crate::layout;

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
                Ok(found) => copies.extend(found),
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

/// The admin users of one kubeconfig. Files that are no kubeconfig are not
/// ours to judge: one refused unread (a device, a FIFO, ...) is an error saying why.
fn read_copy(path: &Path, ca: Option<&Certificate>) -> Result<Vec<Copy>, String> {
    let Some((bytes, file)) = read_file(path, Links::Follow)? else {
        return Ok(Vec::new());
    };
    let Ok(config) = Kubeconfig::parse(&bytes) else {
        return Ok(Vec::new());
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
        let of_this_cluster = ca.is_none_or(|ca| {
            matches!(
                certificate.verify_signed_by(ca),
                Ok(()) | Err(crate::cert::ChainError::UnsupportedAlgorithm)
            )
        });
        if is_admin && of_this_cluster {
            copies.push(Copy {
                file: file.clone(),
                user: user.name.clone(),
                certificate,
            });
        }
    }
    Ok(copies)
}
