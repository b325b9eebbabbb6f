//! JSON for machines: `schemaVersion` 1, RFC 3339 UTC times, durations in
//! seconds, lists sorted by credential name (then code). Fields are only ever added.
//! Every path goes through [`JsonPath`]: a string when it is UTF-8, otherwise
//! an object carrying its exact bytes.

use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::domain::cert::{Certificate, Fingerprint};
use crate::domain::findings::Finding;
use crate::domain::model::{Credential, FileMeta, FileRead, KeyState, Origin, State};
use crate::domain::plan::{Action, Write};
use crate::domain::report::Report;
use crate::domain::span::rfc3339;

/// The wire format's version.
pub const SCHEMA_VERSION: u32 = 1;

pub use crate::domain::exact::{JsonPath, path_serde};

/// A path as a JSON value (see [`JsonPath`]).
pub fn path(path: &Path) -> Value {
    // Serializing a string or a map of two strings into a `Value` cannot fail.
    serde_json::to_value(JsonPath(path)).unwrap_or_default()
}

/// An optional path as a JSON value: `null` when absent.
fn opt_path(value: Option<&Path>) -> Value {
    value.map_or(Value::Null, path)
}

/// `inspect -o json`: every credential with everything known about it.
pub fn inspect(report: &Report<'_>) -> String {
    let doc = json!({
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": rfc3339(report.now),
        "kubernetesDir": path(&report.inventory.kubernetes_dir),
        "certDir": path(&report.inventory.cert_dir),
        "credentials": credentials(report),
        "copies": copies(report),
        "staticPods": crate::ui::render::live::static_pods(report.inventory),
    });
    let mut doc = doc;
    live(&mut doc, report);
    pretty(&doc)
}

/// With `--live`: the `live` object.
fn live(doc: &mut Value, report: &Report<'_>) {
    if let Some(live) = &report.live {
        merge(
            doc,
            json!({"live": crate::ui::render::live::json(live, report.now)}),
        );
    }
}

/// `check -o json`: the status, the findings and the credentials they are about.
pub fn check(report: &Report<'_>) -> String {
    let status = report.status();
    let thresholds = &report.thresholds;
    let doc = json!({
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": rfc3339(report.now),
        "status": status.name().to_lowercase(),
        "exitCode": status.code(),
        "kubernetesDir": path(&report.inventory.kubernetes_dir),
        "certDir": path(&report.inventory.cert_dir),
        "thresholds": {
            "warnSeconds": thresholds.warn.whole_seconds(),
            "critSeconds": thresholds.crit.whole_seconds(),
            "caWarnSeconds": thresholds.ca_warn.whole_seconds(),
            "caCritSeconds": thresholds.ca_crit.whole_seconds(),
        },
        "findings": report.findings.iter().map(finding).collect::<Vec<_>>(),
        "unreadable": report.inventory.unreadable().into_iter().map(path).collect::<Vec<_>>(),
        "credentials": credentials(report),
        "copies": copies(report),
    });
    let mut doc = doc;
    live(&mut doc, report);
    pretty(&doc)
}

/// The files a run wrote (with `applied: false`, the ones it would write):
/// each with its path, `action` (`written`, `removed`) and, for a file
/// written, `sha256`, the SHA-256 of its new bytes.
pub fn changes(writes: &[Write]) -> Vec<Value> {
    writes
        .iter()
        .map(|write| match &write.action {
            Action::Write(bytes, _) => json!({
                "path": path(&write.path),
                "action": "written",
                "sha256": Fingerprint::of(bytes).to_string(),
            }),
            Action::Remove => json!({"path": path(&write.path), "action": "removed"}),
        })
        .collect()
}

/// The files a plan would write whose bytes are made only when it runs (new
/// keys, new certificates): path and action, no `sha256`.
pub fn planned(paths: &[PathBuf]) -> Vec<Value> {
    paths
        .iter()
        .map(|file| json!({"path": path(file), "action": "written"}))
        .collect()
}

fn pretty(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    text
}

fn finding(finding: &Finding) -> Value {
    json!({
        "code": finding.code.as_str(),
        "severity": finding.severity.as_str(),
        "credential": finding.credential,
        "path": path(&finding.path),
        "message": finding.message,
        "remedy": finding.remedy,
    })
}

fn credentials(report: &Report<'_>) -> Vec<Value> {
    let mut list: Vec<(String, Value)> = report
        .inventory
        .credentials
        .iter()
        .map(|cred| (cred.name.clone(), credential(report, cred)))
        .collect();
    if let Some(sa) = &report.inventory.service_account {
        let public = match &sa.public {
            FileRead::Absent(at) => json!({"state": "absent", "path": path(at)}),
            FileRead::Malformed { path: at, reason } => {
                json!({"state": "malformed", "path": path(at), "error": reason})
            }
            FileRead::Present((_, file)) => json!({"state": "present", "file": file_meta(file)}),
            FileRead::Unreadable(at) => json!({"state": "unreadable", "path": path(at)}),
        };
        list.push((
            "sa".into(),
            json!({
                "name": "sa",
                "kind": "service-account-key",
                "key": key(&sa.key, None),
                "publicKey": public,
                "findings": codes(report, "sa"),
            }),
        ));
    }
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list.into_iter().map(|(_, value)| value).collect()
}

fn credential(report: &Report<'_>, cred: &Credential) -> Value {
    let mut value = json!({
        "name": cred.name,
        "kind": cred.kind.as_str(),
        "path": path(&cred.path),
        "ca": cred.ca,
    });
    let fields = match &cred.state {
        State::Absent { expected } => json!({"state": "absent", "expected": expected}),
        State::Malformed { path: at, reason } => {
            json!({"state": "malformed", "error": format!("{}: {reason}", crate::domain::exact::escaped(at))})
        }
        State::Unreadable { path: at, .. } => json!({
            "state": "unreadable",
            "error": format!("{}: {}", crate::domain::exact::escaped(at), crate::domain::model::PERMISSION_DENIED),
        }),
        State::Present(material) => {
            let cert = &material.certificate;
            // Unknown (null) when the algorithm cannot be checked, as when there is no CA.
            let signature = cred.chain.as_ref().and_then(|chain| match chain {
                Ok(()) => Some(true),
                Err(crate::domain::cert::ChainError::UnsupportedAlgorithm) => None,
                Err(_) => Some(false),
            });
            let source = match &material.origin {
                Origin::File(at) => json!({"type": "file", "path": path(at)}),
                Origin::Embedded { user, field } => json!({
                    "type": "embedded",
                    "kubeconfig": path(&material.file.path),
                    "user": user,
                    "field": field,
                }),
            };
            let kubeconfig = material.kubeconfig.as_ref().map(|facts| {
                json!({
                    "context": facts.context,
                    "user": facts.user,
                    "cluster": facts.cluster,
                    "server": facts.server,
                    "certificateAuthority": facts.certificate_authority.as_ref().map(|ca| match ca {
                        Ok(ca) => json!({"subject": ca.subject, "fingerprintSha256": ca.fingerprint.to_string()}),
                        Err(reason) => json!({"error": reason}),
                    }),
                })
            });
            let mut fields = certificate(report, cert);
            merge(
                &mut fields,
                json!({
                    "state": "present",
                    "source": source,
                    "file": file_meta(&material.file),
                    "signatureValid": signature,
                    "key": key(&material.key, Some(cert)),
                    "kubeconfig": kubeconfig,
                }),
            );
            fields
        }
    };
    merge(&mut value, fields);
    merge(&mut value, json!({"findings": codes(report, &cred.name)}));
    value
}

/// The certificate fields shared by credentials and copies.
fn certificate(report: &Report<'_>, cert: &Certificate) -> Value {
    json!({
        "subject": {
            "commonName": cert.common_name,
            "groups": cert.groups,
            "dn": cert.subject,
        },
        "issuer": cert.issuer,
        "serial": cert.serial,
        "notBefore": rfc3339(cert.not_before),
        "notAfter": rfc3339(cert.not_after),
        "secondsLeft": (cert.not_after - report.now).whole_seconds(),
        "keyAlgorithm": cert.key_algorithm.to_string(),
        "subjectAltNames": {
            "dns": cert.dns_names,
            "ip": cert.ip_addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "extendedKeyUsages": cert.extended_key_usages,
        "isCa": cert.is_ca,
        "fingerprintSha256": cert.fingerprint.to_string(),
    })
}

fn key(state: &KeyState, cert: Option<&Certificate>) -> Value {
    match state {
        KeyState::Unknown => json!({"state": "unknown"}),
        KeyState::Absent(at) => json!({"state": "absent", "path": path(at)}),
        KeyState::Malformed { path: at, reason } => {
            json!({"state": "malformed", "path": path(at), "error": reason})
        }
        KeyState::Unreadable(at) => json!({"state": "unreadable", "path": path(at)}),
        KeyState::Present { info, file } => json!({
            "state": "present",
            "algorithm": info.algorithm.to_string(),
            "encoding": info.encoding.label(),
            "matchesCertificate": cert.map(|cert| cert.public_key_raw == info.public_key_raw),
            "file": file_meta(file),
        }),
    }
}

fn file_meta(file: &FileMeta) -> Value {
    json!({
        "path": path(&file.path),
        "mode": format!("{:04o}", file.mode),
        "uid": file.uid,
        "gid": file.gid,
        "symlinkTarget": opt_path(file.symlink_target.as_deref()),
    })
}

fn copies(report: &Report<'_>) -> Vec<Value> {
    let mut copies: Vec<_> = report.inventory.copies.iter().collect();
    copies.sort_by(|a, b| {
        (a.file.path.as_os_str().as_bytes(), &a.user)
            .cmp(&(b.file.path.as_os_str().as_bytes(), &b.user))
    });
    copies
        .into_iter()
        .map(|copy| {
            let name = crate::domain::exact::escaped(&copy.file.path);
            let mut value = json!({
                "path": path(&copy.file.path),
                "user": copy.user,
                "file": file_meta(&copy.file),
            });
            merge(&mut value, certificate(report, &copy.certificate));
            merge(&mut value, json!({"findings": codes(report, &name)}));
            value
        })
        .collect()
}

fn codes(report: &Report<'_>, credential: &str) -> Vec<&'static str> {
    report
        .findings_for(credential)
        .map(|finding| finding.code.as_str())
        .collect()
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}
