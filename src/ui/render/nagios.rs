//! The monitoring-plugin format: one status line with perfdata, then one line
//! per warning or critical finding (plugin "long output").

use std::fmt::Write as _;

use crate::domain::findings::Severity;
use crate::domain::layout::Kind;
use crate::domain::model::State;
use crate::domain::report::Report;
use crate::ui::render::text::printable;

/// `KUBECRED WARNING - ... | 'admin.conf'=25d;30;7;0 ...`
pub fn check(report: &Report<'_>) -> String {
    let status = report.status();
    let alerts: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.severity >= Severity::Warning)
        .collect();
    let summary = if alerts.is_empty() {
        let nearest = report
            .inventory
            .credentials
            .iter()
            .filter(|cred| cred.kind != Kind::Ca)
            .filter_map(|cred| cred.material().map(|m| (cred, m.certificate.not_after)))
            .min_by_key(|(_, not_after)| *not_after);
        match nearest {
            Some((cred, not_after)) => format!(
                "all credentials valid; next expiry {} in {}d",
                plugin_text(&cred.name),
                (not_after - report.now).whole_days()
            ),
            None => "no credentials found".into(),
        }
    } else {
        let mut parts: Vec<String> = alerts
            .iter()
            .map(|finding| {
                format!(
                    "{} {}",
                    plugin_text(&finding.credential),
                    finding.code.as_str()
                )
            })
            .collect();
        parts.dedup();
        let shown = parts.len().min(5);
        let more = if parts.len() > shown {
            format!(" (+{} more)", parts.len() - shown)
        } else {
            String::new()
        };
        format!(
            "{} problem(s): {}{more}",
            alerts.len(),
            parts[..shown].join(", ")
        )
    };
    let summary = match &report.live {
        Some(live) => format!(
            "{summary}; {}",
            crate::ui::render::live::nagios_summary(live)
        ),
        None => summary,
    };
    let mut out = format!(
        "KUBECRED {} - {summary} | {}\n",
        status.name(),
        perfdata(report)
    );
    for finding in alerts {
        let _ = writeln!(
            out,
            "{}: {} {}: {}",
            finding.severity.as_str().to_uppercase(),
            plugin_text(&finding.credential),
            finding.code.as_str(),
            plugin_text(&finding.message)
        );
    }
    out
}

/// Days left per certificate with the thresholds that apply to it.
fn perfdata(report: &Report<'_>) -> String {
    let days = |duration: time::Duration| duration.whole_days();
    report
        .inventory
        .credentials
        .iter()
        .filter_map(|cred| match &cred.state {
            State::Present(material) => {
                let (warn, crit) = if cred.kind == Kind::Ca {
                    (report.thresholds.ca_warn, report.thresholds.ca_crit)
                } else {
                    (report.thresholds.warn, report.thresholds.crit)
                };
                Some(format!(
                    "'{}'={}d;{};{};0",
                    plugin_text(&cred.name).replace('\'', "\""),
                    days(material.certificate.not_after - report.now),
                    days(warn),
                    days(crit)
                ))
            }
            _ => None,
        })
        .chain(report.live.iter().flat_map(|live| {
            crate::ui::render::live::nagios_perfdata(
                live,
                report.now,
                days(report.thresholds.warn),
                days(report.thresholds.crit),
            )
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text from a file, safe for a plugin line: [`printable`], and no `|`, which
/// would start the perfdata.
fn plugin_text(text: &str) -> String {
    printable(text).replace('|', "\\x7c")
}
