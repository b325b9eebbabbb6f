//! JSON for machines: `schemaVersion` 1, RFC 3339 UTC times, durations in
//! seconds, lists sorted by credential name (then code). Fields are only ever added.

use serde_json::{Value, json};

use crate::cert::Certificate;
use crate::findings::Finding;
use crate::inventory::{Credential, FileMeta, FileRead, KeyState, Origin, State};
use crate::report::Report;
use crate::span::rfc3339;

/// The wire format's version.
pub const SCHEMA_VERSION: u32 = 1;

/// `inspect -o json`: every credential with everything known about it.
pub fn inspect(report: &Report<'_>) -> String {
    let doc = json!({
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": rfc3339(report.now),
        "kubernetesDir": report.inventory.kubernetes_dir,
        "certDir": report.inventory.cert_dir,
        "credentials": credentials(report),
        "copies": copies(report),
    });
    pretty(&doc)
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
        "kubernetesDir": report.inventory.kubernetes_dir,
        "certDir": report.inventory.cert_dir,
        "thresholds": {
            "warnSeconds": thresholds.warn.whole_seconds(),
            "critSeconds": thresholds.crit.whole_seconds(),
            "caWarnSeconds": thresholds.ca_warn.whole_seconds(),
            "caCritSeconds": thresholds.ca_crit.whole_seconds(),
        },
        "findings": report.findings.iter().map(finding).collect::<Vec<_>>(),
        "credentials": credentials(report),
        "copies": copies(report),
    });
    pretty(&doc)
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
        "path": finding.path,
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
            FileRead::Absent(path) => json!({"state": "absent", "path": path}),
            FileRead::Malformed { path, reason } => {
                json!({"state": "malformed", "path": path, "error": reason})
            }
            FileRead::Present((_, file)) => json!({"state": "present", "file": file_meta(file)}),
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
        "path": cred.path,
        "ca": cred.ca,
    });
    let fields = match &cred.state {
        State::Absent { expected } => json!({"state": "absent", "expected": expected}),
        State::Malformed { path, reason } => {
            json!({"state": "malformed", "error": format!("{}: {reason}", path.display())})
        }
        State::Present(material) => {
            let cert = &material.certificate;
            let signature = cred.chain.as_ref().map(Result::is_ok);
            let source = match &material.origin {
                Origin::File(path) => json!({"type": "file", "path": path}),
                Origin::Embedded { user, field } => json!({
                    "type": "embedded",
                    "kubeconfig": material.file.path,
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
        KeyState::Absent(path) => json!({"state": "absent", "path": path}),
        KeyState::Malformed { path, reason } => {
            json!({"state": "malformed", "path": path, "error": reason})
        }
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
        "path": file.path,
        "mode": format!("{:04o}", file.mode),
        "uid": file.uid,
        "gid": file.gid,
        "symlinkTarget": file.symlink_target,
    })
}

fn copies(report: &Report<'_>) -> Vec<Value> {
    let mut list: Vec<Value> = report
        .inventory
        .copies
        .iter()
        .map(|copy| {
            let name = copy.file.path.display().to_string();
            let mut value = json!({
                "path": copy.file.path,
                "user": copy.user,
                "file": file_meta(&copy.file),
            });
            merge(&mut value, certificate(report, &copy.certificate));
            merge(&mut value, json!({"findings": codes(report, &name)}));
            value
        })
        .collect();
    list.sort_by(|a, b| {
        a["path"]
            .as_str()
            .cmp(&b["path"].as_str())
            .then(a["user"].as_str().cmp(&b["user"].as_str()))
    });
    list
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
