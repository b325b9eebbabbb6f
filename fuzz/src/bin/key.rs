//! AFL target: `kubecred_fuzz::key` (input format in `src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| kubecred_fuzz::key(data));
}
