//! Backup sets: copies of every file an operation replaces, with a manifest of
//! paths, modes, owners and SHA-256, in a 0700 folder under the state dir.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::apply::atomic::{self, Durability, Ownership, WriteError};
use crate::apply::hook::Hook;
use crate::cert::Fingerprint;
use crate::span;

/// A backup set's manifest (`manifest.json`): its wire format is stable.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 1.
    pub schema_version: u32,
    /// The set's id, also its folder name: `<UTC time>-<operation>`.
    pub id: String,
    /// The command that made it (`renew`, `migrate`, `rollback`).
    pub operation: String,
    /// When, RFC 3339.
    pub created_at: String,
    /// Every file the operation touches, as it was before.
    pub files: Vec<Entry>,
}

/// One file as it was before an operation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The file.
    pub path: PathBuf,
    /// Whether it existed (if not, restoring removes it).
    pub existed: bool,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// SHA-256 of its bytes (empty if it did not exist).
    pub sha256: String,
    /// Its copy's name inside the set's `files/` folder.
    pub stored: Option<String>,
}

/// A backup set on disk.
#[derive(Clone, Debug)]
pub struct Backup {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// The folder holding every backup set.
pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("backups")
}

impl Backup {
    /// Copies `paths` as they are now into a new set and fsyncs it.
    pub fn create(
        state_dir: &Path,
        operation: &str,
        paths: &[PathBuf],
        now: OffsetDateTime,
        hook: &dyn Hook,
    ) -> Result<Self, WriteError> {
        let stamp = now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let root = root(state_dir);
        mkdir_private(&root)?;
        let (id, dir) = (0..100)
            .map(|n| {
                if n == 0 {
                    format!("{stamp}-{operation}")
                } else {
                    format!("{stamp}-{operation}-{n}")
                }
            })
            .map(|id| (id.clone(), root.join(id)))
            .find(|(_, dir)| !dir.exists())
            .ok_or_else(|| WriteError {
                step: "create a backup in",
                path: root.clone(),
                source: io::Error::other("too many backups at the same second"),
            })?;
        mkdir_private(&dir)?;
        mkdir_private(&dir.join("files"))?;
        let mut files = Vec::new();
        for (n, path) in paths.iter().enumerate() {
            let entry = match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_file() => {
                    let bytes = fs::read(path).map_err(|source| WriteError {
                        step: "read",
                        path: path.clone(),
                        source,
                    })?;
                    let stored = format!("{:04}", n + 1);
                    atomic::replace(
                        &dir.join("files").join(&stored),
                        &bytes,
                        Ownership::Keep(0o600),
                        Durability::Deferred,
                        hook,
                    )?;
                    Entry {
                        path: path.clone(),
                        existed: true,
                        mode: meta.mode() & 0o7777,
                        uid: meta.uid(),
                        gid: meta.gid(),
                        sha256: Fingerprint::of(&bytes).to_string(),
                        stored: Some(stored),
                    }
                }
                Ok(_) => {
                    return Err(WriteError {
                        step: "back up",
                        path: path.clone(),
                        source: io::Error::other("not a regular file"),
                    });
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => Entry {
                    path: path.clone(),
                    existed: false,
                    mode: 0,
                    uid: 0,
                    gid: 0,
                    sha256: String::new(),
                    stored: None,
                },
                Err(source) => {
                    return Err(WriteError {
                        step: "back up",
                        path: path.clone(),
                        source,
                    });
                }
            };
            files.push(entry);
        }
        let manifest = Manifest {
            schema_version: 1,
            id,
            operation: operation.to_owned(),
            created_at: span::rfc3339(now),
            files,
        };
        // One folder fsync for every copy, before the manifest that lists them.
        atomic::sync_dir(&dir.join("files"), hook)?;
        let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        atomic::write_with(
            &dir.join("manifest.json"),
            text.as_bytes(),
            Ownership::Keep(0o600),
            hook,
        )?;
        atomic::sync_dir(&root, hook)?;
        Ok(Self { dir, manifest })
    }

    /// Loads a set by id.
    pub fn load(state_dir: &Path, id: &str) -> Result<Self, String> {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return Err(format!("`{id}` is not a backup id"));
        }
        let dir = root(state_dir).join(id);
        let text = fs::read_to_string(dir.join("manifest.json"))
            .map_err(|err| format!("no backup `{id}` ({err})"))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|err| format!("backup `{id}` has a bad manifest ({err})"))?;
        Ok(Self { dir, manifest })
    }

    /// Every set, oldest first; unreadable ones are skipped.
    pub fn list(state_dir: &Path) -> Vec<Self> {
        let Ok(entries) = fs::read_dir(root(state_dir)) else {
            return Vec::new();
        };
        let mut sets: Vec<Self> = entries
            .flatten()
            .filter_map(|entry| Self::load(state_dir, &entry.file_name().to_string_lossy()).ok())
            .collect();
        sets.sort_by(|a, b| {
            (&a.manifest.created_at, &a.manifest.id).cmp(&(&b.manifest.created_at, &b.manifest.id))
        });
        sets
    }

    /// Puts every file back as it was: bytes, mode and owner; removes files that did not exist.
    pub fn restore(&self, hook: &dyn Hook) -> Result<(), WriteError> {
        for entry in &self.manifest.files {
            match &entry.stored {
                Some(stored) if entry.existed => {
                    let copy = self.dir.join("files").join(stored);
                    let bytes = fs::read(&copy).map_err(|source| WriteError {
                        step: "read the backup",
                        path: copy.clone(),
                        source,
                    })?;
                    if Fingerprint::of(&bytes).to_string() != entry.sha256 {
                        return Err(WriteError {
                            step: "restore",
                            path: entry.path.clone(),
                            source: io::Error::other(format!(
                                "backup copy {} does not match its SHA-256",
                                copy.display()
                            )),
                        });
                    }
                    let ownership = Ownership::Exact {
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                    };
                    atomic::write_with(&entry.path, &bytes, ownership, hook)?;
                }
                _ => atomic::remove_with(&entry.path, hook)?,
            }
        }
        Ok(())
    }
}

fn mkdir_private(dir: &Path) -> Result<(), WriteError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| WriteError {
            step: "create",
            path: dir.to_path_buf(),
            source,
        })
}
