//! The `--live` part of every output: the credential states and the
//! endpoints, as table sections, JSON, metrics and Nagios perfdata.

use std::fmt::Write as _;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::domain::findings::Severity;
use crate::domain::live::{Answer, Endpoint, Live, LiveState, PROBE_TIMEOUT, Running, Use};
use crate::domain::model::{FileRead, Inventory};
use crate::domain::span::{date, left, rfc3339};
use crate::ui::render::Paint;
use crate::ui::render::json::path;
use crate::ui::render::table::{Row, render};

/// The table sections: one row per credential, then one per endpoint.
pub fn table(live: &Live, now: OffsetDateTime, paint: Paint) -> String {
    let rows: Vec<Row> = live
        .credentials
        .iter()
        .map(|cred| Row {
            cells: vec![
                cred.credential.to_owned(),
                cred.component.as_str().to_owned(),
                cred.state.as_str().to_owned(),
                cred.reason.clone(),
            ],
            severity: match cred.state {
                LiveState::InUse => None,
                LiveState::Stale => Some(Severity::Warning),
                LiveState::NotRunning | LiveState::Unknown => Some(Severity::Info),
            },
        })
        .collect();
    let mut out = String::from("\nLive:\n");
    out.push_str(&render(
        &["CREDENTIAL", "COMPONENT", "STATE", "WHY"],
        &rows,
        paint,
    ));
    let rows: Vec<Row> = live
        .endpoints
        .iter()
        .map(|endpoint| {
            let (answer, expires, severity) = match &endpoint.answer {
                Answer::Served { leaf, .. } => (
                    format!("served CN={}", leaf.common_name),
                    if leaf.not_after <= now {
                        format!("{} (expired)", date(leaf.not_after))
                    } else {
                        format!("{} ({})", date(leaf.not_after), left(leaf.not_after - now))
                    },
                    None,
                ),
                Answer::Refused => ("refused".to_owned(), "-".to_owned(), Some(Severity::Info)),
                Answer::TimedOut => (
                    format!("no answer in {} s", PROBE_TIMEOUT.as_secs()),
                    "-".to_owned(),
                    Some(Severity::Info),
                ),
                Answer::Failed(why) => (
                    format!("failed: {why}"),
                    "-".to_owned(),
                    Some(Severity::Info),
                ),
                Answer::Skipped(why) => (
                    format!("not probed: {why}"),
                    "-".to_owned(),
                    Some(Severity::Info),
                ),
            };
            Row {
                cells: vec![
                    format!("{} {}", endpoint.component.as_str(), endpoint.role.as_str()),
                    address(endpoint),
                    expires,
                    answer,
                ],
                severity,
            }
        })
        .collect();
    out.push('\n');
    out.push_str(&render(
        &["ENDPOINT", "ADDRESS", "SERVED EXPIRES", "ANSWER"],
        &rows,
        paint,
    ));
    out
}

fn address(endpoint: &Endpoint) -> String {
    match (endpoint.address, endpoint.server_name) {
        (Some(address), Some(name)) => format!("{address} ({name})"),
        (Some(address), None) => address.to_string(),
        (None, _) => "-".to_owned(),
    }
}

/// The `live` object of `check -o json` and `inspect -o json`.
pub fn json(live: &Live, now: OffsetDateTime) -> Value {
    let components: Vec<Value> = live
        .components
        .iter()
        .map(|state| {
            let process = state.running.as_ref().map(|running| match running {
                Running::Process {
                    pid,
                    started,
                    exact,
                } => json!({
                    "state": "running",
                    "pid": pid,
                    "startedAt": started.as_ref().ok().map(|at| rfc3339(*at)),
                    "startError": started.as_ref().err(),
                    "matchedBy": if *exact { "command" } else { "program" },
                }),
                Running::Absent => json!({"state": "absent"}),
                Running::Ambiguous(pids) => json!({"state": "ambiguous", "pids": pids}),
                Running::Unknown(why) => json!({"state": "unknown", "error": why}),
            });
            json!({
                "component": state.component.as_str(),
                "manifest": state.manifest.as_deref().map(path),
                "process": process,
            })
        })
        .collect();
    let endpoints: Vec<Value> = live
        .endpoints
        .iter()
        .map(|endpoint| {
            let mut value = json!({
                "component": endpoint.component.as_str(),
                "endpoint": endpoint.role.as_str(),
                "address": endpoint.address.map(|address| address.to_string()),
                "serverName": endpoint.server_name,
            });
            let (state, extra) = match &endpoint.answer {
                Answer::Served { leaf, chain } => (
                    "served",
                    json!({"certificate": {
                        "subject": leaf.subject,
                        "issuer": leaf.issuer,
                        "serial": leaf.serial,
                        "notBefore": rfc3339(leaf.not_before),
                        "notAfter": rfc3339(leaf.not_after),
                        "secondsLeft": (leaf.not_after - now).whole_seconds(),
                        "fingerprintSha256": leaf.fingerprint.to_string(),
                        "chainLength": chain,
                    }}),
                ),
                Answer::Refused => ("refused", json!({})),
                Answer::TimedOut => ("timeout", json!({})),
                Answer::Failed(why) => ("failed", json!({"error": why})),
                Answer::Skipped(why) => ("skipped", json!({"error": why})),
            };
            merge(&mut value, json!({"state": state}));
            merge(&mut value, extra);
            value
        })
        .collect();
    let credentials: Vec<Value> = live
        .credentials
        .iter()
        .map(|cred| {
            let (judged_by, endpoint) = match cred.how {
                Use::Served(role) => ("served-certificate", Some(role.as_str())),
                Use::Loaded(_) => ("start-time", None),
            };
            json!({
                "credential": cred.credential,
                "component": cred.component.as_str(),
                "state": cred.state.as_str(),
                "path": cred.path.as_deref().map(path),
                "judgedBy": judged_by,
                "endpoint": endpoint,
                "reason": cred.reason,
            })
        })
        .collect();
    json!({
        "probeTimeoutSeconds": PROBE_TIMEOUT.as_secs(),
        "components": components,
        "endpoints": endpoints,
        "credentials": credentials,
    })
}

/// The `staticPods` list of `inspect -o json`: each manifest, and the
/// credential files its flags name (container and host paths).
pub fn static_pods(inventory: &Inventory) -> Vec<Value> {
    inventory
        .static_pods
        .iter()
        .map(|pod| {
            let mut value = json!({
                "component": pod.component.as_str(),
                "path": path(&pod.path),
            });
            let fields = match &pod.state {
                FileRead::Absent(_) => json!({"state": "absent"}),
                FileRead::Malformed { reason, .. } => {
                    json!({"state": "malformed", "error": reason})
                }
                FileRead::Unreadable(_) => json!({"state": "unreadable"}),
                FileRead::Present((parsed, file)) => {
                    let files: Vec<Value> =
                        crate::domain::live::plan(inventory, Some(&[pod.component]))
                            .usages
                            .iter()
                            .filter_map(|usage| {
                                let value = parsed.flag(usage.flag)?;
                                Some(json!({
                                    "credential": usage.credential,
                                    "flag": format!("--{}", usage.flag),
                                    "containerPath": value,
                                    "hostPath": usage.file.as_deref().ok().map(path),
                                }))
                            })
                            .collect();
                    json!({
                        "state": "present",
                        "mode": format!("{:04o}", file.mode),
                        "uid": file.uid,
                        "hostNetwork": parsed.host_network,
                        "credentialFiles": files,
                        "mounts": parsed.mounts.iter().map(|mount| json!({
                            "volume": mount.volume,
                            "containerPath": path(&mount.container_path),
                            "hostPath": mount.host_path.as_deref().map(path),
                            "readOnly": mount.read_only,
                        })).collect::<Vec<_>>(),
                    })
                }
            };
            merge(&mut value, fields);
            value
        })
        .collect()
}

/// The two `--live` metric families.
pub fn prometheus(out: &mut String, live: &Live, escape: fn(&str) -> String) {
    family(
        out,
        "kubecred_credential_live_state",
        "1 for the state of the credential in the running component that uses it: in-use, stale, not-running or unknown.",
    );
    for cred in &live.credentials {
        let _ = writeln!(
            out,
            "kubecred_credential_live_state{{component=\"{}\",credential=\"{}\",state=\"{}\"}} 1",
            cred.component.as_str(),
            escape(cred.credential),
            cred.state.as_str()
        );
    }
    family(
        out,
        "kubecred_served_certificate_expiry_timestamp_seconds",
        "Not-after of the certificate a component's endpoint serves, as a Unix time.",
    );
    for endpoint in &live.endpoints {
        if let Answer::Served { leaf, .. } = &endpoint.answer {
            let _ = writeln!(
                out,
                "kubecred_served_certificate_expiry_timestamp_seconds{{component=\"{}\",endpoint=\"{}\"}} {}",
                endpoint.component.as_str(),
                endpoint.role.as_str(),
                leaf.not_after.unix_timestamp()
            );
        }
    }
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The Nagios summary's tail: `live: 7 in-use, 1 stale`.
pub fn nagios_summary(live: &Live) -> String {
    let parts: Vec<String> = live
        .counts()
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(state, count)| format!("{count} {state}"))
        .collect();
    if parts.is_empty() {
        "live: nothing probed".into()
    } else {
        format!("live: {}", parts.join(", "))
    }
}

/// Perfdata for each served certificate, labelled `served component/endpoint`,
/// by the same rules as the credentials' (seconds left, ranges that alert below).
pub fn nagios_perfdata(
    live: &Live,
    now: OffsetDateTime,
    warn: time::Duration,
    crit: time::Duration,
) -> Vec<String> {
    live.endpoints
        .iter()
        .filter_map(|endpoint| match &endpoint.answer {
            Answer::Served { leaf, .. } => Some(crate::ui::render::nagios::item(
                &format!(
                    "served {}/{}",
                    endpoint.component.as_str(),
                    endpoint.role.as_str()
                ),
                leaf.not_after,
                now,
                warn,
                crit,
            )),
            _ => None,
        })
        .collect()
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}
