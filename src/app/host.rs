//! Around every writing command's core: the run locks, the repair of a
//! crashed run and the removal of what it left; and what `-v` says about
//! the scan and the files a transaction wrote.

use anyhow::Result;

use crate::app::options::{GlobalOptions, WriteOptions};
use crate::app::{PathError, lock_refused};
use crate::domain::model::Inventory;
use crate::edge::apply::backup::Backup;
use crate::edge::apply::lock::{RunLock, Wait};
use crate::edge::context::Context;
use crate::ui::render::text;

/// Before a writing command: the run locks, the repair of a crashed run, then
/// the removal of what crashed runs left. A dry run takes none: it only reads.
pub(super) fn begin_writing(
    global: &GlobalOptions,
    write: &WriteOptions,
    ctx: &Context,
) -> Result<Option<RunLock>> {
    if write.dry_run {
        return Ok(None);
    }
    lock_for_writing(global, write.wait, ctx).map(Some)
}

/// The run locks, then the repair of a crashed run and the removal of what
/// crashed runs left: what every change begins with.
pub(super) fn lock_for_writing(
    global: &GlobalOptions,
    wait: Wait,
    ctx: &Context,
) -> Result<RunLock> {
    let lock = take_lock(global, wait)?;
    recover(global, ctx)?;
    sweep(global);
    Ok(lock)
}

/// Removes what crashed runs left in the state dir (under the lock).
pub(super) fn sweep(global: &GlobalOptions) {
    for removed in crate::edge::apply::backup::sweep(&global.state_dir) {
        if global.verbose {
            eprintln!(
                "kubecred: removed what an interrupted run left: {}",
                text::path(&removed)
            );
        }
    }
}

/// The run locks of the kubernetes dir and the state dir, exclusive.
pub(super) fn take_lock(global: &GlobalOptions, wait: Wait) -> Result<RunLock> {
    RunLock::acquire(&global.state_dir, &global.kubernetes_dir, wait)
        .map_err(|err| lock_refused(&err).into())
}

/// Restores what a crashed run left half-done, before anything else.
pub(super) fn recover(global: &GlobalOptions, ctx: &Context) -> Result<Option<String>> {
    match crate::edge::apply::transaction::recover(&global.state_dir, &global.bounds(), &ctx.hook())
    {
        Ok(Some(id)) => {
            eprintln!("an interrupted run was found: restored its backup {id} first");
            Ok(Some(id))
        }
        Ok(None) => Ok(None),
        Err(message) => Err(PathError {
            message,
            path: global.state_dir.clone(),
            hint: Some(
                "restore the backup by hand (kubecred rollback --list), then remove the journal"
                    .into(),
            ),
            exit: 4,
        }
        .into()),
    }
}

/// With `-v` (`verbose`): what the scan found, on stderr.
pub(super) fn describe_scan(verbose: bool, inventory: &Inventory) {
    if !verbose {
        return;
    }
    let present = inventory
        .credentials
        .iter()
        .filter(|c| c.material().is_some())
        .count();
    eprintln!(
        "kubecred: {present} of {} credentials read under {} (certificates in {}); {} admin copies found elsewhere",
        inventory.credentials.len(),
        text::path(&inventory.kubernetes_dir),
        text::path(&inventory.cert_dir),
        inventory.copies.len()
    );
    for (path, reason) in &inventory.skipped_copies {
        eprintln!(
            "kubecred: not read as a copy: {}: {}",
            text::path(path),
            text::printable(reason)
        );
    }
}

/// With `-v` (`verbose`): every file a finished transaction wrote or removed, on stderr.
pub(super) fn describe_backup(verbose: bool, backup: &Backup) {
    if !verbose {
        return;
    }
    for entry in &backup.manifest.files {
        eprintln!(
            "kubecred: {} {}",
            if entry.existed { "replaced" } else { "created" },
            text::path(&entry.path)
        );
    }
}
