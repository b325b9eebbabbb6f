//! `kubecred inspect`: the inventory, shown.

use anyhow::Result;

use crate::app::{PathError, describe_scan, paint, print, scan_host_or, scope};
use crate::domain::findings::Thresholds;
use crate::domain::model::Inventory;
use crate::domain::report::Report;
use crate::edge::context::Context;
use crate::ui::cli::{Global, InspectArgs, Output};
use crate::ui::render;

pub(super) fn run(global: &Global, args: &InspectArgs, ctx: &Context) -> Result<u8> {
    let inventory = if args.paths.is_empty() {
        scan_host_or(
            &scope(global, ctx),
            1,
            "pass --kubernetes-dir, or name files to inspect",
        )?
    } else {
        Inventory::scan_paths(&args.paths, ctx.expected_owner)
    };
    describe_scan(global, &inventory);
    let mut report = Report::new(&inventory, ctx.now, Thresholds::default());
    if args.live {
        report.with_live(crate::edge::live::probe(&inventory, &ctx.probing, None));
    }
    let text = match global.output {
        Output::Table => render::table::inspect(&report, paint(global, ctx)),
        Output::Json => render::json::inspect(&report),
        Output::Nagios | Output::Prometheus => {
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
