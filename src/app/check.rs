//! `kubecred check`: findings, an exit status monitoring understands, and
//! optionally a Prometheus textfile.

use anyhow::Result;

use crate::app::{PathError, describe_scan, lock_error, paint, print, scan_host, scope};
use crate::domain::findings::{self, Thresholds};
use crate::domain::report::{Report, Status};
use crate::edge::apply::atomic;
use crate::edge::apply::lock::{CHECK_WAIT, SharedLock};
use crate::edge::apply::state;
use crate::edge::apply::transaction::{self, Pending};
use crate::edge::context::Context;
use crate::edge::online;
use crate::ui::cli::{CheckArgs, Global, Output};
use crate::ui::render;

pub(super) fn run(global: &Global, args: &CheckArgs, ctx: &Context) -> Result<u8> {
    let unknown = Status::Unknown.code();
    let longer = if args.crit > args.warn {
        Some(("--crit", args.crit, "--warn", args.warn))
    } else if args.ca_crit > args.ca_warn {
        Some(("--ca-crit", args.ca_crit, "--ca-warn", args.ca_warn))
    } else {
        None
    };
    if let Some((crit_flag, crit, warn_flag, warn)) = longer {
        return Err(PathError {
            message: format!(
                "{crit_flag} {} must not be longer than {warn_flag} {}",
                crate::domain::span::exact(crit),
                crate::domain::span::exact(warn)
            ),
            path: global.kubernetes_dir.clone(),
            hint: None,
            exit: unknown,
        }
        .into());
    }
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
    let inventory = scan_host(&scope(global, ctx), unknown)?;
    drop(tree_lock);
    describe_scan(global, &inventory);
    let thresholds = Thresholds {
        warn: args.warn,
        crit: args.crit,
        ca_warn: args.ca_warn,
        ca_crit: args.ca_crit,
    };
    let mut report = Report::new(&inventory, ctx.now, thresholds);
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
    if args.online {
        let timeout = std::time::Duration::try_from(args.api_timeout)
            .unwrap_or(crate::edge::api::DEFAULT_TOTAL_TIMEOUT);
        let state = online::waiting("kubecred: asking the API server", || {
            online::binding_state(&inventory, args.server.as_deref(), timeout)
        });
        if mark.is_some() && online::binding_seen(&state) {
            match online::clear_mark(&global.state_dir) {
                Ok(()) => mark = None,
                Err(message) => {
                    eprintln!("kubecred: {}", crate::ui::render::text::printable(&message))
                }
            }
        }
        report.extend(online::findings(&inventory, &state));
    }
    if args.live {
        report.with_live(crate::edge::live::probe(&inventory, &ctx.probing, None));
    }
    if let Some(mark) = mark {
        report.extend(vec![findings::binding_unverified(
            mark.admin.clone(),
            &crate::ui::render::text::path(&mark.manifest),
            &mark.apply_line(),
        )]);
    }
    if let Some(path) = &args.textfile {
        atomic::write(path, render::prometheus::check(&report).as_bytes(), 0o644).map_err(
            |err| PathError {
                message: format!("cannot write the textfile: {}", err.source),
                path: path.clone(),
                hint: None,
                exit: unknown,
            },
        )?;
    }
    let text = match global.output {
        Output::Table => render::table::check(&report, paint(global, ctx)),
        Output::Json => render::json::check(&report),
        Output::Nagios => render::nagios::check(&report),
        Output::Prometheus => render::prometheus::check(&report),
    };
    print(&text)?;
    Ok(report.status().code())
}

/// The change an interrupted run left pending, if any; a state dir that
/// cannot be read or trusted is UNKNOWN.
fn pending_change(global: &Global, unknown: u8) -> Result<Option<Pending>> {
    let fail = |message: String, path: std::path::PathBuf| PathError {
        message,
        path,
        hint: Some("check --state-dir; kubecred trusts only a 0700 folder of root's".into()),
        exit: unknown,
    };
    if state::judge_state_dir(&global.state_dir).map_err(|err| {
        fail(
            format!("refusing the state folder: it {}", err.reason),
            err.path,
        )
    })? == state::Presence::Absent
    {
        return Ok(None);
    }
    if let Err(err) = std::fs::read_dir(&global.state_dir) {
        return Err(fail(
            format!("cannot read the state folder ({err})"),
            global.state_dir.clone(),
        )
        .into());
    }
    Ok(transaction::pending(&global.state_dir)
        .map_err(|message| fail(message, global.state_dir.clone()))?)
}
