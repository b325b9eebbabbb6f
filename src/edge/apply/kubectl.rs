//! kubectl's lock on a kubeconfig (client-go `lockFile`): `<file>.lock`,
//! created exclusively and removed after the write. kubecred writes its pid
//! into the locks it creates, so that after a crash it removes only its own
//! and never one a live kubectl holds.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::edge::apply::atomic::WriteError;
use crate::edge::inventory::{Links, open_regular, read_opened};

/// What every lock kubecred creates starts with (kubectl's are empty).
const MARK: &[u8] = b"kubecred ";

/// How long a write waits for kubectl to release its lock.
const WAIT: Duration = Duration::from_secs(2);

/// `<file>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut lock: OsString = path.as_os_str().to_owned();
    lock.push(".lock");
    PathBuf::from(lock)
}

/// Runs `write` holding kubectl's lock on `path` when it is a kubeconfig,
/// waiting a moment for a kubectl that holds it.
pub fn locked<T>(
    path: &Path,
    kubeconfig: bool,
    write: impl FnOnce() -> Result<T, WriteError>,
) -> Result<T, WriteError> {
    if !kubeconfig {
        return write();
    }
    let lock = lock_path(path);
    let deadline = Instant::now() + WAIT;
    let mut file = loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&lock)
        {
            Ok(file) => break file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(source) => {
                let source = if source.kind() == io::ErrorKind::AlreadyExists {
                    io::Error::other(
                        "another program (kubectl?) holds it; try again once it is done",
                    )
                } else {
                    source
                };
                return Err(WriteError {
                    step: "lock (kubectl's .lock file)",
                    path: lock,
                    source,
                });
            }
        }
    };
    // Marked as ours, so a run after a crash knows it may remove it.
    let guard = Held(lock);
    file.write_all(format!("kubecred {}\n", std::process::id()).as_bytes())
        .map_err(|source| WriteError {
            step: "lock (kubectl's .lock file)",
            path: guard.0.clone(),
            source,
        })?;
    let written = write()?;
    guard.release().map(|()| written)
}

/// A lock kubecred holds; removed when dropped (also when a panic unwinds).
struct Held(PathBuf);

impl Held {
    /// Removes the lock, saying if that failed.
    fn release(self) -> Result<(), WriteError> {
        let path = self.0.clone();
        std::mem::forget(self);
        fs::remove_file(&path).map_err(|source| WriteError {
            step: "unlock",
            path,
            source,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Removes `<file>.lock` if kubecred created it (a crash left it); a lock
/// kubectl (or anything else) holds stays.
pub fn remove_stale(path: &Path) {
    let lock = lock_path(path);
    let Ok(Some(opened)) = open_regular(&lock, Links::Refuse, 64) else {
        return;
    };
    if read_opened(opened.file, 64).is_ok_and(|bytes| bytes.starts_with(MARK)) {
        let _ = fs::remove_file(&lock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kubecreds_own_stale_lock_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(lock_path(&config), b"").unwrap();
        remove_stale(&config);
        assert!(lock_path(&config).exists(), "kubectl's lock stays");
        let err = locked(&config, true, || Ok(())).unwrap_err();
        assert!(err.to_string().contains("holds it"), "{err}");
        fs::write(lock_path(&config), b"kubecred 12\n").unwrap();
        remove_stale(&config);
        assert!(!lock_path(&config).exists(), "our own stale lock goes");
        locked(&config, true, || {
            let text = fs::read(lock_path(&config)).unwrap();
            assert!(text.starts_with(MARK));
            Ok(())
        })
        .unwrap();
        assert!(!lock_path(&config).exists());
    }
}
