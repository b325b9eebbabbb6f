//! One writing run at a time per kubernetes dir and per state dir: advisory
//! locks on `<state-dir>/lock` and on a lock file under `/run/kubecred` named
//! by the kubernetes dir's canonical path, so two runs with different state
//! dirs cannot write one tree at once. `check` takes the tree lock shared, so
//! it never judges a tree a renewal is halfway through. A held lock file says
//! who holds it (pid and command line).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::domain::cert::Fingerprint;
use crate::edge::apply::state::{self, Untrusted};

/// Where root's locks keyed by a kubernetes dir live: 0700, gone at reboot.
pub const TREE_LOCK_DIR: &str = "/run/kubecred";

/// Where this user's tree locks live: `/run/kubecred` for root; for another
/// user (trying the demo) their runtime folder, else `/tmp/kubecred-<uid>`.
pub fn tree_lock_dir() -> PathBuf {
    let uid = rustix::process::geteuid().as_raw();
    if uid == 0 {
        return PathBuf::from(TREE_LOCK_DIR);
    }
    let runtime = PathBuf::from(format!("/run/user/{uid}"));
    if fs::metadata(&runtime).is_ok_and(|meta| meta.is_dir() && meta.uid() == uid) {
        return runtime.join("kubecred");
    }
    PathBuf::from(format!("/tmp/kubecred-{uid}"))
}

/// How long `check` waits for a writer before it reports UNKNOWN.
pub const CHECK_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// The most of a lock file read back to name its holder.
const MAX_HOLDER_BYTES: u64 = 4096;

/// Held locks; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _tree: Option<TreeLock>,
    _state: File,
    /// The state dir's lock file.
    pub path: PathBuf,
}

/// A kubernetes dir's lock, held exclusive; released when dropped.
#[derive(Debug)]
pub struct TreeLock {
    _file: File,
}

impl TreeLock {
    /// Takes the lock of the kubernetes dir `kubernetes_dir`; `None` when the
    /// folder does not exist (there is nothing in it to write over).
    pub fn acquire(kubernetes_dir: &Path, wait: Wait) -> Result<Option<Self>, LockError> {
        let path = match tree_lock_path(kubernetes_dir) {
            Ok(path) => path,
            Err(LockError::Open { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        state::mkdir_private(&tree_lock_dir())?;
        let file = open_lock(&path, true)?;
        take(&file, &path, wait, Kind::Exclusive)?;
        say_who(&file).map_err(|source| LockError::Open { path, source })?;
        Ok(Some(Self { _file: file }))
    }
}

/// A shared hold of a kubernetes dir's lock (`check`); released when dropped.
#[derive(Debug)]
pub struct SharedLock {
    _file: File,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another kubecred run holds it.
    #[error("another kubecred run holds the lock{} ({})", holder_text(.holder.as_ref()), .path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Who holds it (`pid 12: kubecred renew all`), if it says.
        holder: Option<String>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot open the lock: {source} ({})", path.display())]
    Open {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A folder the lock lives in cannot be trusted.
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
}

fn holder_text(holder: Option<&String>) -> String {
    holder
        .map(|holder| format!(" ({holder})"))
        .unwrap_or_default()
}

/// How long a run waits for a lock another holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Not at all: fail at once.
    Never,
    /// Up to this long, saying on stderr whom it waits for.
    For(Duration),
}

impl RunLock {
    /// Takes the kubernetes dir's lock, then the state dir's, exclusive.
    pub fn acquire(state_dir: &Path, kubernetes_dir: &Path, wait: Wait) -> Result<Self, LockError> {
        // An untrusted state dir is refused before anything is created anywhere.
        state::judge_state_dir(state_dir)?;
        let tree = TreeLock::acquire(kubernetes_dir, wait)?;
        state::ensure_state_dir(state_dir)?;
        let path = state_dir.join("lock");
        let file = open_lock(&path, true)?;
        take(&file, &path, wait, Kind::Exclusive)?;
        say_who(&file).map_err(|source| LockError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            _tree: tree,
            _state: file,
            path,
        })
    }
}

impl SharedLock {
    /// Takes the kubernetes dir's lock shared, waiting up to `wait` for a
    /// writer; `None` when no writer ever took it (or it is not ours to see).
    pub fn acquire(kubernetes_dir: &Path, wait: Duration) -> Result<Option<Self>, LockError> {
        let Ok(path) = tree_lock_path(kubernetes_dir) else {
            return Ok(None);
        };
        match state::judge(&tree_lock_dir()) {
            Ok(state::Presence::Trusted) => {}
            Ok(state::Presence::Absent) => return Ok(None),
            Err(err) => return Err(err.into()),
        }
        let file = match open_lock(&path, false) {
            Ok(file) => file,
            Err(LockError::Open { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        take(&file, &path, Wait::For(wait), Kind::Shared)?;
        Ok(Some(Self { _file: file }))
    }
}

/// `<tree lock dir>/tree-<SHA-256 of the canonical kubernetes dir>.lock`.
pub fn tree_lock_path(kubernetes_dir: &Path) -> Result<PathBuf, LockError> {
    let canonical = fs::canonicalize(kubernetes_dir).map_err(|source| LockError::Open {
        path: kubernetes_dir.to_path_buf(),
        source,
    })?;
    let digest = Fingerprint::of(std::os::unix::ffi::OsStrExt::as_bytes(
        canonical.as_os_str(),
    ));
    Ok(tree_lock_dir().join(format!("tree-{digest}.lock")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exclusive,
    Shared,
}

/// Opens a lock file without following a symlink, and checks it is a regular
/// file of root's (or the running user's).
fn open_lock(path: &Path, create: bool) -> Result<File, LockError> {
    let open_error = |source| LockError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags(libc_flags::NOFOLLOW | libc_flags::CLOEXEC | libc_flags::NONBLOCK);
    if create {
        options.write(true).create(true).truncate(false).mode(0o600);
    }
    let file = options.open(path).map_err(|err| {
        if err.raw_os_error() == Some(libc_flags::ELOOP) {
            open_error(io::Error::other(
                "it is a symbolic link; refusing to follow it",
            ))
        } else {
            open_error(err)
        }
    })?;
    let meta = file.metadata().map_err(open_error)?;
    let euid = rustix::process::geteuid().as_raw();
    if !meta.is_file() {
        return Err(open_error(io::Error::other("it is not a regular file")));
    }
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(open_error(io::Error::other(format!(
            "it belongs to uid {}, not to root",
            meta.uid()
        ))));
    }
    Ok(file)
}

/// The open flags kubecred needs, as numbers `OpenOptionsExt` takes.
mod libc_flags {
    use rustix::fs::OFlags;

    pub(super) const NOFOLLOW: i32 = bits(OFlags::NOFOLLOW);
    pub(super) const CLOEXEC: i32 = bits(OFlags::CLOEXEC);
    pub(super) const NONBLOCK: i32 = bits(OFlags::NONBLOCK);
    pub(super) const ELOOP: i32 = rustix::io::Errno::LOOP.raw_os_error();

    #[expect(
        clippy::cast_possible_wrap,
        reason = "open(2) flags are small positive bits"
    )]
    const fn bits(flags: OFlags) -> i32 {
        flags.bits() as i32
    }
}

/// Takes `file`'s lock, waiting as `wait` says.
fn take(file: &File, path: &Path, wait: Wait, kind: Kind) -> Result<(), LockError> {
    let attempt = || match kind {
        Kind::Exclusive => file.try_lock(),
        Kind::Shared => file.try_lock_shared(),
    };
    let busy = || LockError::Busy {
        path: path.to_path_buf(),
        holder: holder(file),
    };
    let deadline = match wait {
        Wait::Never => None,
        Wait::For(limit) => Some(Instant::now() + limit),
    };
    let mut said = false;
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(TryLockError::WouldBlock) => {}
        }
        let Some(deadline) = deadline else {
            return Err(busy());
        };
        if Instant::now() >= deadline {
            return Err(busy());
        }
        if !said && kind == Kind::Exclusive {
            said = true;
            eprintln!(
                "kubecred: waiting for another kubecred run to finish{} ({})",
                holder_text(holder(file).as_ref()),
                path.display()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Writes who holds the lock into its file: `<pid>\n<command line>\n`.
fn say_who(mut file: &File) -> io::Result<()> {
    let command: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(format!("{}\n{}\n", std::process::id(), command.join(" ")).as_bytes())
}

/// Who holds a lock, from its file: `pid 12: kubecred renew all`.
fn holder(mut file: &File) -> Option<String> {
    file.rewind().ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_HOLDER_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let command: String = lines
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Some(if command.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid}: {command}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_holder_and_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = open_lock(&path, true).unwrap();
        take(&held, &path, Wait::Never, Kind::Exclusive).unwrap();
        say_who(&held).unwrap();
        let other = open_lock(&path, true).unwrap();
        let err = take(&other, &path, Wait::Never, Kind::Shared).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("(pid {}: ", std::process::id())),
            "{text}"
        );
        let err = take(
            &other,
            &path,
            Wait::For(Duration::from_millis(120)),
            Kind::Shared,
        )
        .unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        drop(held);
        take(&other, &path, Wait::Never, Kind::Shared).unwrap();

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let err = open_lock(&link, true).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!dir.path().join("elsewhere").exists(), "nothing created");
    }
}
