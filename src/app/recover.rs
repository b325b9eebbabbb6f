//! `kubecred recover`: repair what an interrupted run left half-done, and
//! nothing else. Run at boot before the kubelet, so static pods never start
//! on a key and a certificate that do not belong together.

use anyhow::Result;

use crate::app::host::{recover, sweep, take_lock};
use crate::app::options::{GlobalOptions, RecoverOptions};
use crate::edge::context::Context;

/// 0: nothing to do, or repaired; 4 (from `recover`): it could not be repaired.
pub(super) fn run(global: &GlobalOptions, options: &RecoverOptions, ctx: &Context) -> Result<u8> {
    let _lock = take_lock(global, options.wait)?;
    let repaired = recover(global, ctx)?;
    sweep(global);
    if repaired.is_none() && !global.quiet {
        eprintln!("nothing to recover");
    }
    Ok(0)
}
