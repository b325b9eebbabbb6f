//! One writing run at a time per state dir: an advisory lock on `<state-dir>/lock`.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another kubecred run holds it.
    #[error("another kubecred run holds the lock ({})", .0.display())]
    Busy(PathBuf),
    /// The state dir or lock file could not be opened.
    #[error("cannot open the lock {}: {source}", path.display())]
    Open {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RunLock {
    /// Takes the lock, failing at once (or waiting, with `wait`) if another run holds it.
    pub fn acquire(state_dir: &Path, wait: bool) -> Result<Self, LockError> {
        let path = state_dir.join("lock");
        let open_error = |source| LockError::Open {
            path: path.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(open_error)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(open_error)?;
        if wait {
            file.lock().map_err(open_error)?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Err(LockError::Busy(path)),
                Err(fs::TryLockError::Error(err)) => return Err(open_error(err)),
            }
        }
        Ok(Self { _file: file, path })
    }
}
