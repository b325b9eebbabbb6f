//! AFL target: `kubecred_fuzz::cert` (input format in `src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| kubecred_fuzz::cert(data));
}
