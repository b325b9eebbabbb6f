//! Plans, shown: what `--dry-run` prints and what a confirmation shows.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::domain::exact::escaped;
use crate::domain::live;
use crate::domain::plan::Write;
use crate::domain::renew::{self, KeyAction, Plan, SkipReason};
use crate::domain::span::{date, rfc3339};
use crate::ui::render::Paint;
use crate::ui::render::json::{self, SCHEMA_VERSION, path as json_path};
use crate::ui::render::table::{self, Row};

/// The renewal plan as a table.
pub fn renew_table(plan: &Plan) -> String {
    let mut rows: Vec<[String; 4]> = plan
        .items
        .iter()
        .map(|item| {
            let new = if item.capped {
                format!("{} (capped at {}'s expiry)", date(item.not_after), item.ca)
            } else {
                date(item.not_after)
            };
            let key = match item.key {
                KeyAction::Generate(algorithm) => format!("new {}", algorithm_name(algorithm)),
                KeyAction::Reuse => "keep existing".into(),
            };
            [item.name.clone(), date(item.old.not_after), new, key]
        })
        .collect();
    rows.extend(plan.skipped.iter().map(|skip| {
        [
            skip.name.clone(),
            "-".into(),
            "-".into(),
            format!("skipped: {}", skip_text(&skip.reason)),
        ]
    }));
    let mut text = columns(&["CERTIFICATE", "EXPIRES", "NEW EXPIRES", "KEY"], &rows);
    for copy in &plan.copies {
        let what = match (plan.update_copies, plan.renews_admin()) {
            (true, true) => "updated with admin.conf's new credential",
            (true, false) => "updated with admin.conf's current credential",
            (false, _) => "keeps admin.conf's old certificate (--update-copies updates it)",
        };
        let _ = writeln!(
            text,
            "admin copy {} (user {}): {what}",
            crate::ui::render::text::path(&copy.path),
            crate::ui::render::text::printable(&copy.user)
        );
    }
    text
}

/// The renewal plan as JSON: `applied` false, the files it would write.
pub fn renew_json(plan: &Plan) -> String {
    let mut doc = renew_doc(plan);
    merge(
        &mut doc,
        json!({
            "applied": false,
            "changes": json::planned(&plan.paths()),
        }),
    );
    pretty(&doc)
}

/// What a finished renewal did, beyond its plan.
#[derive(Debug)]
pub struct Renewal<'a> {
    /// Every file written, as written.
    pub changes: &'a [Write],
    /// The backup's id (what `rollback` takes) and folder.
    pub backup: (String, PathBuf),
    /// The copies that could not be rewritten, and why.
    pub skipped_copies: &'a [(PathBuf, String)],
    /// The command that brings the copies left stale up to date, when some are.
    pub update_command: Option<String>,
    /// The restart policy: `never`, `auto` or `ask` (the wizard).
    pub restart_policy: &'static str,
    /// The components kubecred restarted, in order.
    pub restarted: Vec<&'static str>,
}

/// A finished renewal as JSON: the plan's document (what was renewed, what
/// skipped), `applied` true, the backup, each file written with its new
/// SHA-256, the copies and the components to restart.
pub fn renew_result_json(plan: &Plan, renewal: &Renewal<'_>) -> String {
    let mut doc = renew_doc(plan);
    let written: Vec<&std::path::Path> = renewal
        .changes
        .iter()
        .map(|change| change.path.as_path())
        .collect();
    merge(
        &mut doc,
        json!({
            "applied": true,
            "backup": renewal.backup.0,
            "backupPath": json_path(&renewal.backup.1),
            "changes": json::changes(renewal.changes),
            "copies": plan.copies.iter().map(|copy| {
                let mut entry = copy_json(plan, copy);
                let updated = plan.update_copies && written.contains(&copy.path.as_path());
                if let Some(fields) = entry.as_object_mut() {
                    fields.insert("updated".into(), json!(updated));
                    if let Some((_, why)) = renewal.skipped_copies.iter().find(|(path, _)| *path == copy.path) {
                        fields.insert("reason".into(), json!(why));
                    }
                }
                entry
            }).collect::<Vec<_>>(),
            "updateCopiesCommand": renewal.update_command,
        }),
    );
    if let Some(restart) = doc.get_mut("restart") {
        merge(
            restart,
            json!({"policy": renewal.restart_policy, "restarted": renewal.restarted}),
        );
    }
    pretty(&doc)
}

fn copy_json(plan: &Plan, copy: &crate::domain::migrate::CopyRef) -> Value {
    json!({"path": json_path(&copy.path), "user": copy.user, "update": plan.update_copies})
}

/// The fields a renewal's plan and its result share.
fn renew_doc(plan: &Plan) -> Value {
    let names: Vec<String> = plan.items.iter().map(|item| item.name.clone()).collect();
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "renew",
        "items": plan.items.iter().map(|item| json!({
            "name": item.name,
            "path": json_path(&item.path),
            "ca": item.ca,
            "notAfter": rfc3339(item.old.not_after),
            "newNotBefore": rfc3339(item.not_before),
            "newNotAfter": rfc3339(item.not_after),
            "capped": item.capped,
            "key": match item.key {
                KeyAction::Generate(algorithm) => json!({"action": "generate", "algorithm": algorithm_name(algorithm)}),
                KeyAction::Reuse => json!({"action": "reuse"}),
            },
        })).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(|skip| {
            let mut entry = json!({
                "name": skip.name,
                "reason": match &skip.reason {
                    SkipReason::Absent => "absent",
                    SkipReason::ExternalCa(_) => "external-ca",
                    SkipReason::NotDue(_) => "not-due",
                    SkipReason::Fault { .. } => "fault",
                },
                "fault": skip.reason.is_fault(),
                "message": skip_text(&skip.reason),
            });
            if let (SkipReason::Fault { path, .. }, Some(fields)) = (&skip.reason, entry.as_object_mut()) {
                fields.insert("path".into(), json!(path));
            }
            entry
        }).collect::<Vec<_>>(),
        "copies": plan.copies.iter().map(|copy| copy_json(plan, copy)).collect::<Vec<_>>(),
        "restart": {
            "pods": renew::pods_to_restart(&names),
            "needed": live::restarts_needed(&names).iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        },
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

fn pretty(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A backup set as listings and restore plans show it.
#[derive(Clone, Debug)]
pub struct BackupSet {
    /// Its id, also its folder name.
    pub id: String,
    /// When it was taken, RFC 3339.
    pub created_at: String,
    /// The command that took it.
    pub operation: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Every file it holds, as it was before the operation.
    pub files: Vec<BackupFile>,
}

/// One file of a backup set, as it was before the operation.
#[derive(Clone, Debug)]
pub struct BackupFile {
    /// The file.
    pub path: PathBuf,
    /// Whether it existed (if not, restoring removes it).
    pub existed: bool,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// SHA-256 of its bytes (empty if it did not exist).
    pub sha256: String,
}

/// A backup set that cannot be read, and why.
#[derive(Clone, Debug)]
pub struct UnreadableSet {
    /// Its folder.
    pub dir: PathBuf,
    /// What is wrong with it, in a few words.
    pub reason: String,
}

/// Backups as a table; sets that cannot be read are rows too, each named with why below.
pub fn backups_table<B: Into<BackupSet>, U: Into<UnreadableSet>>(
    backups: impl IntoIterator<Item = B>,
    unreadable: impl IntoIterator<Item = U>,
) -> String {
    let unreadable: Vec<UnreadableSet> = unreadable.into_iter().map(Into::into).collect();
    let mut rows: Vec<[String; 4]> = backups
        .into_iter()
        .map(|backup| {
            let set = backup.into();
            [
                set.id,
                set.created_at,
                set.operation,
                set.files.len().to_string(),
            ]
        })
        .collect();
    rows.extend(
        unreadable
            .iter()
            .map(|set| [set_name(set), "-".into(), "UNREADABLE".into(), "-".into()]),
    );
    let mut text = columns(&["ID", "CREATED", "OPERATION", "FILES"], &rows);
    for set in &unreadable {
        let _ = writeln!(
            text,
            "unreadable backup {}: {}",
            crate::ui::render::text::path(&set.dir),
            crate::ui::render::text::printable(&set.reason)
        );
    }
    text
}

/// Backups as JSON; sets that cannot be read are listed under `unreadable`.
pub fn backups_json<B: Into<BackupSet>, U: Into<UnreadableSet>>(
    backups: impl IntoIterator<Item = B>,
    unreadable: impl IntoIterator<Item = U>,
) -> String {
    let unreadable: Vec<UnreadableSet> = unreadable.into_iter().map(Into::into).collect();
    let doc = json!({
        "schemaVersion": SCHEMA_VERSION,
        "backups": backups.into_iter().map(|backup| {
            let set = backup.into();
            json!({
                "id": set.id,
                "createdAt": set.created_at,
                "operation": set.operation,
                "path": json_path(&set.dir),
                "files": set.files.iter().map(|entry| json!({
                    "path": json_path(&entry.path),
                    "existed": entry.existed,
                    "mode": format!("{:04o}", entry.mode),
                    "uid": entry.uid,
                    "gid": entry.gid,
                    "sha256": entry.sha256,
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "unreadable": unreadable.iter().map(|set| json!({
            "id": set_name(set),
            "path": json_path(&set.dir),
            "error": set.reason,
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// An unreadable set's folder name, escaped.
fn set_name(set: &UnreadableSet) -> String {
    set.dir
        .file_name()
        .map_or_else(String::new, |name| escaped(std::path::Path::new(name)))
}

/// What restoring a backup does, file by file.
pub fn restore_table(backup: impl Into<BackupSet>) -> String {
    let rows: Vec<[String; 2]> = backup
        .into()
        .files
        .iter()
        .map(|entry| {
            let action = if entry.existed {
                format!(
                    "restore (mode {:04o}, uid {}, sha256 {})",
                    entry.mode,
                    entry.uid,
                    short(&entry.sha256)
                )
            } else {
                "remove (the operation created it)".into()
            };
            [escaped(&entry.path), action]
        })
        .collect();
    columns(&["FILE", "ACTION"], &rows)
}

/// A restore as JSON: `applied` (false: planned, `--dry-run`), the backup
/// restored, the files it writes or wrote (with the SHA-256 of the bytes put
/// back, known from the backup either way), the backup of the state before
/// (applied only: the id that undoes the rollback) and the static pods that
/// must restart to load what was put back.
pub fn restore_json(
    restored: &str,
    changes: &[Write],
    backup: Option<(&str, &std::path::Path)>,
    pods: &[&str],
) -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "rollback",
        "applied": backup.is_some(),
        "restored": restored,
        "backup": backup.map(|(id, _)| id),
        "backupPath": backup.map(|(_, dir)| json_path(dir)),
        "changes": json::changes(changes),
        "restart": {"pods": pods},
    }))
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn skip_text(reason: &SkipReason) -> String {
    match reason {
        SkipReason::Absent => "absent (MISSING, as kubeadm says; not recreated)".into(),
        SkipReason::ExternalCa(ca) => {
            format!("external CA: {ca}.key is absent, it cannot be renewed here")
        }
        SkipReason::NotDue(not_after) => format!("not due (expires {})", date(*not_after)),
        SkipReason::Fault { reason, .. } => format!("cannot renew: {reason}"),
    }
}

/// kubeadm's `encryptionAlgorithm` spelling.
pub fn algorithm_name(algorithm: crate::domain::issue::KeyAlgorithm) -> &'static str {
    use crate::domain::issue::KeyAlgorithm as A;
    match algorithm {
        A::EcdsaP256 => "ECDSA-P256",
        A::EcdsaP384 => "ECDSA-P384",
        A::Rsa2048 => "RSA-2048",
        A::Rsa3072 => "RSA-3072",
        A::Rsa4096 => "RSA-4096",
    }
}

fn columns<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let rows: Vec<Row> = rows
        .iter()
        .map(|cells| Row {
            cells: cells.to_vec(),
            severity: None,
        })
        .collect();
    table::render(headers, &rows, Paint::Plain)
}
