//! Backup sets: copies of every file an operation replaces, with a manifest of
//! paths, modes, owners and SHA-256, in a 0700 folder under the state dir.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::cert::Fingerprint;
use crate::domain::plan::{Expect, Ownership};
use crate::domain::span;
use crate::edge::apply::atomic::{self, Durability, WriteError};
use crate::edge::apply::hook::Hook;
use crate::edge::apply::kubectl;
use crate::edge::apply::state;
use crate::edge::inventory::{Links, MAX_FILE_BYTES, open_regular, read_opened};

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
    /// The kubernetes dir it was taken of (absent in sets older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_dir: Option<ExactPath>,
    /// Every file the operation touches, as it was before.
    pub files: Vec<Entry>,
}

/// A path written exactly (a string, or its bytes where it is not UTF-8).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ExactPath(#[serde(with = "crate::domain::exact::path_serde")] pub PathBuf);

/// Where a backup may put files back: inside these folders, or at a path one
/// of the copy globs matches. A manifest naming any other path, a mode with
/// setuid, setgid or sticky bits, or a copy name that is not its own, is refused.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// The kubernetes dir and the certificate dir.
    pub folders: Vec<PathBuf>,
    /// The globs of the admin credential's copies.
    pub copies: Vec<String>,
    /// Single files kubecred itself keeps beside its backups (an offline
    /// migration's binding manifest and its mark).
    pub files: Vec<PathBuf>,
}

impl Bounds {
    /// Whether a backup may write `path`: inside the folders; or an admin
    /// copy (a copy glob's match, or a `.kube/config`) reached through real
    /// folders only, so a user's symlinked `~/.kube` cannot send a write elsewhere.
    pub fn allows(&self, path: &Path) -> bool {
        use std::path::Component;
        if !path.is_absolute()
            || path
                .components()
                .any(|part| matches!(part, Component::ParentDir | Component::CurDir))
        {
            return false;
        }
        let inside = self.folders.iter().any(|folder| {
            path.starts_with(folder)
                || fs::canonicalize(folder).is_ok_and(|canonical| path.starts_with(canonical))
        });
        if inside || self.files.iter().any(|file| file == path) {
            return true;
        }
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let copy = is_kube_config(path)
            || self.copies.iter().any(|copy| {
                // As the copies were found: a wildcard matches a name that is not UTF-8 by its lossy form.
                glob::Pattern::new(copy)
                    .is_ok_and(|glob| glob.matches_with(&path.to_string_lossy(), options))
            });
        copy && through_real_folders(path)
    }

    /// Refuses a manifest that names a path outside these bounds, a mode
    /// with special bits, or a copy that is not a plain name in its set.
    pub fn check(&self, manifest: &Manifest) -> Result<(), String> {
        for entry in &manifest.files {
            let path = crate::domain::exact::escaped(&entry.path);
            if !self.allows(&entry.path) {
                return Err(format!(
                    "names {path}, which is outside the kubernetes dir and the admin copies"
                ));
            }
            if entry.mode & !0o777 != 0 {
                return Err(format!(
                    "gives {path} mode {:o}, with setuid, setgid or sticky bits",
                    entry.mode
                ));
            }
            if let Some(stored) = &entry.stored
                && (stored.is_empty() || !stored.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!("stores {path} under a name that is not its own"));
            }
        }
        Ok(())
    }
}

/// Why a backup was not made; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A file could not be read, or the set not written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A file is not what the plan was made from.
    #[error("{} changed since the plan was made", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// What the plan expected.
        planned: Expect,
        /// What is there.
        found: Expect,
    },
}

/// Refuses a file that is not what the plan expects.
fn changed(path: &Path, planned: Expect, found: Expect) -> Result<(), CreateError> {
    if planned == found {
        Ok(())
    } else {
        Err(CreateError::Changed {
            path: path.to_path_buf(),
            planned,
            found,
        })
    }
}

/// One file as it was before an operation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The file, exact: a string, or its bytes where it is not UTF-8.
    #[serde(with = "crate::domain::exact::path_serde")]
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
    /// Whether it is a kubeconfig (restored under kubectl's `<file>.lock`).
    #[serde(default)]
    pub kubeconfig: bool,
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

/// A set in the backups folder that cannot be read, and why.
#[derive(Clone, Debug)]
pub struct Unreadable {
    /// Its folder.
    pub dir: PathBuf,
    /// What is wrong with it, in a few words.
    pub reason: String,
}

/// What `load_dir` says of a set whose manifest was never written.
const NO_MANIFEST: &str = "has no manifest.json";

/// Whether `id` can name a set: `<UTC time>-<operation>[-n]`, nothing else.
pub fn is_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let operation = bytes.get(17..).unwrap_or_default();
    id.len() <= 100
        && digits(0..8)
        && bytes.get(8) == Some(&b'T')
        && digits(9..15)
        && bytes.get(15..17) == Some(b"Z-")
        && !operation.is_empty()
        && operation
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Whether `path` is a user's kubeconfig, `<home>/.kube/config`.
fn is_kube_config(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "config")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|name| name == ".kube")
}

/// Whether every folder on the way to `path` is a real folder, not a symlink.
pub fn through_real_folders(path: &Path) -> bool {
    path.parent()
        .is_some_and(|parent| fs::canonicalize(parent).is_ok_and(|real| real == parent))
}

/// Whether `path` is named as kubeconfigs are (`*.conf`, `config`).
pub fn is_kubeconfig_name(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "conf")
        || path.file_name().is_some_and(|name| name == "config")
}

/// Whether the file at `entry.path` already is what a restore would make it.
pub fn is_as_it_was(entry: &Entry, wanted: Option<&[u8]>) -> bool {
    match (
        open_regular(&entry.path, Links::Refuse, MAX_FILE_BYTES),
        wanted,
    ) {
        (Ok(None), None) => true,
        (Ok(Some(opened)), Some(bytes)) => {
            let same_meta = opened.meta.mode() & 0o7777 == entry.mode
                && opened.meta.uid() == entry.uid
                && opened.meta.gid() == entry.gid;
            same_meta
                && read_opened(opened.file, MAX_FILE_BYTES).is_ok_and(|current| current == bytes)
        }
        _ => false,
    }
}

/// Removes what interrupted runs left in the state dir: backup sets whose
/// manifest was never written and temporary journals. Call under the lock.
pub fn sweep(state_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if let Ok(entries) = fs::read_dir(state_dir) {
        for entry in entries.flatten() {
            if state::is_debris(&entry.file_name())
                && entry.file_type().is_ok_and(|kind| kind.is_file())
                && fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(root(state_dir)) {
        for entry in entries.flatten() {
            let dir = entry.path();
            let is_set = entry.file_type().is_ok_and(|kind| kind.is_dir())
                && is_id(&entry.file_name().to_string_lossy());
            let incomplete = matches!(
                fs::symlink_metadata(dir.join("manifest.json")),
                Err(err) if err.kind() == io::ErrorKind::NotFound
            );
            if is_set && incomplete && fs::remove_dir_all(&dir).is_ok() {
                removed.push(dir);
            }
        }
    }
    removed
}

/// The largest manifest read back; one lists a few dozen files.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

impl Backup {
    /// Copies `files` as they are now into a new set and fsyncs it. Every file
    /// is read, compared with what the plan expects of it, and the manifest
    /// serialized before anything is written, so a file that changed since
    /// the plan, a file that cannot be backed up, or a manifest that cannot be
    /// serialized writes nothing; a set whose writing fails is removed again.
    pub fn create(
        state_dir: &Path,
        kubernetes_dir: &Path,
        operation: &str,
        files: &[(PathBuf, Expect)],
        now: OffsetDateTime,
        hook: &dyn Hook,
    ) -> Result<Self, CreateError> {
        let stamp = now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let root = root(state_dir);
        let (id, dir) = (0..100)
            .map(|n| {
                if n == 0 {
                    format!("{stamp}-{operation}")
                } else {
                    format!("{stamp}-{operation}-{n}")
                }
            })
            .map(|id| (id.clone(), root.join(id)))
            .find(|(_, dir)| fs::symlink_metadata(dir).is_err())
            .ok_or_else(|| WriteError {
                step: "create a backup in",
                path: root.clone(),
                source: io::Error::other("too many backups at the same second"),
            })?;
        let mut entries = Vec::new();
        let mut copies = Vec::new();
        for (n, (path, planned)) in files.iter().enumerate() {
            let refused = |reason: String| WriteError {
                step: "back up",
                path: path.clone(),
                source: io::Error::other(reason),
            };
            // Outside the tree (a user's copy), a symlinked folder on the way would
            // redirect the read: only real folders lead there.
            let in_tree = path.starts_with(kubernetes_dir)
                || fs::canonicalize(kubernetes_dir).is_ok_and(|real| path.starts_with(real));
            if !in_tree && !through_real_folders(path) {
                return Err(refused(
                    "a folder on the way is a symbolic link; refusing to read through it".into(),
                )
                .into());
            }
            let opened = open_regular(path, Links::Refuse, MAX_FILE_BYTES).map_err(refused)?;
            let entry = if let Some(opened) = opened {
                let bytes = read_opened(opened.file, MAX_FILE_BYTES).map_err(refused)?;
                changed(path, *planned, Expect::of(Some(&bytes)))?;
                let stored = format!("{:04}", n + 1);
                let entry = Entry {
                    path: path.clone(),
                    existed: true,
                    mode: opened.meta.mode() & 0o7777,
                    uid: opened.meta.uid(),
                    gid: opened.meta.gid(),
                    sha256: Fingerprint::of(&bytes).to_string(),
                    stored: Some(stored.clone()),
                    kubeconfig: is_kubeconfig_name(path),
                };
                copies.push((stored, bytes));
                entry
            } else {
                changed(path, *planned, Expect::Absent)?;
                Entry {
                    path: path.clone(),
                    existed: false,
                    mode: 0,
                    uid: 0,
                    gid: 0,
                    sha256: String::new(),
                    stored: None,
                    kubeconfig: is_kubeconfig_name(path),
                }
            };
            entries.push(entry);
        }
        let manifest = Manifest {
            schema_version: 1,
            id,
            operation: operation.to_owned(),
            created_at: span::rfc3339(now),
            kubernetes_dir: Some(ExactPath(kubernetes_dir.to_path_buf())),
            files: entries,
        };
        // Without its manifest a set cannot be restored: no manifest, no change.
        let text = serde_json::to_string_pretty(&manifest).map_err(|err| WriteError {
            step: "write the backup manifest of",
            path: dir.clone(),
            source: io::Error::other(format!("it cannot be serialized ({err})")),
        })?;
        let written = write_set(&root, &dir, &copies, text.as_bytes(), hook);
        if let Err(err) = written {
            // A set without its manifest is no backup: take the part written away again.
            let _ = fs::remove_dir_all(&dir);
            return Err(err.into());
        }
        Ok(Self { dir, manifest })
    }

    /// Loads a set by id.
    pub fn load(state_dir: &Path, id: &str) -> Result<Self, String> {
        // The id is the operator's own words (a journal's is checked before it gets here).
        let dir = root(state_dir).join(id);
        if !is_id(id) || fs::symlink_metadata(&dir).is_err() {
            return Err(format!("no backup `{id}`"));
        }
        Self::load_dir(dir).map_err(|reason| format!("backup `{id}` {reason}"))
    }

    /// Loads the set in `dir`; the error says what is wrong with it.
    fn load_dir(dir: PathBuf) -> Result<Self, String> {
        for folder in [dir.clone(), dir.join("files")] {
            if let Err(err) = state::judge(&folder) {
                return Err(format!(
                    "cannot be trusted: {} {}",
                    folder.display(),
                    err.reason
                ));
            }
        }
        let path = dir.join("manifest.json");
        let opened = open_regular(&path, Links::Refuse, MAX_MANIFEST_BYTES)
            .map_err(|reason| format!("has an unreadable manifest.json: it {reason}"))?
            .ok_or(NO_MANIFEST)?;
        let bytes = read_opened(opened.file, MAX_MANIFEST_BYTES)
            .map_err(|reason| format!("has an unreadable manifest.json ({reason})"))?;
        // serde_json's messages can quote the file's text: say what kind of fault, and where.
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|err| {
            let what = match err.classify() {
                serde_json::error::Category::Eof => "it ends too early",
                serde_json::error::Category::Syntax => "it is not JSON",
                serde_json::error::Category::Data => "a field is missing or of the wrong kind",
                serde_json::error::Category::Io => "it cannot be read",
            };
            format!(
                "has a bad manifest ({what}: line {}, column {})",
                err.line(),
                err.column()
            )
        })?;
        if dir.file_name() != Some(std::ffi::OsStr::new(&manifest.id)) {
            return Err("has a manifest that names another set".into());
        }
        Ok(Self { dir, manifest })
    }

    /// Every readable set, oldest first (see `list_all` for the others).
    pub fn list(state_dir: &Path) -> Vec<Self> {
        Self::list_all(state_dir).0
    }

    /// Every set, oldest first, and the folders in the backups folder that
    /// cannot be read as one, by name, each with why.
    pub fn list_all(state_dir: &Path) -> (Vec<Self>, Vec<Unreadable>) {
        let mut sets = Vec::new();
        let mut unreadable = Vec::new();
        // Temporary journals a crash left: the next writing run removes them.
        if let Ok(entries) = fs::read_dir(state_dir) {
            for entry in entries.flatten() {
                if state::is_debris(&entry.file_name()) {
                    unreadable.push(Unreadable {
                        dir: entry.path(),
                        reason: "is a temporary journal an interrupted run left; the next writing run removes it".into(),
                    });
                }
            }
        }
        let Ok(entries) = fs::read_dir(root(state_dir)) else {
            unreadable.sort_by(|a, b| a.dir.as_os_str().cmp(b.dir.as_os_str()));
            return (sets, unreadable);
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if entry.file_name().as_bytes().starts_with(b".") {
                continue;
            }
            if !fs::symlink_metadata(&dir).is_ok_and(|meta| meta.is_dir()) {
                unreadable.push(Unreadable {
                    dir,
                    reason: "is not a folder".into(),
                });
                continue;
            }
            match Self::load_dir(dir.clone()) {
                Ok(set) => sets.push(set),
                Err(reason) if reason == NO_MANIFEST => unreadable.push(Unreadable {
                    dir,
                    reason: "has no manifest.json: an interrupted run left it; the next writing run removes it".into(),
                }),
                Err(reason) => unreadable.push(Unreadable { dir, reason }),
            }
        }
        sets.sort_by(|a, b| {
            (&a.manifest.created_at, &a.manifest.id).cmp(&(&b.manifest.created_at, &b.manifest.id))
        });
        unreadable.sort_by(|a, b| a.dir.as_os_str().cmp(b.dir.as_os_str()));
        (sets, unreadable)
    }

    /// Puts every file back as it was: bytes, mode and owner; removes files
    /// that did not exist. A file that already is as it was is not touched, so
    /// undoing a change that wrote nothing writes nothing; a kubeconfig is
    /// rewritten under kubectl's `<file>.lock`. Returns how many files changed.
    pub fn restore(&self, hook: &dyn Hook) -> Result<usize, WriteError> {
        let mut changed = 0;
        for entry in &self.manifest.files {
            if !self.in_tree(&entry.path) && !through_real_folders(&entry.path) {
                return Err(WriteError {
                    step: "restore",
                    path: entry.path.clone(),
                    source: io::Error::other(
                        "a folder on the way is a symbolic link; refusing to write through it",
                    ),
                });
            }
            let wanted = match &entry.stored {
                Some(stored) if entry.existed => Some(self.stored_copy(entry, stored)?),
                _ => None,
            };
            if is_as_it_was(entry, wanted.as_deref()) {
                continue;
            }
            changed += 1;
            let kubeconfig = entry.kubeconfig || is_kubeconfig_name(&entry.path);
            kubectl::locked(&entry.path, kubeconfig, || match &wanted {
                Some(bytes) => {
                    let ownership = Ownership::Exact {
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                    };
                    atomic::write_with(&entry.path, bytes, ownership, hook)
                }
                None => atomic::remove_with(&entry.path, hook),
            })?;
        }
        Ok(changed)
    }

    /// Whether `path` lies in the kubernetes dir the set was taken of.
    fn in_tree(&self, path: &Path) -> bool {
        self.manifest.kubernetes_dir.as_ref().is_some_and(|tree| {
            path.starts_with(&tree.0)
                || fs::canonicalize(&tree.0).is_ok_and(|real| path.starts_with(real))
        })
    }

    /// The stored copy of `entry`, checked against its SHA-256.
    pub fn stored_copy(&self, entry: &Entry, stored: &str) -> Result<Vec<u8>, WriteError> {
        let copy = self.dir.join("files").join(stored);
        let unreadable = |reason: String| WriteError {
            step: "read the backup",
            path: copy.clone(),
            source: io::Error::other(reason),
        };
        let opened = open_regular(&copy, Links::Refuse, MAX_FILE_BYTES)
            .map_err(unreadable)?
            .ok_or_else(|| unreadable("the copy is absent".into()))?;
        let bytes = read_opened(opened.file, MAX_FILE_BYTES).map_err(unreadable)?;
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
        Ok(bytes)
    }
}

/// Writes a set's folder: the copies, one folder fsync, then the manifest that lists them.
fn write_set(
    root: &Path,
    dir: &Path,
    copies: &[(String, Vec<u8>)],
    manifest: &[u8],
    hook: &dyn Hook,
) -> Result<(), WriteError> {
    mkdir_private(root)?;
    mkdir_private(dir)?;
    mkdir_private(&dir.join("files"))?;
    for (stored, bytes) in copies {
        atomic::replace(
            &dir.join("files").join(stored),
            bytes,
            Ownership::Keep(0o600),
            Durability::Deferred,
            hook,
        )?;
    }
    atomic::sync_dir(&dir.join("files"), hook)?;
    atomic::write_with(
        &dir.join("manifest.json"),
        manifest,
        Ownership::Keep(0o600),
        hook,
    )?;
    atomic::sync_dir(root, hook)
}

fn mkdir_private(dir: &Path) -> Result<(), WriteError> {
    state::mkdir_private(dir).map_err(|err| WriteError {
        step: "create",
        path: dir.to_path_buf(),
        source: io::Error::other(err.reason),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;

    use super::*;

    fn entry(path: PathBuf) -> Entry {
        Entry {
            path,
            existed: true,
            mode: 0o600,
            uid: 0,
            gid: 0,
            sha256: "ab".into(),
            stored: Some("0001".into()),
            kubeconfig: false,
        }
    }

    fn manifest(files: Vec<Entry>) -> Manifest {
        Manifest {
            schema_version: 1,
            id: "20261126T120000Z-renew".into(),
            operation: "renew".into(),
            created_at: "2026-11-26T12:00:00Z".into(),
            kubernetes_dir: None,
            files,
        }
    }

    #[test]
    fn bounds_allow_the_tree_and_the_copies_and_nothing_else() {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir_all(home.path().join("alice/.kube")).unwrap();
        let bounds = Bounds {
            folders: vec![PathBuf::from("/etc/kubernetes")],
            copies: vec!["/root/.kube/config".into()],
            files: vec![PathBuf::from("/var/lib/kubecred/binding-unverified.json")],
        };
        assert!(bounds.allows(Path::new("/var/lib/kubecred/binding-unverified.json")));
        assert!(!bounds.allows(Path::new("/var/lib/kubecred/journal")));
        assert!(bounds.allows(Path::new("/etc/kubernetes/pki/apiserver.key")));
        assert!(bounds.allows(&home.path().join("alice/.kube/config")));
        for refused in [
            "/etc/shadow",
            "/etc/kubernetes/../shadow",
            "etc/kubernetes/admin.conf",
            "/etc/kubernetes2/admin.conf",
        ] {
            assert!(!bounds.allows(Path::new(refused)), "{refused}");
        }
        // A copy reached through a symlinked folder is not one.
        std::os::unix::fs::symlink(home.path().join("alice"), home.path().join("bob")).unwrap();
        assert!(!bounds.allows(&home.path().join("bob/.kube/config")));
        let mut setuid = entry(PathBuf::from("/etc/kubernetes/pki/x"));
        setuid.mode = 0o4755;
        let err = bounds.check(&manifest(vec![setuid])).unwrap_err();
        assert!(err.contains("setuid"), "{err}");
        let mut stored = entry(PathBuf::from("/etc/kubernetes/pki/x"));
        stored.stored = Some("../../x".into());
        assert!(bounds.check(&manifest(vec![stored])).is_err());
        assert!(
            bounds
                .check(&manifest(vec![entry(PathBuf::from(
                    "/etc/kubernetes/admin.conf"
                ))]))
                .is_ok()
        );
    }

    #[test]
    fn only_a_time_and_an_operation_make_an_id() {
        for id in [
            "20261126T120000Z-renew",
            "20261126T120000Z-move-super-admin-2",
        ] {
            assert!(is_id(id), "{id}");
        }
        for id in [
            "",
            "TOP-SECRET",
            "20261126T120000Z-",
            "20261126T120000Z-../x",
            "2026112T120000Z-renew",
            ".journal",
        ] {
            assert!(!is_id(id), "{id}");
        }
    }

    #[test]
    fn a_manifest_round_trips_paths_that_are_not_utf8_exactly() {
        let odd = PathBuf::from(OsString::from_vec(b"/etc/k\xff\\x/pki/ca\xfe.key".to_vec()));
        let plain = PathBuf::from("/etc/kubernetes/admin.conf");
        let text = serde_json::to_string(&manifest(vec![entry(odd.clone()), entry(plain.clone())]))
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["files"][1]["path"], "/etc/kubernetes/admin.conf");
        assert_eq!(
            value["files"][0]["path"]["escaped"],
            "/etc/k\\xff\\\\x/pki/ca\\xfe.key"
        );
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.files[0].path, odd);
        assert_eq!(back.files[1].path, plain);
    }

    #[test]
    fn a_manifest_with_a_bad_path_is_refused_not_guessed() {
        let text = r#"{"schemaVersion":1,"id":"x","operation":"renew","createdAt":"t","files":[
            {"path":{"escaped":"a","base64":"%%%"},"existed":false,"mode":0,"uid":0,"gid":0,"sha256":"","stored":null}]}"#;
        let err = serde_json::from_str::<Manifest>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a path's base64 is invalid"), "{err}");
        let text = text.replace(r#"{"escaped":"a","base64":"%%%"}"#, "7");
        assert!(serde_json::from_str::<Manifest>(&text).is_err());
    }
}
