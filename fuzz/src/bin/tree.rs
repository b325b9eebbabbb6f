//! AFL target: one change to a kubeadm node, then a whole scan, findings and
//! every renderer (input format in `src/targets.rs`).
//!
//! The base node is written once, before AFL's fork server starts, into
//! `$KUBECRED_FUZZ_TREE` (or a folder under the temp dir); every run changes one
//! file and puts it back.

use std::path::PathBuf;

fn main() {
    let root = std::env::var_os("KUBECRED_FUZZ_TREE").map_or_else(
        || std::env::temp_dir().join(format!("kubecred-fuzz-tree-{}", std::process::id())),
        PathBuf::from,
    );
    let tree = match kubecred_fuzz::Tree::create(&root) {
        Ok(tree) => tree,
        Err(err) => {
            eprintln!("cannot write the base node into {}: {err}", root.display());
            std::process::exit(2);
        }
    };
    afl::fuzz!(|data: &[u8]| {
        if let Err(err) = tree.run(data) {
            panic!(
                "the harness cannot change the base node under {}: {err}",
                tree.root().display()
            );
        }
    });
}
