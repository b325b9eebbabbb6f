//! The wizard's move of super-admin.conf off the node: planned from the
//! bytes read once, then carried out as one transaction that writes those
//! bytes to the new place, proves the copy by re-reading it, and only then
//! removes the file from the kubernetes dir.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::app::PathError;
use crate::app::options::{GlobalOptions, WriteOptions};
use crate::app::renew::apply_error;
use crate::domain::plan::{Action, Expect, Ownership, Write};
use crate::edge::apply::hook::Proceed;
use crate::edge::apply::lock::RunLock;
use crate::edge::apply::transaction::Transaction;
use crate::edge::context::Context;
use crate::edge::inventory::{self, Links, presence};
use crate::ui::render::text;

/// A planned move: the file, where it goes, and the bytes planned from,
/// which are what is written (never printed: they hold a private key).
pub(super) struct Planned {
    write: WriteOptions,
    from: PathBuf,
    to: PathBuf,
    bytes: Vec<u8>,
}

impl Planned {
    /// How it is to be written.
    pub(super) fn write(&self) -> &WriteOptions {
        &self.write
    }
}

/// Plans the move of the kubernetes dir's super-admin.conf to `to`: a free
/// path in an existing folder, and a kubeconfig to move. Writes nothing;
/// the error says why it cannot be done.
pub(super) fn plan(global: &GlobalOptions, to: &Path, write: WriteOptions) -> Result<Planned> {
    let refused = |message: String| PathError {
        message,
        path: PathBuf::new(),
        hint: None,
        exit: 1,
    };
    if presence::exists(to) {
        return Err(refused(format!(
            "{} exists already; name a new file",
            text::path(to)
        ))
        .into());
    }
    if !to.parent().is_some_and(presence::is_folder) {
        return Err(refused(format!(
            "{} has no folder to go in (is the medium mounted?)",
            text::path(to)
        ))
        .into());
    }
    let from = global.kubernetes_dir.join("super-admin.conf");
    let unusable = |message: String| PathError {
        message,
        path: from.clone(),
        hint: None,
        exit: 1,
    };
    let bytes = inventory::read_file(&from, Links::Refuse)
        .and_then(|read| read.ok_or_else(|| "file is absent".to_owned()))
        .map(|(bytes, _)| bytes)
        .map_err(unusable)?;
    crate::domain::kubeconfig::Kubeconfig::parse(&bytes).map_err(unusable)?;
    Ok(Planned {
        write,
        from,
        to: to.to_path_buf(),
        bytes,
    })
}

/// The steps of `planned`, as the wizard shows them.
pub(super) fn show(global: &GlobalOptions, planned: &Planned) -> String {
    format!(
        "STEP   ACTION\n1      back up {0} into {1}\n2      write {2} (0600, owned by root)\n3      re-read {2} and compare it byte for byte\n4      remove {0}\n",
        text::path(&planned.from),
        text::path(&crate::edge::apply::backup::root(&global.state_dir)),
        text::path(&planned.to)
    )
}

/// Writes the bytes planned from to the new place, proves the copy by
/// re-reading it, then removes the old file; one transaction under the run lock.
pub(super) fn execute(
    global: &GlobalOptions,
    planned: Planned,
    _lock: &RunLock,
    ctx: &Context,
) -> Result<u8> {
    let Planned {
        from, to, bytes, ..
    } = planned;
    let write = Write {
        path: to.clone(),
        action: Action::Write(
            bytes.clone(),
            Ownership::Exact {
                mode: 0o600,
                uid: 0,
                gid: 0,
            },
        ),
        kubeconfig: false,
        expect: Expect::Absent,
    };
    let remove = Write {
        path: from.clone(),
        action: Action::Remove,
        kubeconfig: false,
        expect: Expect::of(Some(&bytes)),
    };
    let mut transaction = Transaction::begin(
        &global.state_dir,
        &global.kubernetes_dir,
        "move-super-admin",
        &[write.clone(), remove.clone()],
        ctx.now,
        &Proceed,
    )
    .map_err(|err| apply_error(&err))?;
    let steps = transaction
        .write(&write)
        .map_err(|err| err.to_string())
        .and_then(|()| {
            let copy = inventory::read_file(&to, Links::Refuse)
                .and_then(|read| read.ok_or_else(|| "it is absent".to_owned()))
                .map(|(copy, _)| copy)
                .map_err(|err| format!("cannot re-read {}: {err}", text::path(&to)))?;
            if copy != bytes {
                return Err(format!("{} does not read back as written", text::path(&to)));
            }
            transaction.write(&remove).map_err(|err| err.to_string())
        });
    if let Err(cause) = steps {
        return Err(apply_error(&transaction.abort(cause)));
    }
    let backup = transaction.commit().map_err(|err| apply_error(&err))?;
    eprintln!(
        "super-admin.conf moved to {} (0600) and removed from {}; backup {}",
        text::path(&to),
        text::path(&global.kubernetes_dir),
        backup.manifest.id
    );
    Ok(0)
}
