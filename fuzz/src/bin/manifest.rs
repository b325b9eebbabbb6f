//! AFL target: `kubecred_fuzz::manifest` (input format in `src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| kubecred_fuzz::manifest(data));
}
