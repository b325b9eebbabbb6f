//! Reading one file with the checks an operator wants named: a folder, a
//! device, a FIFO, a socket, a kernel pseudo-file, a refused or dangling
//! symlink, an oversized file. Nothing here blocks: a file is first named by
//! a handle that does not open it (`O_PATH`), judged on that handle (`fstat`,
//! `fstatfs`) to be a regular file of bounded size on a real filesystem, and
//! only then opened, non-blocking, through that handle (`/proc/self/fd`; by
//! its path again where procfs is not mounted) and judged again before the
//! first read. The metadata reported is the handle's. A file a folder's
//! listing named as a regular file is opened once, directly (`read_listed`:
//! the listing stands for the first handle).

use std::fs::{self, File, Metadata};
use std::io::{self, Read as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::domain::cert::Fingerprint;
use crate::domain::model::{FileMeta, PERMISSION_DENIED};
use crate::domain::plan::Expect;
use crate::edge::inventory::MAX_FILE_BYTES;

/// Whether a symlink may stand where a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// kubeadm writes regular files here: a symlink is malformed.
    Refuse,
    /// The file was named by a kubeconfig (the kubelet's rotating cert): follow it.
    Follow,
}

/// An open regular file, checked on its handle.
#[derive(Debug)]
pub struct Opened {
    /// The handle, opened non-blocking.
    pub file: File,
    /// The handle's metadata (`fstat`).
    pub meta: Metadata,
    /// Where the path pointed, if it was a symlink that was followed.
    pub symlink_target: Option<PathBuf>,
}

/// Reads a credential file with the checks an operator would want named:
/// absent is `Ok(None)`; anything but a regular file of at most
/// `MAX_FILE_BYTES` on a real filesystem is an error saying what it is.
pub fn read_file(path: &Path, links: Links) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
    let Some(opened) = open_regular(path, links, MAX_FILE_BYTES)? else {
        return Ok(None);
    };
    let bytes = read_sized(opened.file, opened.meta.len(), MAX_FILE_BYTES)?;
    Ok(Some(described(
        path,
        bytes,
        &opened.meta,
        opened.symlink_target,
        true,
    )))
}

/// The bytes read from `path` and what `fstat` said of the handle, with
/// their SHA-256 if `digest` (what a plan's precondition compares).
fn described(
    path: &Path,
    bytes: Vec<u8>,
    meta: &Metadata,
    symlink_target: Option<PathBuf>,
    digest: bool,
) -> (Vec<u8>, FileMeta) {
    let sha256 = digest.then(|| Fingerprint::of(&bytes));
    (
        bytes,
        FileMeta {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            symlink_target,
            sha256,
        },
    )
}

/// Reads a file that a folder listing (`getdents`) named as a regular file,
/// in a folder on device `dev` of a real filesystem: one `open`, one `fstat`,
/// and no SHA-256 of the bytes (`FileMeta::sha256` is `None`).
/// Absent is `Ok(None)`. The listing stands for the handle-first check of
/// [`read_file`]: only a swap of the name between listing and opening could
/// put something else there, and `O_NOFOLLOW` refuses a symlink (that name
/// is then read by [`read_file`], following it, as a named file is), while
/// a device cannot be swapped in by anyone who may not create device nodes
/// (they live on devtmpfs, and protected hardlinks stop links to root's).
/// A FIFO swapped in opens without blocking and is refused by its `fstat`,
/// as is a file on another device that is a kernel pseudo-file.
pub(super) fn read_listed(path: &Path, dev: u64) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
    let flags =
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => return read_file(path, Links::Follow),
        Err(errno) => return Err(cannot_read(&io::Error::from(errno))),
    };
    let meta = file.metadata().map_err(|err| cannot_read(&err))?;
    not_a_file(&meta)?;
    if meta.dev() != dev {
        let stat = rustix::fs::fstatfs(&file).map_err(|errno| cannot_read(&errno.into()))?;
        pseudo_filesystem(i128::from(stat.f_type))?;
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len(), MAX_FILE_BYTES));
    }
    let bytes = read_sized(file, meta.len(), MAX_FILE_BYTES)?;
    // Only `inspect PATH` reads this way, and nothing plans writes from it: no digest.
    Ok(Some(described(path, bytes, &meta, None, false)))
}

/// Whether a folder's filesystem is a real one (not procfs, sysfs, ...), by `statfs`.
pub(super) fn real_filesystem(dir: &Path) -> bool {
    rustix::fs::statfs(dir).is_ok_and(|stat| pseudo_filesystem(i128::from(stat.f_type)).is_ok())
}

/// What is at `path` now, as a plan's expectation (no symlink is followed).
pub fn found(path: &Path) -> Result<Expect, String> {
    Ok(Expect::of(
        read_file(path, Links::Refuse)?
            .map(|(bytes, _)| bytes)
            .as_deref(),
    ))
}

/// Reads all of an opened file that `fstat` said holds `len` bytes, refusing
/// one that grew past `max` bytes since: sized reads, the last one at the end.
fn read_sized(mut file: File, len: u64, max: u64) -> Result<Vec<u8>, String> {
    let limit = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let first = usize::try_from(len.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(limit);
    let mut bytes = vec![0; first];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            if bytes.len() >= limit {
                return Err(format!("grew past {max} bytes while being read"));
            }
            let grown = bytes.len().saturating_mul(2).min(limit);
            bytes.resize(grown, 0);
        }
        let spare = bytes.get_mut(filled..).unwrap_or_default();
        match file.read(spare) {
            Ok(0) => break,
            Ok(count) => filled = filled.saturating_add(count),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(cannot_read(&err)),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

fn too_large(len: u64, max: u64) -> String {
    format!("too large ({len} bytes; a credential file is at most {max} bytes)")
}

/// Reads all of an opened file, refusing one that grew past `max` bytes since it was checked.
pub fn read_opened(file: File, max: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|err| cannot_read(&err))?;
    if u64::try_from(bytes.len()).map_or(true, |len| len > max) {
        return Err(format!("grew past {max} bytes while being read"));
    }
    Ok(bytes)
}

/// Opens `path` for reading if it is a regular file of at most `max` bytes on
/// a real filesystem; absent is `Ok(None)`. Devices, FIFOs, sockets and
/// kernel pseudo-files are refused by their type before they are opened
/// (opening a device can have effects of its own), so nothing here blocks.
pub fn open_regular(path: &Path, links: Links, max: u64) -> Result<Option<Opened>, String> {
    let lmeta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(cannot_read(&err)),
    };
    let mut symlink_target = None;
    let meta = if lmeta.file_type().is_symlink() {
        let target = fs::read_link(path).unwrap_or_default();
        if links == Links::Refuse {
            return Err(format!(
                "is a symbolic link to {}; kubeadm writes a regular file here",
                target.display()
            ));
        }
        let meta = fs::metadata(path).map_err(|err| {
            if err.kind() == io::ErrorKind::PermissionDenied {
                PERMISSION_DENIED.to_owned()
            } else {
                format!("dangling symbolic link to {}", target.display())
            }
        })?;
        symlink_target = Some(target);
        meta
    } else {
        lmeta
    };
    not_a_file(&meta)?;
    let cannot = |errno: rustix::io::Errno| {
        if errno == rustix::io::Errno::NOENT {
            "changed while being read (it disappeared)".to_owned()
        } else {
            cannot_read(&io::Error::from(errno))
        }
    };
    // First a handle that names the file without opening it (`O_PATH`: no
    // device, FIFO or kernel pseudo-file acts on it), judged by type and
    // filesystem; only then the file itself, reopened through that handle so
    // that it is the very object judged, even if the path was swapped meanwhile.
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if links == Links::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let handle = File::from(rustix::fs::open(path, flags, Mode::empty()).map_err(cannot)?);
    let named = judge(&handle, &meta, max)?;
    let read = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let reopened = rustix::fs::open(
        format!("/proc/self/fd/{}", handle.as_raw_fd()).as_str(),
        read,
        Mode::empty(),
    );
    let fd = match reopened {
        Ok(fd) => fd,
        // No procfs: open the path itself, non-blocking, and judge the result again.
        Err(_) => rustix::fs::open(path, read | (flags & OFlags::NOFOLLOW), Mode::empty())
            .map_err(|errno| {
                if errno == rustix::io::Errno::LOOP {
                    "is a symbolic link (it replaced the file while being read); kubeadm writes a regular file here"
                        .to_owned()
                } else {
                    cannot(errno)
                }
            })?,
    };
    let file = File::from(fd);
    let opened = judge(&file, &named, max)?;
    Ok(Some(Opened {
        file,
        meta: opened,
        symlink_target,
    }))
}

/// Checks a handle: a regular file (the one `expected` describes), on a real
/// filesystem, of at most `max` bytes; returns its metadata.
fn judge(handle: &File, expected: &Metadata, max: u64) -> Result<Metadata, String> {
    let meta = handle.metadata().map_err(|err| cannot_read(&err))?;
    not_a_file(&meta)?;
    if meta.ino() != expected.ino() || meta.dev() != expected.dev() {
        return Err("changed while being read".into());
    }
    let stat = rustix::fs::fstatfs(handle).map_err(|errno| cannot_read(&errno.into()))?;
    pseudo_filesystem(i128::from(stat.f_type))?;
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    Ok(meta)
}

/// Refuses anything but a regular file, naming what it is.
fn not_a_file(meta: &Metadata) -> Result<(), String> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "is a directory, expected a file"
    } else if kind.is_char_device() {
        "is not a regular file: it is a character device"
    } else if kind.is_block_device() {
        "is not a regular file: it is a block device"
    } else if kind.is_fifo() {
        "is not a regular file: it is a FIFO (named pipe)"
    } else if kind.is_socket() {
        "is not a regular file: it is a socket"
    } else {
        "is not a regular file"
    };
    Err(what.into())
}

/// The kernel's pseudo-filesystems: their "regular" files are not data (size 0, reads that block or never end).
const PSEUDO_FILESYSTEMS: &[(u32, &str)] = &[
    (0x9fa0, "procfs"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x0027_e0eb, "cgroupfs"),
    (0x6367_7270, "cgroup2fs"),
    (0x6265_6570, "configfs"),
    (0xcafe_4a11, "bpffs"),
    (0xde5e_81e4, "efivarfs"),
    (0x6165_676c, "pstorefs"),
];

/// Refuses a file on one of the kernel's pseudo-filesystems, naming it.
fn pseudo_filesystem(f_type: i128) -> Result<(), String> {
    let magic = f_type & 0xffff_ffff;
    match PSEUDO_FILESYSTEMS
        .iter()
        .find(|(known, _)| i128::from(*known) == magic)
    {
        Some((_, name)) => Err(format!(
            "is a kernel pseudo-file on {name}, not a credential file"
        )),
        None => Ok(()),
    }
}

/// Why a read failed; a lack of permission (`EACCES`, `EPERM`) is always
/// [`PERMISSION_DENIED`] exactly, which the scan tells apart from a bad file.
fn cannot_read(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::PermissionDenied => PERMISSION_DENIED.into(),
        _ => format!("cannot read ({err})"),
    }
}

/// Whether a reader's error says the running user may not read the file.
pub(super) fn denied(reason: &str) -> bool {
    reason == PERMISSION_DENIED
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn pseudo_filesystems_are_named_and_real_ones_pass() {
        assert_eq!(
            pseudo_filesystem(0x9fa0),
            Err("is a kernel pseudo-file on procfs, not a credential file".into())
        );
        assert!(pseudo_filesystem(0x6265_6572).is_err_and(|e| e.contains("sysfs")));
        // efivarfs' magic as a 32-bit kernel's signed f_type reports it still matches.
        let signed = i128::from(0xde5e_81e4_u32) - (1_i128 << 32);
        assert!(signed < 0);
        assert!(pseudo_filesystem(signed).is_err_and(|e| e.contains("efivarfs")));
        assert_eq!(pseudo_filesystem(0xef53), Ok(())); // ext4
        assert_eq!(pseudo_filesystem(0x0102_1994), Ok(())); // tmpfs
    }
}
