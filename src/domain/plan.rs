//! What a plan hands the writer: each file's new bytes, its mode and owner,
//! and what the plan expects to find there, which `edge::apply` checks under
//! the lock before anything is backed up or written. And [`Source`]: how a
//! planner gets the bytes it needs of the host without reading it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::domain::cert::Fingerprint;

/// One file to write or remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The file.
    pub path: PathBuf,
    /// What to do with it.
    pub action: Action,
    /// Whether it is a kubeconfig, written under kubectl's `<file>.lock`.
    pub kubeconfig: bool,
    /// What the plan was made from: the write is refused if the file holds anything else.
    pub expect: Expect,
}

/// What a write does.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes with this mode and owner.
    Write(Vec<u8>, Ownership),
    /// Remove the file.
    Remove,
}

impl fmt::Debug for Action {
    /// The bytes may be a private key: only their length is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write(bytes, ownership) => f
                .debug_tuple("Write")
                .field(&format_args!("{} bytes", bytes.len()))
                .field(ownership)
                .finish(),
            Self::Remove => f.write_str("Remove"),
        }
    }
}

/// The mode and owner a written file gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// An existing file keeps its own; a new one gets this mode and the writer's owner.
    Keep(u32),
    /// A credential file of the kubernetes dir: the writer's owner (root on a
    /// node), and the existing file's mode without any bit outside `allowed`
    /// (a new file gets `allowed`). A new private key never inherits a mode or
    /// an owner that would let someone else read it.
    Owned {
        /// The most a mode may grant: `0600` for keys and kubeconfigs, `0644` for certificates.
        allowed: u32,
    },
    /// Exactly these (restoring a backup).
    Exact {
        /// Permission bits.
        mode: u32,
        /// Owner uid.
        uid: u32,
        /// Owner gid.
        gid: u32,
    },
}

/// What a plan expects to find at a path it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No file.
    Absent,
    /// A regular file with exactly these bytes.
    Sha256(Fingerprint),
}

impl Expect {
    /// What `bytes` (`None`: no file) would satisfy.
    pub fn of(bytes: Option<&[u8]>) -> Self {
        bytes.map_or(Self::Absent, |bytes| Self::Sha256(Fingerprint::of(bytes)))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => f.write_str("no file"),
            Self::Sha256(sha) => write!(f, "sha256 {sha}"),
        }
    }
}

impl Write {
    /// Writes `bytes`; an existing file keeps its mode and owner, a new one gets `new_mode`.
    pub fn file(
        path: PathBuf,
        bytes: Vec<u8>,
        new_mode: u32,
        kubeconfig: bool,
        expect: Expect,
    ) -> Self {
        Self {
            path,
            action: Action::Write(bytes, Ownership::Keep(new_mode)),
            kubeconfig,
            expect,
        }
    }

    /// Writes a credential file kubeadm owns: `allowed` is `0600` for keys and
    /// kubeconfigs, `0644` for certificates (see [`Ownership::Owned`]).
    pub fn credential(
        path: PathBuf,
        bytes: Vec<u8>,
        allowed: u32,
        kubeconfig: bool,
        expect: Expect,
    ) -> Self {
        Self {
            path,
            action: Action::Write(bytes, Ownership::Owned { allowed }),
            kubeconfig,
            expect,
        }
    }
}

/// The host's files as a planner may see them: the bytes a plan is made from.
/// The edge's source serves what the inventory read; a test's serves a map.
pub trait Source {
    /// The bytes of the regular file at `path`, `None` when there is none; an
    /// error says what is wrong with it (a symlink, a device, unreadable).
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, String>;

    /// What a write to `path` must find there: the file as it was read.
    fn expect(&self, path: &Path) -> Result<Expect, String> {
        Ok(Expect::of(self.read(path)?.as_deref()))
    }
}

/// A source of fixed bytes, for planning from values (tests, the fuzzers).
#[derive(Clone, Debug, Default)]
pub struct Files(pub BTreeMap<PathBuf, Vec<u8>>);

impl Source for Files {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.get(path).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expectation_is_the_bytes_or_their_absence() {
        let mut files = Files::default();
        files.0.insert("/k/a".into(), b"one".to_vec());
        assert_eq!(
            files.expect(Path::new("/k/a")).unwrap(),
            Expect::Sha256(Fingerprint::of(b"one"))
        );
        assert_eq!(files.expect(Path::new("/k/b")).unwrap(), Expect::Absent);
        assert_ne!(Expect::of(Some(b"one")), Expect::of(Some(b"one ")));
    }

    #[test]
    fn a_write_never_shows_its_bytes() {
        let write = Write::credential(
            "/k/pki/x.key".into(),
            b"-----BEGIN PRIVATE KEY-----".to_vec(),
            0o600,
            false,
            Expect::Absent,
        );
        assert!(!format!("{write:?}").contains("PRIVATE"));
    }
}
