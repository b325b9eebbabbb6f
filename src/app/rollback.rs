//! `kubecred rollback`: list backups, or restore one after backing up the
//! present, into the kubernetes dir named (or, with `--into-original`, the one
//! the backup was taken of) and nowhere else. Planning and carrying out are
//! apart, so that the wizard carries out the very restore it showed.

use std::path::PathBuf;

use anyhow::Result;

use crate::app::host::{begin_writing, describe_backup};
use crate::app::options::{Format, GlobalOptions, RestoreOptions, RollbackOptions, WriteOptions};
use crate::app::renew::apply_error;
use crate::app::{PathError, confirm, lock_refused, print};
use crate::domain::plan::{Action, Ownership, Write};
use crate::domain::renew;
use crate::edge::apply::backup::{self, Backup, Bounds};
use crate::edge::apply::lock::{RunLock, TreeLock, Wait};
use crate::edge::apply::state;
use crate::edge::apply::transaction;
use crate::edge::context::Context;
use crate::edge::inventory::{self, presence};
use crate::ui::render;

pub(super) fn run(global: &GlobalOptions, options: &RollbackOptions, ctx: &Context) -> Result<u8> {
    match options {
        RollbackOptions::List => list(global),
        RollbackOptions::Restore(restore) => self::restore(global, restore, ctx),
    }
}

/// Every backup, and the sets that cannot be read.
fn list(global: &GlobalOptions) -> Result<u8> {
    state::judge_state_dir(&global.state_dir).map_err(|err| PathError {
        message: format!("refusing the state folder: it {}", err.reason),
        path: err.path.clone(),
        hint: None,
        exit: 1,
    })?;
    let (backups, unreadable) = Backup::list_all(&global.state_dir);
    let text = match global.format {
        Format::Json => render::plan::backups_json(&backups, &unreadable),
        _ => render::plan::backups_table(&backups, &unreadable),
    };
    print(&text)?;
    Ok(0)
}

/// A restore planned from one backup: what is shown and, once confirmed,
/// exactly what is written back.
pub(super) struct Planned {
    options: RestoreOptions,
    backup: Backup,
    tree: PathBuf,
    changes: Vec<Write>,
}

impl Planned {
    /// The backup restored, for showing.
    pub(super) fn backup(&self) -> &Backup {
        &self.backup
    }

    /// How it is to be written.
    pub(super) fn write(&self) -> &WriteOptions {
        &self.options.write
    }

    /// Whether every file is already as the backup has it.
    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Restores one backup after backing up the present.
fn restore(global: &GlobalOptions, options: &RestoreOptions, ctx: &Context) -> Result<u8> {
    let id = &options.id;
    let lock = begin_writing(global, &options.write, ctx)?;
    if options.write.dry_run {
        state::judge_state_dir(&global.state_dir).map_err(|err| refused(err.to_string()))?;
    }
    let (backup, tree) = locate(global, options)?;
    // The tree restored into is locked too when it is not the one named.
    let _original = if options.into_original && !options.write.dry_run {
        TreeLock::acquire(&tree, Wait::Never).map_err(|err| lock_refused(&err))?
    } else {
        None
    };
    let json = global.format == Format::Json;
    if !json {
        print(&render::plan::restore_table(&backup))?;
    } else if !options.write.yes && !options.write.dry_run {
        // JSON carries one document, the result: the restore asked about goes to stderr.
        eprint!("{}", render::plan::restore_table(&backup));
    }
    // No lock is a dry run: it only shows.
    let Some(lock) = lock else {
        if json {
            let planned = with_changes(options, backup, tree)?;
            print(&restore_json(global, &planned, None))?;
        }
        return Ok(0);
    };
    let planned = with_changes(options, backup, tree)?;
    if planned.is_empty() {
        if !global.quiet {
            eprintln!("{}", nothing_to_restore(id));
        }
        if json {
            print(&restore_json(global, &planned, None))?;
        }
        return Ok(0);
    }
    confirm(
        options.write.yes,
        ctx,
        &format!(
            "Restore {} file(s) from backup {id}?",
            planned.changes.len()
        ),
    )?;
    execute(global, &planned, &lock, ctx)
}

/// Plans the restore of a backup: the backup, checked against where it may
/// write, and the files to put back; takes no lock and writes nothing.
pub(super) fn plan(global: &GlobalOptions, options: &RestoreOptions) -> Result<Planned> {
    let (backup, tree) = locate(global, options)?;
    with_changes(options, backup, tree)
}

/// The restore of `backup` into `tree`, with the files to put back.
fn with_changes(options: &RestoreOptions, backup: Backup, tree: PathBuf) -> Result<Planned> {
    Ok(Planned {
        options: options.clone(),
        changes: changes(&backup)?,
        backup,
        tree,
    })
}

/// Why a restore has nothing to do.
pub(super) fn nothing_to_restore(id: &str) -> String {
    format!("nothing to restore: every file is as backup {id} has it")
}

/// Writes back exactly the files `planned` holds, after backing up the
/// present, in one transaction under the run lock (and, for another tree
/// than the one named, that tree's lock, which the caller holds).
pub(super) fn execute(
    global: &GlobalOptions,
    planned: &Planned,
    _lock: &RunLock,
    ctx: &Context,
) -> Result<u8> {
    let current = transaction::apply(
        &global.state_dir,
        &planned.tree,
        "rollback",
        &planned.changes,
        ctx.now,
        &ctx.hook(),
    )
    .map_err(|err| apply_error(&err))?;
    describe_backup(global.verbose, &current);
    if global.format == Format::Json {
        print(&restore_json(
            global,
            planned,
            Some((&current.manifest.id, &current.dir)),
        ))?;
    }
    if !global.quiet {
        eprintln!(
            "restored backup {}; the state before the rollback is in backup {}",
            planned.options.id, current.manifest.id
        );
        let pods = pods_to_restart(global, planned);
        if !pods.is_empty() {
            eprintln!(
                "You must restart {} so that {} the restored certificates.",
                pods.join(", "),
                if pods.len() == 1 {
                    "it loads"
                } else {
                    "they load"
                }
            );
        }
    }
    Ok(0)
}

/// The restore as JSON; `backup` is the set the present went into, once applied.
fn restore_json(
    global: &GlobalOptions,
    planned: &Planned,
    backup: Option<(&str, &std::path::Path)>,
) -> String {
    render::plan::restore_json(
        &planned.options.id,
        &planned.changes,
        backup,
        &pods_to_restart(global, planned),
    )
}

/// The static pods that read a credential file the restore puts back.
fn pods_to_restart(global: &GlobalOptions, planned: &Planned) -> Vec<&'static str> {
    let cert_dir = if planned.tree == global.kubernetes_dir {
        global.cert_dir.clone()
    } else {
        planned.tree.join("pki")
    };
    let names: Vec<String> = planned
        .changes
        .iter()
        .filter_map(|change| renew::credential_at(&change.path, &planned.tree, &cert_dir))
        .map(str::to_owned)
        .collect();
    renew::pods_to_restart(&names)
}

/// The backup named and the tree it goes back into, its manifest checked
/// against where it may write.
fn locate(global: &GlobalOptions, options: &RestoreOptions) -> Result<(Backup, PathBuf)> {
    let id = &options.id;
    let backup = Backup::load(&global.state_dir, id).map_err(|message| PathError {
        message,
        path: backup::root(&global.state_dir),
        hint: Some("kubecred rollback --list shows the backups".into()),
        exit: 1,
    })?;
    let (tree, bounds) = target(global, options, &backup)?;
    bounds.check(&backup.manifest).map_err(|reason| PathError {
        message: format!("refusing backup `{id}`: its manifest {reason}; nothing was changed"),
        path: backup.dir.clone(),
        hint: None,
        exit: 1,
    })?;
    Ok((backup, tree))
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
fn target(
    global: &GlobalOptions,
    args: &RestoreOptions,
    backup: &Backup,
) -> Result<(PathBuf, Bounds)> {
    let named = global.bounds();
    let original = backup
        .manifest
        .kubernetes_dir
        .as_ref()
        .map(|dir| dir.0.clone());
    match original {
        Some(original) if !presence::same_place(&original, &global.kubernetes_dir) => {
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
