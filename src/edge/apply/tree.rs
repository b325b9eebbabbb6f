//! Writes a generated tree (the demo, test fixtures) into a new folder.

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::domain::demo::{Contents, HostFile};
use crate::edge::apply::atomic;

/// Writes generated files under `root` (absolute paths stay absolute).
pub fn write(root: &Path, files: &[HostFile]) -> Result<()> {
    mkdir(root)?;
    for file in files {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        match &file.contents {
            Contents::File(bytes, mode) => atomic::write(&path, bytes, *mode)?,
            Contents::Symlink(target) => std::os::unix::fs::symlink(target, &path)
                .with_context(|| format!("cannot create the symlink {}", path.display()))?,
        }
    }
    Ok(())
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", dir.display()))
}
