//! `kubecred rollback`: list backups, or restore one after backing up the present.

use anyhow::Result;

use crate::app::renew::apply_error;
use crate::app::{PathError, begin_writing, confirm, describe_backup, print};
use crate::apply::atomic::Ownership;
use crate::apply::backup::Backup;
use crate::apply::hook::Proceed;
use crate::apply::transaction::{self, Action, Change};
use crate::cli::{Global, Output, RollbackArgs};
use crate::context::Context;
use crate::render;

pub(super) fn run(global: &Global, args: &RollbackArgs, ctx: &Context) -> Result<u8> {
    if args.list {
        let (backups, unreadable) = Backup::list_all(&global.state_dir);
        let text = match global.output {
            Output::Json => render::plan::backups_json(&backups, &unreadable),
            _ => render::plan::backups_table(&backups, &unreadable),
        };
        print(&text)?;
        return Ok(0);
    }
    let id = args.id.clone().unwrap_or_default();
    let _lock = begin_writing(global, args.write.dry_run, args.write.wait)?;
    let backup = Backup::load(&global.state_dir, &id).map_err(|message| PathError {
        message,
        path: crate::apply::backup::root(&global.state_dir),
        hint: Some("kubecred rollback --list shows the backups".into()),
        exit: 1,
    })?;
    print(&render::plan::restore_table(&backup))?;
    if args.write.dry_run {
        return Ok(0);
    }
    confirm(
        args.write.yes,
        ctx,
        &format!(
            "Restore {} file(s) from backup {id}?",
            backup.manifest.files.len()
        ),
    )?;
    let changes = changes(&backup)?;
    let current = transaction::apply(&global.state_dir, "rollback", &changes, ctx.now, &Proceed)
        .map_err(|err| apply_error(&err))?;
    describe_backup(global, &current);
    if !global.quiet {
        eprintln!(
            "restored backup {id}; the state before the rollback is in backup {}",
            current.manifest.id
        );
    }
    Ok(0)
}

/// The changes that put every file of `backup` back, verified against its manifest.
fn changes(backup: &Backup) -> Result<Vec<Change>> {
    backup
        .manifest
        .files
        .iter()
        .map(|entry| {
            let kubeconfig = entry.path.extension().is_some_and(|ext| ext == "conf");
            let action = match &entry.stored {
                Some(stored) if entry.existed => {
                    let bytes = backup.stored_copy(entry, stored).map_err(|err| PathError {
                        message: format!("{err}; nothing was changed"),
                        path: std::path::PathBuf::new(),
                        hint: None,
                        exit: 1,
                    })?;
                    Action::Write(
                        bytes,
                        Ownership::Exact {
                            mode: entry.mode,
                            uid: entry.uid,
                            gid: entry.gid,
                        },
                    )
                }
                _ => Action::Remove,
            };
            Ok(Change {
                path: entry.path.clone(),
                action,
                kubeconfig,
            })
        })
        .collect()
}
