//! Backup sets on disk as the renderers show them: the manifest's fields,
//! copied into plain values.

use crate::edge::apply::backup::{Backup, Unreadable};
use crate::ui::render::plan::{BackupFile, BackupSet, UnreadableSet};

impl From<&Backup> for BackupSet {
    fn from(backup: &Backup) -> Self {
        let manifest = &backup.manifest;
        Self {
            id: manifest.id.clone(),
            created_at: manifest.created_at.clone(),
            operation: manifest.operation.clone(),
            dir: backup.dir.clone(),
            files: manifest
                .files
                .iter()
                .map(|entry| BackupFile {
                    path: entry.path.clone(),
                    existed: entry.existed,
                    mode: entry.mode,
                    uid: entry.uid,
                    gid: entry.gid,
                    sha256: entry.sha256.clone(),
                })
                .collect(),
        }
    }
}

impl From<&Unreadable> for UnreadableSet {
    fn from(set: &Unreadable) -> Self {
        Self {
            dir: set.dir.clone(),
            reason: set.reason.clone(),
        }
    }
}
