//! Applying a list of file changes as one unit: back up, journal, write each
//! file atomically, and on any failure put every file back. Dropped without a
//! commit (a panic), a transaction puts every file back too. A journal left by
//! a crash is found by the next writing run (or `kubecred recover`), which
//! restores its backup first.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::domain::plan::{Action, Expect, Ownership, Write};
use crate::edge::apply::atomic::{self, Durability, WriteError};
use crate::edge::apply::backup::{self, Backup, Bounds};
use crate::edge::apply::hook::Hook;
use crate::edge::apply::kubectl;
use crate::edge::inventory::{Links, open_regular, read_opened};

/// Why applying failed, and what the host looks like now.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A file is not what the plan was made from: nothing was changed.
    #[error(
        "nothing was changed: {} changed since the plan was made (planned from {planned}, found {found})",
        path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// What the plan expected.
        planned: Expect,
        /// What is there.
        found: Expect,
    },
    /// The backup could not be made: nothing was changed.
    #[error("nothing was changed: {0}")]
    Backup(#[source] WriteError),
    /// A step failed and every file was restored from the backup.
    #[error("{cause}; every file was restored from backup {}", backup.display())]
    RolledBack {
        /// The failure.
        cause: String,
        /// The backup set used.
        backup: PathBuf,
    },
    /// A step failed and restoring failed too.
    #[error("{cause}; restoring failed too ({restore}): restore backup {} by hand", backup.display())]
    RollbackFailed {
        /// The first failure.
        cause: String,
        /// The restore's failure.
        restore: WriteError,
        /// The backup set to restore by hand.
        backup: PathBuf,
    },
}

/// The journal holds one backup id.
const MAX_JOURNAL_BYTES: u64 = 4096;

/// The journal of the transaction in flight.
fn journal(state_dir: &Path) -> PathBuf {
    state_dir.join("journal")
}

/// Applies `writes` to the tree `kubernetes_dir` as one unit; returns the backup made.
pub fn apply(
    state_dir: &Path,
    kubernetes_dir: &Path,
    operation: &str,
    writes: &[Write],
    now: OffsetDateTime,
    hook: &dyn Hook,
) -> Result<Backup, ApplyError> {
    let mut transaction =
        Transaction::begin(state_dir, kubernetes_dir, operation, writes, now, hook)?;
    for write in writes {
        if let Err(cause) = transaction.write(write) {
            return Err(transaction.abort(cause.to_string()));
        }
    }
    transaction.commit()
}

/// Writes in flight: backed up and journaled; each write atomic; ended by
/// `commit`, or `abort` which puts every file back. Dropped without either (a
/// panic), it puts every file back as `abort` does; a crash leaves the journal
/// for the next run to restore.
pub struct Transaction<'h> {
    backup: Backup,
    journal: PathBuf,
    hook: &'h dyn Hook,
    /// Folders written to whose fsync is due before the journal goes.
    unsynced: Vec<PathBuf>,
    /// Committed or aborted: nothing is left for `Drop` to undo.
    finished: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("backup", &self.backup.manifest.id)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl<'h> Transaction<'h> {
    /// Checks that every file `writes` will touch holds what the plan
    /// expects, backs them up from the same read, and writes the journal. A
    /// file that changed since the plan was made refuses them all, with
    /// nothing written (not even the backup).
    pub fn begin(
        state_dir: &Path,
        kubernetes_dir: &Path,
        operation: &str,
        writes: &[Write],
        now: OffsetDateTime,
        hook: &'h dyn Hook,
    ) -> Result<Self, ApplyError> {
        let mut files: Vec<(PathBuf, Expect)> = Vec::new();
        for write in writes {
            if !files.iter().any(|(path, _)| *path == write.path) {
                files.push((write.path.clone(), write.expect));
            }
        }
        let backup = match Backup::create(state_dir, kubernetes_dir, operation, &files, now, hook) {
            Ok(backup) => backup,
            Err(backup::CreateError::Write(err)) => return Err(ApplyError::Backup(err)),
            Err(backup::CreateError::Changed {
                path,
                planned,
                found,
            }) => {
                return Err(ApplyError::Changed {
                    path,
                    planned,
                    found,
                });
            }
        };
        // From here a panic (even inside the journal's write) undoes on drop.
        let mut transaction = Self {
            backup,
            journal: journal(state_dir),
            hook,
            unsynced: Vec::new(),
            finished: false,
        };
        if let Err(err) = atomic::write_with(
            &transaction.journal,
            transaction.backup.manifest.id.as_bytes(),
            Ownership::Keep(0o600),
            hook,
        ) {
            // The rename may have happened before the failing folder fsync: no journal may outlive this.
            transaction.finished = true;
            let _ = fs::remove_file(&transaction.journal);
            return Err(ApplyError::Backup(err));
        }
        Ok(transaction)
    }

    /// The backup set made at the start.
    pub fn backup(&self) -> &Backup {
        &self.backup
    }

    /// Writes or removes one file; the path must have been backed up by `begin`.
    pub fn write(&mut self, change: &Write) -> Result<(), WriteError> {
        if !self
            .backup
            .manifest
            .files
            .iter()
            .any(|entry| entry.path == change.path)
        {
            return Err(WriteError {
                step: "write (not backed up)",
                path: change.path.clone(),
                source: io::Error::other("every file a transaction writes must be backed up first"),
            });
        }
        // Outside the tree (a user's copy), a symlinked folder on the way could
        // send the write anywhere: only real folders lead there.
        let in_tree = self
            .backup
            .manifest
            .kubernetes_dir
            .as_ref()
            .is_some_and(|tree| {
                change.path.starts_with(&tree.0)
                    || fs::canonicalize(&tree.0).is_ok_and(|real| change.path.starts_with(real))
            });
        if !in_tree && !backup::through_real_folders(&change.path) {
            return Err(WriteError {
                step: "write",
                path: change.path.clone(),
                source: io::Error::other(
                    "a folder on the way is a symbolic link; refusing to write through it",
                ),
            });
        }
        write_change(change, self.hook)?;
        let dir = change
            .path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf();
        if !self.unsynced.contains(&dir) {
            self.unsynced.push(dir);
        }
        Ok(())
    }

    /// Ends the transaction: the journal goes, the changes stay.
    pub fn commit(mut self) -> Result<Backup, ApplyError> {
        // Every rename must be durable before the journal goes: until then a crash
        // is undone from the backup.
        for dir in &self.unsynced {
            if let Err(cause) = atomic::sync_dir(dir, self.hook) {
                return Err(self.abort(cause.to_string()));
            }
        }
        // Once every file is written, a journal left behind would undo them at the next run.
        if let Err(cause) = atomic::remove_with(&self.journal, self.hook) {
            return Err(self.abort(cause.to_string()));
        }
        self.finished = true;
        Ok(self.backup.clone())
    }

    /// Puts every file back after `cause`; the journal goes only once that succeeded.
    pub fn abort(mut self, cause: String) -> ApplyError {
        self.finished = true;
        match self.undo() {
            Ok(()) => ApplyError::RolledBack {
                cause,
                backup: self.backup.dir.clone(),
            },
            Err(restore) => ApplyError::RollbackFailed {
                cause,
                restore,
                backup: self.backup.dir.clone(),
            },
        }
    }

    /// Ends the transaction by putting every file back as it was (byte for
    /// byte, with its mode and owner): a change meant to last only a while.
    /// Should the restore fail, the journal stays for the next run to restore.
    pub fn revert(mut self) -> Result<Backup, WriteError> {
        self.finished = true;
        self.undo()?;
        Ok(self.backup.clone())
    }

    /// Restores the backup, then removes the journal.
    fn undo(&self) -> Result<(), WriteError> {
        self.backup.restore(self.hook)?;
        // If this fails too, the next run restores the same backup again: harmless.
        if atomic::remove_with(&self.journal, self.hook).is_err() {
            let _ = fs::remove_file(&self.journal);
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    /// Neither committed nor aborted (a panic, an early return): every file goes back.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        match self.undo() {
            Ok(()) => eprintln!(
                "kubecred: the change was interrupted; every file was restored from backup {}",
                self.backup.manifest.id
            ),
            Err(err) => eprintln!(
                "kubecred: the change was interrupted and restoring failed ({err}); `kubecred recover` restores backup {}",
                self.backup.manifest.id
            ),
        }
    }
}

/// A pending journal: the backup an interrupted run left to restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The backup's id.
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// The journal an interrupted run left, if any. Its content is never quoted:
/// a journal that is not a backup id is an error saying only that.
pub fn pending(state_dir: &Path) -> Result<Option<Pending>, String> {
    let path = journal(state_dir);
    let unreadable =
        |reason: String| format!("cannot read the journal {} ({reason})", path.display());
    let Some(opened) = open_regular(&path, Links::Refuse, MAX_JOURNAL_BYTES).map_err(unreadable)?
    else {
        return Ok(None);
    };
    let bytes = read_opened(opened.file, MAX_JOURNAL_BYTES).map_err(unreadable)?;
    let id = std::str::from_utf8(&bytes)
        .ok()
        .map(str::trim)
        .filter(|id| backup::is_id(id))
        .ok_or_else(|| unreadable("it does not hold a backup id; its content is not shown".into()))?
        .to_owned();
    let dir = backup::root(state_dir).join(&id);
    Ok(Some(Pending { id, dir }))
}

/// Restores the backup of a transaction a crash interrupted, if its manifest
/// stays inside `bounds`; returns its id.
pub fn recover(
    state_dir: &Path,
    bounds: &Bounds,
    hook: &dyn Hook,
) -> Result<Option<String>, String> {
    let Some(Pending { id, .. }) = pending(state_dir)? else {
        return Ok(None);
    };
    let backup = Backup::load(state_dir, &id)?;
    bounds
        .check(&backup.manifest)
        .map_err(|reason| format!("refusing backup `{id}`: its manifest {reason}"))?;
    // A crash while holding kubectl's lock would leave kubectl (and this restore)
    // unable to write the file: the locks kubecred made go first, never another's.
    for entry in &backup.manifest.files {
        kubectl::remove_stale(&entry.path);
    }
    backup.restore(hook).map_err(|err| {
        format!("an interrupted run left backup `{id}` to restore, and restoring it failed: {err}")
    })?;
    // A crash mid-write leaves our temporary file beside the file.
    for entry in &backup.manifest.files {
        atomic::remove_temporaries(&entry.path);
    }
    atomic::remove_with(&journal(state_dir), hook).map_err(|err| err.to_string())?;
    Ok(Some(id))
}

fn write_change(change: &Write, hook: &dyn Hook) -> Result<(), WriteError> {
    kubectl::locked(&change.path, change.kubeconfig, || match &change.action {
        Action::Write(bytes, ownership) => {
            atomic::replace(&change.path, bytes, *ownership, Durability::Deferred, hook)
        }
        Action::Remove => atomic::remove(&change.path, Durability::Deferred, hook),
    })
}
