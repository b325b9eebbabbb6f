//! `kubecred demo`: writes a generated kubeadm node into a new folder.

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::app::PathError;
use crate::apply::atomic;
use crate::cli::{DemoArgs, DemoKeys, Global};
use crate::context::Context;
use crate::demo::{self, Contents, HostSpec};
use crate::issue::KeyAlgorithm;

pub(super) fn run(global: &Global, args: &DemoArgs, ctx: &Context) -> Result<u8> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    if fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(PathError {
            message: "the demo folder exists and is not empty; refusing to write into it".into(),
            path: dir,
            hint: Some("name a new folder: kubecred demo DIR".into()),
            exit: 1,
        }
        .into());
    }
    let keys = match args.key_algorithm {
        DemoKeys::Rsa2048 => KeyAlgorithm::Rsa2048,
        DemoKeys::EcdsaP256 => KeyAlgorithm::EcdsaP256,
    };
    let spec = HostSpec::demo(ctx.now, keys, dir.join("kubelet/pki"));
    let files = demo::generate(&spec)?;
    write_tree(&dir, &files)?;
    if !global.quiet {
        eprintln!(
            "wrote a kubeadm 1.28-style control-plane node to {0}\n\
         try: kubecred --kubernetes-dir {0} --no-copies check",
            dir.display()
        );
    }
    Ok(0)
}

/// Writes generated files under `root` (absolute paths stay absolute).
pub(crate) fn write_tree(root: &Path, files: &[demo::HostFile]) -> Result<()> {
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
