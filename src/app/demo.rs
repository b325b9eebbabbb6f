//! `kubecred demo`: writes a generated kubeadm node into a new folder.

use std::fs;

use anyhow::{Context as _, Result};

use crate::app::PathError;
use crate::domain::demo::{self, HostSpec};
use crate::domain::issue::KeyAlgorithm;
use crate::edge::apply::tree;
use crate::edge::context::Context;
use crate::ui::cli::{DemoArgs, DemoKeys, Global};

pub(super) fn run(global: &Global, args: &DemoArgs, ctx: &Context) -> Result<u8> {
    let dir = std::path::absolute(&args.dir).with_context(|| {
        format!(
            "cannot resolve {}",
            crate::ui::render::text::path(&args.dir)
        )
    })?;
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
    let mut spec = HostSpec::demo(ctx.now, keys, dir.join("kubelet/pki"));
    spec.manifests = Some(demo::Manifests::kubeadm(&dir));
    let files = demo::generate(&spec)?;
    tree::write(&dir, &files)?;
    if !global.quiet {
        eprintln!(
            "wrote a kubeadm 1.28-style control-plane node to {0}\n\
         try: kubecred --kubernetes-dir {0} --no-copies check",
            crate::ui::render::text::path(&dir)
        );
    }
    Ok(0)
}
