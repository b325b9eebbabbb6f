//! Atomic writes: a temporary file in the same folder, written, fsynced, given
//! its final mode and owner, renamed over the target, then the folder fsynced.
//! A crash leaves either the old file or the new one, never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::domain::plan::Ownership;
use crate::edge::apply::hook::{Hook, Proceed, Step};

/// A failed atomic write, naming the step and the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {step} {}: {source}", path.display())]
pub struct WriteError {
    /// What was being done.
    pub step: &'static str,
    /// The file concerned.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: io::Error,
}

/// Replaces (or creates) `path` with `bytes`; an existing file keeps its mode
/// and owner, a new one gets `new_mode`.
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> Result<(), WriteError> {
    write_with(path, bytes, Ownership::Keep(new_mode), &Proceed)
}

/// When the folder of a written file is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Right after the rename: the write is durable on return.
    Now,
    /// By the caller, once for many files (a transaction does it before its
    /// journal goes: a crash before then is undone from the backup anyway).
    Deferred,
}

/// Replaces (or creates) `path` with `bytes`, asking `hook` before each step;
/// durable on return.
pub fn write_with(
    path: &Path,
    bytes: &[u8],
    ownership: Ownership,
    hook: &dyn Hook,
) -> Result<(), WriteError> {
    replace(path, bytes, ownership, Durability::Now, hook)
}

/// Replaces (or creates) `path` with `bytes`, asking `hook` before each step.
///
/// The temporary file is created `0600` so key material is never readable by
/// others, not even for an instant; mode and owner are set before the rename.
pub fn replace(
    path: &Path,
    bytes: &[u8],
    ownership: Ownership,
    durability: Durability,
    hook: &dyn Hook,
) -> Result<(), WriteError> {
    let fail = |step, path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { step, path, source }
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let existing = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(WriteError {
                step: "replace",
                path: path.to_path_buf(),
                source: io::Error::other("it is a symbolic link; refusing to write through it"),
            });
        }
        Ok(meta) if !meta.is_file() => {
            return Err(WriteError {
                step: "replace",
                path: path.to_path_buf(),
                source: io::Error::other("it is not a regular file"),
            });
        }
        Ok(meta) => Some(meta),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(fail("inspect", path)(err)),
    };
    let temp = temp_path(path);
    // Removes the temporary file on every way out but a rename, a panic included.
    let guard = Temporary(temp.clone());
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(fail("create", &temp))?;
        hook.before(Step::Write, &temp)
            .map_err(fail("write", &temp))?;
        file.write_all(bytes).map_err(fail("write", &temp))?;
        let (mode, owner) = match (ownership, &existing) {
            (Ownership::Exact { mode, uid, gid }, _) => (mode, Some((uid, gid))),
            (Ownership::Keep(_), Some(meta)) => {
                (meta.mode() & 0o7777, Some((meta.uid(), meta.gid())))
            }
            (Ownership::Keep(new_mode), None) => (new_mode, None),
            (Ownership::Owned { allowed }, Some(meta)) => (meta.mode() & allowed, None),
            (Ownership::Owned { allowed }, None) => (allowed, None),
        };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(fail("chown", &temp))?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(fail("chmod", &temp))?;
        hook.before(Step::Fsync, &temp)
            .map_err(fail("fsync", &temp))?;
        file.sync_all().map_err(fail("fsync", &temp))?;
        hook.before(Step::Rename, path)
            .map_err(fail("rename over", path))?;
        fs::rename(&temp, path).map_err(fail("rename over", path))?;
        match durability {
            Durability::Now => sync_dir(dir, hook),
            Durability::Deferred => Ok(()),
        }
    })();
    if result.is_ok() {
        std::mem::forget(guard);
    }
    result
}

/// A temporary file that goes when dropped.
struct Temporary(PathBuf);

impl Drop for Temporary {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Fsyncs a folder so a rename in it survives a crash.
pub fn sync_dir(dir: &Path, hook: &dyn Hook) -> Result<(), WriteError> {
    hook.before(Step::Fsync, dir)
        .and_then(|()| File::open(dir))
        .and_then(|dir| dir.sync_all())
        .map_err(|source| WriteError {
            step: "fsync folder",
            path: dir.to_path_buf(),
            source,
        })
}

/// Removes a file and fsyncs its folder; an absent file is not an error.
pub fn remove_with(path: &Path, hook: &dyn Hook) -> Result<(), WriteError> {
    remove(path, Durability::Now, hook)
}

/// Removes a file; an absent file is not an error.
pub fn remove(path: &Path, durability: Durability, hook: &dyn Hook) -> Result<(), WriteError> {
    let fail = |source| WriteError {
        step: "remove",
        path: path.to_path_buf(),
        source,
    };
    hook.before(Step::Remove, path).map_err(fail)?;
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(fail(err)),
    }
    if durability == Durability::Deferred {
        return Ok(());
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    sync_dir(dir, hook)
}

/// Removes the temporary files a crashed write of `path` left beside it.
pub fn remove_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.kubecred-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// `.<name>.kubecred-<pid>-<n>.tmp` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.kubecred-{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_gets_mode_and_replaced_file_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.conf");
        write(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn refuses_to_write_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write(&link, b"new", 0o600).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }
}
