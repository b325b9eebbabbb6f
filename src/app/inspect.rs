//! `kubecred inspect`: the inventory, shown.

use anyhow::Result;

use crate::app::host::describe_scan;
use crate::app::options::{Format, GlobalOptions, InspectOptions};
use crate::app::{PathError, print, print_with, scan_host_or};
use crate::domain::findings::Thresholds;
use crate::domain::model::Inventory;
use crate::domain::report::Report;
use crate::edge::context::Context;
use crate::ui::render;

pub(super) fn run(global: &GlobalOptions, options: &InspectOptions, ctx: &Context) -> Result<u8> {
    // Named files as JSON are written as they are judged, a window at a time:
    // memory holds the CAs and at most three windows. The table (column widths), `--live`
    // and `-v` (counts first) read everything before they print.
    let streams = !options.paths.is_empty()
        && global.format == Format::Json
        && !options.live
        && !global.verbose;
    if streams
        && let Some(stream) = Inventory::stream_paths(
            &options.paths,
            ctx.expected_owner,
            ctx.now,
            Thresholds::default(),
        )
    {
        print_with(|out| {
            stream.write_with(|windows| {
                render::json::inspect_stream(stream.head(), ctx.now, windows, out)
            })
        })?;
        return Ok(0);
    }
    let inventory = if options.paths.is_empty() {
        scan_host_or(
            &global.scope(ctx),
            1,
            "pass --kubernetes-dir, or name files to inspect",
        )?
    } else {
        Inventory::scan_paths(&options.paths, ctx.expected_owner)
    };
    describe_scan(global.verbose, &inventory);
    let mut report = Report::new(&inventory, ctx.now, Thresholds::default());
    if options.live {
        report.with_live(crate::edge::live::probe(&inventory, &ctx.probing, None));
    }
    let text = match global.format {
        Format::Table => render::table::inspect(&report, global.paint),
        Format::Json => {
            print_with(|out| render::json::inspect(&report, out))?;
            return Ok(0);
        }
        Format::Nagios | Format::Prometheus => {
            return Err(PathError {
                message: "inspect prints table or json; nagios and prometheus are for `check`"
                    .into(),
                path: global.kubernetes_dir.clone(),
                hint: None,
                exit: 2,
            }
            .into());
        }
    };
    print(&text)?;
    Ok(0)
}
