//! `kubecred demo`: writes a generated kubeadm node into a new folder.

use anyhow::Result;

use crate::app::PathError;
use crate::app::options::{DemoOptions, GlobalOptions};
use crate::domain::demo::{self, HostSpec};
use crate::edge::apply::tree;
use crate::edge::context::Context;
use crate::edge::inventory::presence;

pub(super) fn run(global: &GlobalOptions, options: &DemoOptions, ctx: &Context) -> Result<u8> {
    let dir = &options.dir;
    if presence::has_entries(dir) {
        return Err(PathError {
            message: "the demo folder exists and is not empty; refusing to write into it".into(),
            path: dir.clone(),
            hint: Some("name a new folder: kubecred demo DIR".into()),
            exit: 1,
        }
        .into());
    }
    let mut spec = HostSpec::demo(ctx.now, options.keys, dir.join("kubelet/pki"));
    spec.manifests = Some(demo::Manifests::kubeadm(dir));
    let files = demo::generate(&spec)?;
    tree::write(dir, &files)?;
    if !global.quiet {
        eprintln!(
            "wrote a kubeadm 1.28-style control-plane node to {0}\n\
         try: kubecred --kubernetes-dir {0} --no-copies check",
            crate::ui::render::text::path(dir)
        );
    }
    Ok(0)
}
