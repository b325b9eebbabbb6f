//! AFL target: `kubecred_fuzz::kubeconfig` (input format in `src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| kubecred_fuzz::kubeconfig(data));
}
