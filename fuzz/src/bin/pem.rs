//! AFL target: `kubecred_fuzz::pem` (input format in `src/targets.rs`).

fn main() {
    afl::fuzz!(|data: &[u8]| kubecred_fuzz::pem(data));
}
