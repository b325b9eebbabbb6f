//! Tables for people: `inspect` (one row per credential) and `check` (one row
//! per finding, then the remedies). Readable without colour.

use std::fmt::Write as _;

use crate::domain::findings::{Finding, Severity};
use crate::domain::layout::Kind;
use crate::domain::model::{Credential, KeyState, Material, State};
use crate::domain::report::Report;
use crate::domain::span::{date, left};
use crate::ui::render::Paint;
use crate::ui::render::text::printable;

/// The inspect table: NAME, SUBJECT, GROUPS, EXPIRES, LEFT, CA, STATUS.
pub fn inspect(report: &Report<'_>, paint: Paint) -> String {
    let mut rows = Vec::new();
    for credential in &report.inventory.credentials {
        rows.push(credential_row(report, credential));
    }
    if report.inventory.service_account.is_some() {
        let findings: Vec<&Finding> = report.findings_for("sa").collect();
        rows.push(Row {
            cells: vec![
                "sa".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                status_text(
                    &findings,
                    if sa_unreadable(report) {
                        "unreadable"
                    } else {
                        "ok"
                    },
                ),
            ],
            severity: worst(&findings),
        });
    }
    for copy in &report.inventory.copies {
        let name = crate::domain::exact::escaped(&copy.file.path);
        let findings: Vec<&Finding> = report.findings_for(&name).collect();
        let cert = &copy.certificate;
        rows.push(Row {
            cells: vec![
                format!("{name} ({})", copy.user),
                cert.common_name.clone(),
                groups(&cert.groups),
                date(cert.not_after),
                remaining(report, cert.not_after),
                "ca".into(),
                status_text(&findings, "current copy"),
            ],
            severity: worst(&findings),
        });
    }
    let mut out = render(
        &[
            "NAME", "SUBJECT", "GROUPS", "EXPIRES", "LEFT", "CA", "STATUS",
        ],
        &rows,
        paint,
    );
    if let Some(live) = &report.live {
        out.push_str(&crate::ui::render::live::table(live, report.now, paint));
    }
    let unreadable: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|finding| finding.code == crate::domain::findings::Code::Malformed)
        .collect();
    let files = report.inventory.unreadable();
    if !files.is_empty() {
        let _ = writeln!(
            out,
            "\nunreadable as uid {} (permission denied), {} {}:",
            report.inventory.reader_uid,
            files.len(),
            if files.len() == 1 { "file" } else { "files" }
        );
        for file in files {
            let _ = writeln!(out, "  {}", printable(&file.display().to_string()));
        }
    }
    if !unreadable.is_empty() {
        out.push_str("\nmalformed:\n");
        for finding in unreadable {
            let message = printable(&finding.message);
            if finding.message.starts_with(&finding.credential) {
                let _ = writeln!(out, "  {message}");
            } else {
                let _ = writeln!(out, "  {}: {message}", printable(&finding.credential));
            }
        }
    }
    out
}

/// The check table: one row per finding, then each distinct remedy once.
pub fn check(report: &Report<'_>, paint: Paint) -> String {
    let status = report.status();
    if report.findings.is_empty() {
        let mut out = format!("{}: no findings\n", status.name());
        if let Some(live) = &report.live {
            out.push_str(&crate::ui::render::live::table(live, report.now, paint));
        }
        return out;
    }
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.credential.cmp(&b.credential))
            .then(a.code.cmp(&b.code))
    });
    let rows: Vec<Row> = findings
        .iter()
        .map(|finding| Row {
            cells: vec![
                finding.severity.as_str().into(),
                finding.credential.clone(),
                finding.code.as_str().into(),
                finding.message.clone(),
            ],
            severity: Some(finding.severity),
        })
        .collect();
    let mut out = render(&["SEVERITY", "CREDENTIAL", "CODE", "MESSAGE"], &rows, paint);
    let mut remedies: Vec<(Vec<&str>, &str)> = Vec::new();
    for finding in &findings {
        match remedies
            .iter_mut()
            .find(|(_, remedy)| *remedy == finding.remedy)
        {
            Some((credentials, _)) if !credentials.contains(&finding.credential.as_str()) => {
                credentials.push(&finding.credential);
            }
            Some(_) => {}
            None => remedies.push((vec![&finding.credential], &finding.remedy)),
        }
    }
    out.push_str("\nWhat to do:\n");
    for (credentials, remedy) in remedies {
        let _ = writeln!(
            out,
            "  {}: {}",
            printable(&credentials.join(", ")),
            printable(remedy)
        );
    }
    if let Some(live) = &report.live {
        out.push_str(&crate::ui::render::live::table(live, report.now, paint));
    }
    match report.incomplete_summary() {
        Some(incomplete) => {
            let _ = writeln!(
                out,
                "\n{}: {}; {}",
                status.name(),
                printable(&incomplete),
                summary(report)
            );
        }
        None => {
            let _ = writeln!(out, "\n{}: {}", status.name(), summary(report));
        }
    }
    out
}

/// `2 critical, 1 warning, 1 info` or `no findings`.
pub fn summary(report: &Report<'_>) -> String {
    let count = |severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let parts: Vec<String> = [Severity::Critical, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|severity| (severity, count(severity)))
        .filter(|(_, n)| *n > 0)
        .map(|(severity, n)| format!("{n} {}", severity.as_str()))
        .collect();
    if parts.is_empty() {
        "no findings".into()
    } else {
        parts.join(", ")
    }
}

/// A table row and the severity that colours it.
pub(crate) struct Row {
    /// The cells, one per column.
    pub(crate) cells: Vec<String>,
    /// The colour's meaning; `None` paints it as fine.
    pub(crate) severity: Option<Severity>,
}

fn credential_row(report: &Report<'_>, credential: &Credential) -> Row {
    let findings: Vec<&Finding> = report.findings_for(&credential.name).collect();
    let severity = worst(&findings);
    let cells = match &credential.state {
        State::Absent { expected } => {
            let status = if findings.is_empty() {
                if *expected {
                    "absent"
                } else {
                    "absent (not used here)"
                }
                .to_owned()
            } else {
                status_text(&findings, "absent")
            };
            vec![
                credential.name.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                ca_cell(credential),
                status,
            ]
        }
        State::Malformed { .. } => vec![
            credential.name.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            ca_cell(credential),
            status_text(&findings, "malformed"),
        ],
        State::Unreadable { .. } => vec![
            credential.name.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            ca_cell(credential),
            "unreadable".into(),
        ],
        State::Present(material) => {
            let cert = &material.certificate;
            vec![
                credential.name.clone(),
                cert.common_name.clone(),
                groups(&cert.groups),
                date(cert.not_after),
                remaining(report, cert.not_after),
                ca_cell(credential),
                status_text(&findings, &ok_text(credential, material)),
            ]
        }
    };
    Row { cells, severity }
}

fn ok_text(credential: &Credential, material: &Material) -> String {
    match (&material.key, credential.kind) {
        (KeyState::Absent(_), Kind::Ca) => "ok (external CA)".into(),
        (KeyState::Unreadable(_), _) => "key unreadable".into(),
        _ => "ok".into(),
    }
}

/// Whether `sa.key` or `sa.pub` could not be read.
fn sa_unreadable(report: &Report<'_>) -> bool {
    report.inventory.service_account.as_ref().is_some_and(|sa| {
        matches!(sa.key, KeyState::Unreadable(_))
            || matches!(sa.public, crate::domain::model::FileRead::Unreadable(_))
    })
}

fn ca_cell(credential: &Credential) -> String {
    match (credential.kind, &credential.ca) {
        (Kind::Ca, _) => "self".into(),
        (_, Some(ca)) => ca.clone(),
        (_, None) => "-".into(),
    }
}

fn remaining(report: &Report<'_>, not_after: time::OffsetDateTime) -> String {
    if not_after <= report.now {
        "expired".into()
    } else {
        left(not_after - report.now)
    }
}

fn groups(groups: &[String]) -> String {
    if groups.is_empty() {
        "-".into()
    } else {
        groups.join(",")
    }
}

fn worst(findings: &[&Finding]) -> Option<Severity> {
    findings.iter().map(|finding| finding.severity).max()
}

fn status_text(findings: &[&Finding], fallback: &str) -> String {
    if findings.is_empty() {
        return fallback.into();
    }
    let mut codes: Vec<&str> = Vec::new();
    for finding in findings {
        if !codes.contains(&finding.code.as_str()) {
            codes.push(finding.code.as_str());
        }
    }
    codes.join(",")
}

/// Aligns columns with three spaces between them, as kubeadm's tables do.
/// Every cell is made [`printable`] first: cells carry subjects and file names.
pub(crate) fn render(headers: &[&str], rows: &[Row], paint: Paint) -> String {
    let rows: Vec<Row> = rows
        .iter()
        .map(|row| Row {
            cells: row
                .cells
                .iter()
                .map(|cell| printable(cell).into_owned())
                .collect(),
            severity: row.severity,
        })
        .collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(&row.cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String], color: Option<&str>| {
        let last = cells.len().saturating_sub(1);
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let painted = match (color, index == last || index == 0) {
                (Some(code), true) => format!("\x1b[{code}m{cell}\x1b[0m"),
                _ => cell.clone(),
            };
            if index == last {
                out.push_str(&painted);
            } else {
                let pad = width - cell.chars().count() + 3;
                out.push_str(&painted);
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    line(&mut out, &header, None);
    for row in rows {
        let color = match (paint, row.severity) {
            (Paint::Plain, _) => None,
            (Paint::Color, Some(Severity::Critical)) => Some("31"),
            (Paint::Color, Some(Severity::Warning)) => Some("33"),
            (Paint::Color, Some(Severity::Info)) => Some("36"),
            (Paint::Color, None) => Some("32"),
        };
        line(&mut out, &row.cells, color);
    }
    out
}
