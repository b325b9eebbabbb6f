//! The state dir is trusted only when nobody but root (or the user running
//! kubecred) could have written into it: a journal or a manifest planted there
//! would otherwise choose what a root run writes, where, and with which mode.
//! Every folder of it is judged here, without following symlinks.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

/// A state folder that cannot be trusted, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refusing the state folder: it {reason} ({})", path.display())]
pub struct Untrusted {
    /// The folder.
    pub path: PathBuf,
    /// What is wrong with it, in a few words.
    pub reason: String,
}

/// Whether a folder of the state dir exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// It is absent.
    Absent,
    /// It is present and trusted.
    Trusted,
}

/// Judges one folder of the state dir: a real folder (not a symlink), owned by
/// root or by the running user, with no access for group or others.
pub fn judge(path: &Path) -> Result<Presence, Untrusted> {
    let untrusted = |reason: String| Untrusted {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Presence::Absent),
        Err(err) => return Err(untrusted(format!("cannot be read ({err})"))),
    };
    if meta.file_type().is_symlink() {
        return Err(untrusted(
            "is a symbolic link; it must be a real folder".into(),
        ));
    }
    if !meta.is_dir() {
        return Err(untrusted("is not a folder".into()));
    }
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(untrusted(format!(
            "belongs to uid {}, not to root; another user could plant files in it",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(untrusted(format!(
            "has mode {:04o}; it must be 0700 (no access for group or others)",
            meta.mode() & 0o7777
        )));
    }
    Ok(Presence::Trusted)
}

/// Judges the state dir and its `backups/` folder (absent folders are fine).
pub fn judge_state_dir(state_dir: &Path) -> Result<Presence, Untrusted> {
    let presence = judge(state_dir)?;
    if presence == Presence::Trusted {
        judge(&state_dir.join("backups"))?;
    }
    Ok(presence)
}

/// Creates the state dir 0700 if absent, then judges it and `backups/`.
pub fn ensure_state_dir(state_dir: &Path) -> Result<(), Untrusted> {
    if judge_state_dir(state_dir)? == Presence::Absent {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|err| Untrusted {
                path: state_dir.to_path_buf(),
                reason: format!("cannot be created ({err})"),
            })?;
        judge_state_dir(state_dir)?;
    }
    Ok(())
}

/// Creates a private folder inside the trusted state dir, or judges the one there.
pub fn mkdir_private(dir: &Path) -> Result<(), Untrusted> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(Untrusted {
                path: dir.to_path_buf(),
                reason: format!("cannot be created ({err})"),
            });
        }
    }
    match judge(dir)? {
        Presence::Trusted => Ok(()),
        Presence::Absent => Err(Untrusted {
            path: dir.to_path_buf(),
            reason: "disappeared right after it was created".into(),
        }),
    }
}

/// Whether the state dir can be listed: a folder judged trusted may still
/// refuse its owner (a read-only mount, an unreadable directory).
pub fn readable(state_dir: &Path) -> io::Result<()> {
    fs::read_dir(state_dir).map(drop)
}

/// Whether `name` is a temporary file a crashed write of the journal left in
/// the state dir (`.journal.*.tmp`).
pub fn is_debris(name: &std::ffi::OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b".journal.") && name.ends_with(b".tmp")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn only_private_real_folders_are_trusted() {
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        assert_eq!(judge(&state), Ok(Presence::Absent));
        ensure_state_dir(&state).unwrap();
        assert_eq!(judge(&state), Ok(Presence::Trusted));
        assert_eq!(fs::metadata(&state).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&state, fs::Permissions::from_mode(0o770)).unwrap();
        let err = judge(&state).unwrap_err();
        assert!(err.to_string().contains("mode 0770"), "{err}");
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&state, &link).unwrap();
        let err = judge(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let file = root.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(judge(&file).unwrap_err().reason.contains("not a folder"));
        // backups/ is judged with the state dir.
        std::os::unix::fs::symlink(root.path(), state.join("backups")).unwrap();
        let err = judge_state_dir(&state).unwrap_err();
        assert!(err.path.ends_with("backups"), "{err}");
    }

    #[test]
    fn debris_is_only_the_journal_temporaries() {
        assert!(is_debris(".journal.kubecred-12-0.tmp".as_ref()));
        assert!(!is_debris("journal".as_ref()));
        assert!(!is_debris(".journal".as_ref()));
    }
}
