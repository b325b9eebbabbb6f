//! Reading one credential file with the checks an operator wants named: a
//! folder, a device, a refused or dangling symlink, an oversized file.

use std::fs::{self, File};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::inventory::{FileMeta, MAX_FILE_BYTES};

/// Whether a symlink may stand where a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// kubeadm writes regular files here: a symlink is malformed.
    Refuse,
    /// The file was named by a kubeconfig (the kubelet's rotating cert): follow it.
    Follow,
}

/// Reads a credential file with the checks an operator would want named:
/// absent is `Ok(None)`; a folder, a device, a refused symlink, a dangling one
/// or an oversized file is an error saying which.
pub fn read_file(path: &Path, links: Links) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
    let lmeta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read ({})", io_reason(&err))),
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
        let meta = fs::metadata(path)
            .map_err(|_| format!("dangling symbolic link to {}", target.display()))?;
        symlink_target = Some(target);
        meta
    } else {
        lmeta
    };
    if meta.is_dir() {
        return Err("is a directory, expected a file".into());
    }
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "too large ({} bytes; a credential file is at most {} bytes)",
            meta.len(),
            MAX_FILE_BYTES
        ));
    }
    let file = File::open(path).map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    let opened = file
        .metadata()
        .map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    if opened.ino() != meta.ino() || opened.dev() != meta.dev() {
        return Err("changed while being read".into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read ({})", io_reason(&err)))?;
    Ok(Some((
        bytes,
        FileMeta {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            symlink_target,
        },
    )))
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}
