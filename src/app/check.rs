//! `kubecred check`: findings, an exit status monitoring understands, and
//! optionally a Prometheus textfile.

use anyhow::Result;

use crate::app::host::describe_scan;
use crate::app::options::{CheckOptions, Format, GlobalOptions};
use crate::app::{PathError, lock_error, print, print_with, scan_host};
use crate::domain::findings;
use crate::domain::report::{Report, Status};
use crate::edge::apply::atomic;
use crate::edge::apply::lock::{CHECK_WAIT, SharedLock};
use crate::edge::apply::state;
use crate::edge::apply::transaction::{self, Pending};
use crate::edge::context::Context;
use crate::edge::online;
use crate::ui::cli::CheckArgs;
use crate::ui::render;

/// Runs `check`. Whenever it cannot judge the node (a bad threshold, no
/// kubeadm layout, a lock held, a state dir refused, ...), the `--textfile`
/// is still replaced, with status 3 and success 0: a failing check never
/// leaves the metrics of the last good one looking current.
pub(super) fn run(global: &GlobalOptions, args: &CheckArgs, ctx: &Context) -> Result<u8> {
    let options = CheckOptions::new(args, global, ctx);
    let textfile = match &options {
        Ok(options) => options.textfile.clone(),
        Err(_) => crate::app::options::textfile(args, ctx),
    };
    let result = options
        .map_err(anyhow::Error::from)
        .and_then(|options| judge(global, &options, ctx));
    if let (Err(err), Some(path)) = (&result, &textfile) {
        let unwritable = err
            .downcast_ref::<PathError>()
            .is_some_and(|failure| failure.path == *path);
        if !unwritable {
            record_failure(ctx, path);
        }
    }
    result
}

/// Replaces the textfile at `path` (relative to the working folder) with the
/// metrics of a check that could not judge the node: status 3, success 0. A
/// textfile that cannot be written is said on stderr; the check's own error
/// stands.
pub fn record_failure(ctx: &Context, path: &std::path::Path) {
    let path = ctx.absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Err(write) = atomic::write(&path, render::prometheus::failed(ctx.now).as_bytes(), 0o644)
    {
        eprintln!(
            "kubecred: {}",
            crate::ui::render::text::printable(&format!(
                "cannot write the textfile ({}): {}",
                path.display(),
                write.source
            ))
        );
    }
}

/// Judges the node and reports it in every way asked for.
fn judge(global: &GlobalOptions, options: &CheckOptions, ctx: &Context) -> Result<u8> {
    let unknown = Status::Unknown.code();
    // A writer holds the tree's lock: judging the tree now would report its
    // transient state, so wait a moment, then say who holds it.
    let tree_lock = SharedLock::acquire(&global.kubernetes_dir, CHECK_WAIT).map_err(|err| {
        let (message, path) = lock_error(&err);
        PathError {
            message: format!("cannot judge the node now: {message}"),
            path,
            hint: Some("run check again once the other kubecred run is done".into()),
            exit: unknown,
        }
    })?;
    let pending = pending_change(global, unknown)?;
    let inventory = scan_host(&global.scope(ctx), unknown)?;
    drop(tree_lock);
    describe_scan(global.verbose, &inventory);
    let mut report = Report::new(&inventory, ctx.now, options.thresholds);
    if let Some(pending) = pending {
        report.extend(vec![findings::interrupted_change(
            &pending.id,
            &pending.dir,
        )]);
    }
    // The state dir is read for one thing only: an offline migration's mark.
    let mut mark = online::read_mark(&global.state_dir).map_err(|message| PathError {
        message,
        path: global.state_dir.clone(),
        hint: Some("remove it if kubecred did not write it".into()),
        exit: unknown,
    })?;
    if let Some(ask) = &options.online {
        let state = online::waiting("kubecred: asking the API server", || {
            online::binding_state(&inventory, ask.server.as_deref(), ask.timeout)
        });
        if mark.is_some() && online::binding_seen(&state) {
            match online::clear_mark(&global.state_dir) {
                Ok(()) => mark = None,
                Err(message) => {
                    eprintln!("kubecred: {}", crate::ui::render::text::printable(&message));
                }
            }
        }
        report.extend(online::findings(&inventory, &state));
    }
    if options.live {
        report.with_live(crate::edge::live::probe(&inventory, &ctx.probing, None));
    }
    if let Some(mark) = mark {
        report.extend(vec![findings::binding_unverified(
            mark.admin.clone(),
            &crate::ui::render::text::path(&mark.manifest),
            &mark.apply_line(),
        )]);
    }
    if let Some(path) = &options.textfile {
        atomic::write(path, render::prometheus::check(&report).as_bytes(), 0o644).map_err(
            |err| PathError {
                message: format!("cannot write the textfile: {}", err.source),
                path: path.clone(),
                hint: None,
                exit: unknown,
            },
        )?;
    }
    let text = match global.format {
        Format::Table => render::table::check(&report, global.paint),
        Format::Json => {
            print_with(|out| render::json::check(&report, out))?;
            return Ok(report.status().code());
        }
        Format::Nagios => render::nagios::check(&report),
        Format::Prometheus => render::prometheus::check(&report),
    };
    print(&text)?;
    Ok(report.status().code())
}

/// The change an interrupted run left pending, if any; a state dir that
/// cannot be read or trusted is UNKNOWN.
fn pending_change(global: &GlobalOptions, unknown: u8) -> Result<Option<Pending>> {
    let fail = |message: String, path: std::path::PathBuf| PathError {
        message,
        path,
        hint: Some("check --state-dir; kubecred trusts only a 0700 folder of root's".into()),
        exit: unknown,
    };
    // A folder of root's that this user may not read is no fault of the folder.
    if let Err(err) = state::readable(&global.state_dir)
        && err.kind() == std::io::ErrorKind::PermissionDenied
    {
        return Err(PathError {
            message: format!(
                "cannot read the state folder as uid {} (permission denied)",
                crate::edge::inventory::reader_uid()
            ),
            path: global.state_dir.clone(),
            hint: Some(
                "run kubecred check as root, or with CAP_DAC_READ_SEARCH for a read-only check"
                    .into(),
            ),
            exit: unknown,
        }
        .into());
    }
    if state::judge_state_dir(&global.state_dir).map_err(|err| {
        fail(
            format!("refusing the state folder: it {}", err.reason),
            err.path,
        )
    })? == state::Presence::Absent
    {
        return Ok(None);
    }
    if let Err(err) = state::readable(&global.state_dir) {
        return Err(fail(
            format!("cannot read the state folder ({err})"),
            global.state_dir.clone(),
        )
        .into());
    }
    Ok(transaction::pending(&global.state_dir)
        .map_err(|message| fail(message, global.state_dir.clone()))?)
}
