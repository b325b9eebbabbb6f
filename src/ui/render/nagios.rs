//! The monitoring-plugin format (Monitoring Plugins development guidelines,
//! Nagios plugin API): one status line with perfdata, then one line per
//! finding (plugin "long output").
//!
//! Perfdata is one item per credential: the time left in whole seconds (`s`,
//! negative once expired), warning and critical as ranges that alert when the
//! value falls below them (`2592000:` for 30 days), and a minimum of 0:
//! `'admin.conf'=2160000s;2592000:;604800:;0`.

use std::fmt::Write as _;

use time::{Duration, OffsetDateTime};

use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::layout::Kind;
use crate::domain::model::State;
use crate::domain::report::{Report, Status};
use crate::domain::span::left;
use crate::ui::render::text::printable;

/// The service name that starts every status line.
const SERVICE: &str = "KUBECRED";

/// `KUBECRED WARNING - ... | 'admin.conf'=2160000s;2592000:;604800:;0 ...`,
/// then one line per finding.
pub fn check(report: &Report<'_>) -> String {
    let status = report.status();
    let alerts: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.severity >= Severity::Warning)
        .collect();
    let problems = problems(&alerts);
    let summary = match (report.incomplete_summary(), problems) {
        // The check could not complete: say so first, and what to do; the
        // long output names the files.
        (Some(incomplete), Some(problems)) => format!("{incomplete}; also {problems}"),
        (Some(incomplete), None) => incomplete,
        (None, Some(problems)) => problems,
        (None, None) => {
            let nearest = report
                .inventory
                .credentials
                .iter()
                .filter(|cred| cred.kind != Kind::Ca)
                .filter_map(|cred| cred.material().map(|m| (cred, m.certificate.not_after)))
                .min_by_key(|(_, not_after)| *not_after);
            match nearest {
                Some((cred, not_after)) => format!(
                    "all credentials valid; next expiry {} in {}",
                    plugin_text(&cred.name),
                    left(not_after - report.now)
                ),
                None => "no credentials found".into(),
            }
        }
    };
    let summary = match &report.live {
        Some(live) => format!(
            "{summary}; {}",
            crate::ui::render::live::nagios_summary(live)
        ),
        None => summary,
    };
    let perfdata = perfdata(report);
    let mut out = status_line(status, &summary);
    if !perfdata.is_empty() {
        // `status_line` ends with a newline: put the perfdata before it.
        out.pop();
        let _ = writeln!(out, " | {perfdata}");
    }
    for finding in &report.findings {
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

/// `2 problem(s): admin.conf expired, ca ca-expires-soon` for the warning and
/// critical findings (the `unreadable` one aside), at most five named.
fn problems(alerts: &[&Finding]) -> Option<String> {
    let mut parts: Vec<String> = alerts
        .iter()
        .filter(|finding| finding.code != Code::Unreadable)
        .map(|finding| {
            format!(
                "{} {}",
                plugin_text(&finding.credential),
                finding.code.as_str()
            )
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    let count = parts.len();
    parts.dedup();
    let shown = parts.len().min(5);
    let more = if parts.len() > shown {
        format!(" (+{} more)", parts.len() - shown)
    } else {
        String::new()
    };
    Some(format!(
        "{count} problem(s): {}{more}",
        parts.get(..shown).unwrap_or_default().join(", ")
    ))
}

/// The one line for a check that could not run at all (a bad argument, no
/// kubeadm layout, a lock held, a state dir refused, ...): `KUBECRED UNKNOWN -
/// <what>`, then the hint as long output when there is one.
pub fn unknown(message: &str, hint: Option<&str>) -> String {
    let mut out = status_line(Status::Unknown, message);
    if let Some(hint) = hint {
        let _ = writeln!(out, "hint: {}", plugin_text(hint));
    }
    out
}

/// `KUBECRED STATUS - text`, the text made one safe line.
fn status_line(status: Status, text: &str) -> String {
    let text = plugin_text(text);
    let text = if text.trim().is_empty() {
        "no details".to_owned()
    } else {
        text
    };
    format!("{SERVICE} {} - {text}\n", status.name())
}

/// Time left per certificate, with the thresholds that apply to it.
fn perfdata(report: &Report<'_>) -> String {
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
                Some(item(
                    &cred.name,
                    material.certificate.not_after,
                    report.now,
                    warn,
                    crit,
                ))
            }
            _ => None,
        })
        .chain(report.live.iter().flat_map(|live| {
            crate::ui::render::live::nagios_perfdata(
                live,
                report.now,
                report.thresholds.warn,
                report.thresholds.crit,
            )
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One perfdata item: `'label'=<seconds left>s;<warn>:;<crit>:;0`. Seconds
/// left are negative once `not_after` has passed; `warn:` and `crit:` are
/// ranges that alert when the value is below them.
pub fn item(
    label: &str,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    warn: Duration,
    crit: Duration,
) -> String {
    format!(
        "{}={}s;{}:;{}:;0",
        quoted_label(label),
        (not_after - now).whole_seconds(),
        warn.whole_seconds(),
        crit.whole_seconds()
    )
}

/// A perfdata label as the guidelines quote it: in single quotes, a single
/// quote inside doubled (`''`). The guidelines allow no `=` in a label, not
/// even quoted, so each `=` is written `\x3d`; like all plugin text, control
/// characters are escaped and `|` is written `\x7c`.
pub fn quoted_label(label: &str) -> String {
    format!(
        "'{}'",
        plugin_text(label).replace('=', "\\x3d").replace('\'', "''")
    )
}

/// Text from a file, safe for a plugin line: [`printable`], and no `|`, which
/// would start the perfdata.
fn plugin_text(text: &str) -> String {
    printable(text).replace('|', "\\x7c")
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn items_are_seconds_with_ranges_that_alert_below() {
        let now = datetime!(2026-11-26 12:00 UTC);
        assert_eq!(
            item(
                "admin.conf",
                now + Duration::days(25),
                now,
                Duration::days(30),
                Duration::days(7)
            ),
            "'admin.conf'=2160000s;2592000:;604800:;0"
        );
        assert_eq!(
            item(
                "ca",
                now - Duration::minutes(18),
                now,
                Duration::days(365),
                Duration::days(90)
            ),
            "'ca'=-1080s;31536000:;7776000:;0"
        );
    }

    #[test]
    fn labels_are_quoted_and_never_hold_an_equals_sign_or_a_bar() {
        assert_eq!(quoted_label("it's"), "'it''s'");
        assert_eq!(quoted_label("a=b|c"), "'a\\x3db\\x7cc'");
        assert_eq!(quoted_label("served etcd/client"), "'served etcd/client'");
    }

    #[test]
    fn an_unknown_line_is_one_line_and_its_hint_the_next() {
        assert_eq!(
            unknown("no kubeadm credentials found (/x)\n| more", Some("pass it")),
            "KUBECRED UNKNOWN - no kubeadm credentials found (/x)\\n\\x7c more\nhint: pass it\n"
        );
        assert_eq!(unknown("", None), "KUBECRED UNKNOWN - no details\n");
    }
}
