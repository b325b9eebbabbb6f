//! Stale copies: kubeconfigs outside the kubernetes dir whose users hold a
//! cluster admin certificate of this cluster.

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
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for path in paths.flatten() {
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
        let of_this_cluster = ca.is_none_or(|ca| certificate.verify_signed_by(ca).is_ok());
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
