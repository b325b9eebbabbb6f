//! Reads kubeadm's static pod manifests, read-only, through the checked reader
//! (no symlink followed): each becomes a parsed [`Pod`] or the reason it is unusable.

use std::path::Path;

use crate::domain::manifest::{MANIFESTS_DIR, Pod, STATIC_PODS};
use crate::domain::model::{FileRead, StaticPod};
use crate::edge::inventory::{Links, read_file};

/// The four static pod manifests under `<kubernetes_dir>/manifests`.
pub(super) fn read_static_pods(kubernetes_dir: &Path) -> Vec<StaticPod> {
    STATIC_PODS
        .iter()
        .filter_map(|component| {
            let path = kubernetes_dir
                .join(MANIFESTS_DIR)
                .join(component.manifest_file()?);
            let state = match read_file(&path, Links::Refuse) {
                Ok(None) => FileRead::Absent(path.clone()),
                Err(reason) if super::file::denied(&reason) => FileRead::Unreadable(path.clone()),
                Err(reason) => FileRead::Malformed {
                    path: path.clone(),
                    reason,
                },
                Ok(Some((bytes, meta))) => match Pod::parse(&bytes, *component) {
                    Ok(pod) => FileRead::Present((pod, meta)),
                    Err(reason) => FileRead::Malformed {
                        path: path.clone(),
                        reason,
                    },
                },
            };
            Some(StaticPod {
                component: *component,
                path,
                state,
            })
        })
        .collect()
}
