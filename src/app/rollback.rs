//! `kubecred rollback`: list backups, or restore one after backing up the
//! present, into the kubernetes dir named (or, with `--into-original`, the one
//! the backup was taken of) and nowhere else.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::app::renew::apply_error;
use crate::app::{PathError, begin_writing, bounds, confirm, describe_backup, lock_refused, print};
use crate::domain::plan::{Action, Ownership, Write};
use crate::edge::apply::backup::{self, Backup, Bounds};
use crate::edge::apply::lock::{TreeLock, Wait};
use crate::edge::apply::state;
use crate::edge::apply::transaction;
use crate::edge::context::Context;
use crate::edge::inventory;
use crate::ui::cli::{Global, Output, RollbackArgs};
use crate::ui::render;

pub(super) fn run(global: &Global, args: &RollbackArgs, ctx: &Context) -> Result<u8> {
    if args.list {
        state::judge_state_dir(&global.state_dir).map_err(|err| PathError {
            message: format!("refusing the state folder: it {}", err.reason),
            path: err.path.clone(),
            hint: None,
            exit: 1,
        })?;
        let (backups, unreadable) = Backup::list_all(&global.state_dir);
        let text = match global.output {
            Output::Json => render::plan::backups_json(&backups, &unreadable),
            _ => render::plan::backups_table(&backups, &unreadable),
        };
        print(&text)?;
        return Ok(0);
    }
    let id = args.id.clone().unwrap_or_default();
    let _lock = begin_writing(global, args.write.dry_run, args.write.wait, ctx)?;
    if args.write.dry_run {
        state::judge_state_dir(&global.state_dir).map_err(|err| refused(err.to_string()))?;
    }
    let backup = Backup::load(&global.state_dir, &id).map_err(|message| PathError {
        message,
        path: backup::root(&global.state_dir),
        hint: Some("kubecred rollback --list shows the backups".into()),
        exit: 1,
    })?;
    let (tree, bounds) = target(global, args, &backup)?;
    bounds.check(&backup.manifest).map_err(|reason| PathError {
        message: format!("refusing backup `{id}`: its manifest {reason}; nothing was changed"),
        path: backup.dir.clone(),
        hint: None,
        exit: 1,
    })?;
    // The tree restored into is locked too when it is not the one named.
    let _original = if args.into_original && !args.write.dry_run {
        TreeLock::acquire(&tree, Wait::Never).map_err(|err| lock_refused(&err))?
    } else {
        None
    };
    print(&render::plan::restore_table(&backup))?;
    if args.write.dry_run {
        return Ok(0);
    }
    let changes = changes(&backup)?;
    if changes.is_empty() {
        if !global.quiet {
            eprintln!("nothing to restore: every file is as backup {id} has it");
        }
        return Ok(0);
    }
    confirm(
        args.write.yes,
        ctx,
        &format!("Restore {} file(s) from backup {id}?", changes.len()),
    )?;
    let current = transaction::apply(
        &global.state_dir,
        &tree,
        "rollback",
        &changes,
        ctx.now,
        &ctx.hook(),
    )
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

fn refused(message: String) -> PathError {
    PathError {
        message,
        path: PathBuf::new(),
        hint: None,
        exit: 1,
    }
}

/// The tree a backup goes back into, and where in it it may write: the
/// kubernetes dir named, unless the backup was taken of another one.
fn target(global: &Global, args: &RollbackArgs, backup: &Backup) -> Result<(PathBuf, Bounds)> {
    let named = bounds(global);
    let original = backup
        .manifest
        .kubernetes_dir
        .as_ref()
        .map(|dir| dir.0.clone());
    let same = |a: &Path, b: &Path| {
        a == b
            || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
    };
    match original {
        Some(original) if !same(&original, &global.kubernetes_dir) => {
            if !args.into_original {
                return Err(PathError {
                    message: format!(
                        "backup `{}` was taken of {}, not of this kubernetes dir; nothing was changed",
                        backup.manifest.id,
                        crate::domain::exact::escaped(&original)
                    ),
                    path: global.kubernetes_dir.clone(),
                    hint: Some(
                        "pass --kubernetes-dir naming the tree it was taken of, or --into-original to restore it there"
                            .into(),
                    ),
                    exit: 1,
                }
                .into());
            }
            let bounds = Bounds {
                folders: vec![original.clone(), original.join("pki")],
                copies: named.copies,
                files: named.files,
            };
            Ok((original, bounds))
        }
        _ => Ok((global.kubernetes_dir.clone(), named)),
    }
}

/// The changes that put every file of `backup` back, verified against its
/// manifest; files already as the backup has them are left alone.
fn changes(backup: &Backup) -> Result<Vec<Write>> {
    let mut changes = Vec::new();
    for entry in &backup.manifest.files {
        let kubeconfig = entry.kubeconfig || backup::is_kubeconfig_name(&entry.path);
        let (action, wanted) = match &entry.stored {
            Some(stored) if entry.existed => {
                let bytes = backup.stored_copy(entry, stored).map_err(|err| PathError {
                    message: format!("{err}; nothing was changed"),
                    path: PathBuf::new(),
                    hint: None,
                    exit: 1,
                })?;
                let ownership = Ownership::Exact {
                    mode: entry.mode,
                    uid: entry.uid,
                    gid: entry.gid,
                };
                (Action::Write(bytes.clone(), ownership), Some(bytes))
            }
            _ => (Action::Remove, None),
        };
        if backup::is_as_it_was(entry, wanted.as_deref()) {
            continue;
        }
        let expect = inventory::found(&entry.path).map_err(|reason| PathError {
            message: format!("{reason}; nothing was changed"),
            path: entry.path.clone(),
            hint: None,
            exit: 1,
        })?;
        changes.push(Write {
            path: entry.path.clone(),
            action,
            kubeconfig,
            expect,
        });
    }
    Ok(changes)
}
