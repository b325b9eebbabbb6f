//! Prometheus text exposition for `node_exporter`'s textfile collector.
//! Metric names and labels are a contract: alert rules depend on them.

use std::fmt::Write as _;

use crate::domain::findings::Severity;
use crate::domain::model::State;
use crate::domain::report::{Report, Status};

/// Every kubecred metric, with HELP and TYPE lines, series sorted.
pub fn check(report: &Report<'_>) -> String {
    let mut out = String::new();
    let inventory = report.inventory;

    family(
        &mut out,
        "kubecred_certificate_expiry_timestamp_seconds",
        "Not-after of the credential's certificate, as a Unix time.",
    );
    for cred in &inventory.credentials {
        if let State::Present(material) = &cred.state {
            let _ = writeln!(
                out,
                "kubecred_certificate_expiry_timestamp_seconds{{credential=\"{}\",kind=\"{}\",path=\"{}\"}} {}",
                escape(&cred.name),
                cred.kind.as_str(),
                escape(&cred.path.display().to_string()),
                material.certificate.not_after.unix_timestamp()
            );
        }
    }

    family(
        &mut out,
        "kubecred_certificate_not_before_timestamp_seconds",
        "Not-before of the credential's certificate, as a Unix time.",
    );
    for cred in &inventory.credentials {
        if let State::Present(material) = &cred.state {
            let _ = writeln!(
                out,
                "kubecred_certificate_not_before_timestamp_seconds{{credential=\"{}\",kind=\"{}\",path=\"{}\"}} {}",
                escape(&cred.name),
                cred.kind.as_str(),
                escape(&cred.path.display().to_string()),
                material.certificate.not_before.unix_timestamp()
            );
        }
    }

    family(
        &mut out,
        "kubecred_credential_state",
        "1 for the credential's state: present, missing, absent (not expected), malformed or unreadable.",
    );
    for cred in &inventory.credentials {
        let state = match &cred.state {
            State::Present(_) => "present",
            State::Absent { expected: true } => "missing",
            State::Absent { expected: false } => "absent",
            State::Malformed { .. } => "malformed",
            State::Unreadable { .. } => "unreadable",
        };
        let _ = writeln!(
            out,
            "kubecred_credential_state{{credential=\"{}\",kind=\"{}\",state=\"{state}\"}} 1",
            escape(&cred.name),
            cred.kind.as_str()
        );
    }

    if let Some(live) = &report.live {
        crate::ui::render::live::prometheus(&mut out, live, escape);
    }

    family(
        &mut out,
        "kubecred_finding",
        "1 for each finding of the last check.",
    );
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "kubecred_finding{{code=\"{}\",credential=\"{}\",severity=\"{}\"}} 1",
            finding.code.as_str(),
            escape(&finding.credential),
            finding.severity.as_str()
        );
    }

    family(
        &mut out,
        "kubecred_findings",
        "Number of findings of the last check, by severity.",
    );
    for severity in [Severity::Critical, Severity::Info, Severity::Warning] {
        let count = report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count();
        let _ = writeln!(
            out,
            "kubecred_findings{{severity=\"{}\"}} {count}",
            severity.as_str()
        );
    }

    family(
        &mut out,
        "kubecred_admin_in_system_masters",
        "1 when admin.conf's certificate is in group system:masters (pre-1.29 layout).",
    );
    let in_masters = report
        .findings
        .iter()
        .any(|f| f.code == crate::domain::findings::Code::AdminInSystemMasters);
    let _ = writeln!(
        out,
        "kubecred_admin_in_system_masters {}",
        u8::from(in_masters)
    );

    outcome(&mut out, report.status(), report.now);
    out
}

/// The textfile of a check that could not run at all (no kubeadm layout, a
/// lock held, a state dir refused, ...): status 3 and success 0, so that
/// nothing of an earlier check is left to look current. Its first line is a
/// `# HELP kubecred_` line, as every kubecred textfile's.
pub fn failed(now: time::OffsetDateTime) -> String {
    let mut out = String::new();
    outcome(&mut out, Status::Unknown, now);
    out
}

/// The families every textfile ends with: status, success, when, which version.
fn outcome(out: &mut String, status: Status, now: time::OffsetDateTime) {
    family(
        out,
        "kubecred_check_status",
        "Status of the last check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (it could not judge the node).",
    );
    let _ = writeln!(out, "kubecred_check_status {}", status.code());

    family(
        out,
        "kubecred_check_success",
        "1 when the last check judged the whole node, 0 when it could not (status 3).",
    );
    let _ = writeln!(
        out,
        "kubecred_check_success {}",
        u8::from(status != Status::Unknown)
    );

    family(
        out,
        "kubecred_check_timestamp_seconds",
        "When the last check ran, as a Unix time.",
    );
    let _ = writeln!(
        out,
        "kubecred_check_timestamp_seconds {}",
        now.unix_timestamp()
    );

    family(out, "kubecred_build_info", "kubecred's version.");
    let _ = writeln!(
        out,
        "kubecred_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// Escapes a label value as the exposition format requires, after making it
/// [`printable`](crate::ui::render::text::printable): the format itself lets any
/// control character through, and people read metrics on terminals.
fn escape(value: &str) -> String {
    crate::ui::render::text::printable(value)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
