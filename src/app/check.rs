//! `kubecred check`: findings, an exit status monitoring understands, and
//! optionally a Prometheus textfile.

use anyhow::Result;

use crate::app::{PathError, describe_scan, paint, print, scan_host, scope};
use crate::apply::atomic;
use crate::cli::{CheckArgs, Global, Output};
use crate::context::Context;
use crate::findings::{self, Thresholds};
use crate::online;
use crate::render;
use crate::report::{Report, Status};

pub(super) fn run(global: &Global, args: &CheckArgs, ctx: &Context) -> Result<u8> {
    let unknown = Status::Unknown.code();
    if args.crit > args.warn || args.ca_crit > args.ca_warn {
        return Err(PathError {
            message: "--crit must not be longer than --warn (and --ca-crit than --ca-warn)".into(),
            path: global.kubernetes_dir.clone(),
            hint: None,
            exit: unknown,
        }
        .into());
    }
    let inventory = scan_host(&scope(global, ctx), unknown)?;
    describe_scan(global, &inventory);
    let thresholds = Thresholds {
        warn: args.warn,
        crit: args.crit,
        ca_warn: args.ca_warn,
        ca_crit: args.ca_crit,
    };
    let mut report = Report::new(&inventory, ctx.now, thresholds);
    // The state dir is read for one thing only: an offline migration's mark.
    let mut mark = online::read_mark(&global.state_dir).map_err(|message| PathError {
        message,
        path: global.state_dir.clone(),
        hint: Some("remove it if kubecred did not write it".into()),
        exit: unknown,
    })?;
    if args.online {
        let timeout = std::time::Duration::try_from(args.api_timeout)
            .unwrap_or(crate::api::DEFAULT_TOTAL_TIMEOUT);
        let state = online::waiting("kubecred: asking the API server", || {
            online::binding_state(&inventory, args.server.as_deref(), timeout)
        });
        if mark.is_some() && online::binding_seen(&state) {
            match online::clear_mark(&global.state_dir) {
                Ok(()) => mark = None,
                Err(message) => eprintln!("kubecred: {}", crate::render::text::printable(&message)),
            }
        }
        report.extend(online::findings(&inventory, &state));
    }
    if let Some(mark) = mark {
        report.extend(vec![findings::binding_unverified(
            mark.admin.clone(),
            &crate::render::text::path(&mark.manifest),
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
