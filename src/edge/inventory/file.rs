//! Reading one file with the checks an operator wants named: a folder, a
//! device, a FIFO, a socket, a kernel pseudo-file, a refused or dangling
//! symlink, an oversized file. Nothing here blocks: a file is first named by
//! a handle that does not open it (`O_PATH`), judged on that handle (`fstat`,
//! `fstatfs`) to be a regular file of bounded size on a real filesystem, and
//! only then opened, non-blocking, through that handle (`/proc/self/fd`; by
//! its path again where procfs is not mounted) and judged again before the
//! first read. The metadata reported is the handle's.

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
    let bytes = read_opened(opened.file, MAX_FILE_BYTES)?;
    let sha256 = Some(Fingerprint::of(&bytes));
    Ok(Some((
        bytes,
        FileMeta {
            path: path.to_path_buf(),
            mode: opened.meta.mode() & 0o7777,
            uid: opened.meta.uid(),
            gid: opened.meta.gid(),
            symlink_target: opened.symlink_target,
            sha256,
        },
    )))
}

/// What is at `path` now, as a plan's expectation (no symlink is followed).
pub fn found(path: &Path) -> Result<Expect, String> {
    Ok(Expect::of(
        read_file(path, Links::Refuse)?
            .map(|(bytes, _)| bytes)
            .as_deref(),
    ))
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
        return Err(format!(
            "too large ({} bytes; a credential file is at most {max} bytes)",
            meta.len()
        ));
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
