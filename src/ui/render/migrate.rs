//! `kubecred migrate` shown: the plan (`--dry-run`, the confirmation) and the
//! summary of a finished migration, as a table or text and as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::domain::binding::{BINDING, Created};
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::domain::migrate::{self, Material, Plan, SuperAdmin, Unverified};
use crate::domain::plan::Write;
use crate::domain::shell;
use crate::domain::span::{date, rfc3339};
use crate::ui::render::json::{self, SCHEMA_VERSION, path as json_path};
use crate::ui::render::plan::algorithm_name;
use crate::ui::render::text;

/// What a finished migration did, beyond its plan and its new files.
#[derive(Debug, Default)]
pub struct Outcome {
    /// What creating the binding found (online).
    pub binding: Option<Created>,
    /// The offline migration's manifest, and how to apply it.
    pub mark: Option<Unverified>,
    /// Where the old admin.conf is kept, when it is the only system:masters credential named.
    pub old_admin_copy: Option<PathBuf>,
    /// The groups the API server sees the new admin.conf in, once proven.
    pub verified: Option<Vec<String>>,
    /// The backup's id and folder.
    pub backup: Option<(String, PathBuf)>,
    /// The state dir, absolute: the undo command must work from any folder.
    pub state_dir: PathBuf,
}

/// The steps of `plan` as a table; `offline` when no API call is made, the
/// manifest then going into `state_dir`.
pub fn plan_table(plan: &Plan, offline: bool, state_dir: &Path) -> String {
    let mut steps: Vec<String> = Vec::new();
    let files: Vec<String> = plan.paths().iter().map(|p| text::path(p)).collect();
    steps.push(format!("back up {}", files.join(", ")));
    steps.push(if offline {
        format!(
            "write the {BINDING} binding manifest to {} (offline: no API call)",
            text::path(&migrate::manifest_path(state_dir))
        )
    } else {
        match &plan.binding_via {
            Some((name, _)) => format!("ensure ClusterRoleBinding {BINDING} (ClusterRole cluster-admin, Group {KUBEADM_CLUSTER_ADMINS}) with {name}, read it back"),
            None => format!("ClusterRoleBinding {BINDING} exists: read it back"),
        }
    });
    steps.push(match &plan.super_admin {
        SuperAdmin::Write(path) => format!("write super-admin.conf (CN=kubernetes-super-admin, O=system:masters) to {} (0600)", text::path(path)),
        SuperAdmin::Existing(path) => format!("keep the existing super-admin.conf ({})", text::path(path)),
        SuperAdmin::Skip => "write no super-admin.conf (--no-super-admin): break-glass access needs a system:masters credential from elsewhere".into(),
    });
    steps.push(if plan.reissue_admin {
        format!(
            "issue admin.conf (CN=kubernetes-admin, O={KUBEADM_CLUSTER_ADMINS}, new {} key, until {}){}, then replace it",
            algorithm_name(plan.key),
            date(plan.not_after),
            if offline { " (offline: unverified)" } else { ", prove it with SelfSubjectReview and SelfSubjectAccessReview" }
        )
    } else {
        format!("keep admin.conf (already in {KUBEADM_CLUSTER_ADMINS})")
    });
    for copy in &plan.copies {
        steps.push(format!(
            "{} stale copy {} (user {})",
            if plan.update_copies {
                "update"
            } else {
                "report"
            },
            text::path(&copy.path),
            copy.user
        ));
    }
    let mut out = String::from("STEP   ACTION\n");
    for (index, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:<6} {step}", index + 1);
    }
    out
}

/// The plan as JSON: `applied` false, the files it would write (offline,
/// the binding manifest and its mark in `state_dir` too).
pub fn plan_json(plan: &Plan, offline: bool, state_dir: &Path) -> String {
    let mut paths = plan.paths();
    if offline && plan.reissue_admin {
        paths.insert(0, migrate::mark_path(state_dir));
        paths.insert(0, migrate::manifest_path(state_dir));
    }
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "applied": false,
        "changes": json::planned(&paths),
        "offline": offline,
        "files": plan.paths().iter().map(|p| json_path(p)).collect::<Vec<_>>(),
        "bindingVia": plan.binding_via.as_ref().map(|(name, _)| name),
        "superAdmin": super_admin_json(&plan.super_admin),
        "reissueAdmin": plan.reissue_admin,
        "keyAlgorithm": algorithm_name(plan.key),
        "notAfter": rfc3339(plan.not_after),
        "copies": plan.copies.iter().map(|c| json!({"path": json_path(&c.path), "user": c.user, "update": plan.update_copies})).collect::<Vec<_>>(),
    }))
}

/// A migration that had nothing to do, as JSON.
pub fn unchanged_json() -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "changed": false,
        "applied": false,
        "changes": [],
    }))
}

fn super_admin_json(super_admin: &SuperAdmin) -> Value {
    match super_admin {
        SuperAdmin::Write(path) => json!({"action": "write", "path": json_path(path)}),
        SuperAdmin::Existing(path) => json!({"action": "keep", "path": json_path(path)}),
        SuperAdmin::Skip => json!({"action": "skip"}),
    }
}

/// What the migration did, for a person: each file, the binding, the backup
/// and how to undo it, and how long the old certificate stays valid.
pub fn summary_text(plan: &Plan, material: &Material, outcome: &Outcome) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(String::new());
    match (&outcome.binding, &outcome.mark) {
        (Some(Created::Created), _) => line(format!("binding: {BINDING} created and read back")),
        (Some(Created::AlreadyExists), _) => {
            line(format!("binding: {BINDING} already existed; read back"));
        }
        (None, Some(mark)) => {
            line(format!(
                "binding: manifest written to {}; apply it with:",
                text::path(&mark.manifest)
            ));
            line(format!("  {}", mark.apply_line()));
            if mark.kubeconfig.is_none() {
                line("  (with your own system:masters credential, named by KUBECONFIG)".into());
                if let Some(copy) = &outcome.old_admin_copy {
                    line(format!(
                        "  the old admin.conf, in system:masters until {}, is kept in the backup: {}",
                        date(plan.old_admin.not_after),
                        shell::quote_path(copy)
                    ));
                }
            }
            line("  until then `kubecred check` reports cluster-admins-binding-unverified".into());
        }
        (None, None) => line(format!("binding: {BINDING} already grants cluster-admin")),
    }
    match &plan.super_admin {
        SuperAdmin::Write(path) => line(format!(
            "super-admin.conf: written to {} (0600), in system:masters: keep it off daily use",
            text::path(path)
        )),
        SuperAdmin::Existing(path) => {
            line(format!("super-admin.conf: kept ({})", text::path(path)));
        }
        SuperAdmin::Skip => line("super-admin.conf: not written; break-glass access needs a system:masters credential from another node".into()),
    }
    if let Some(cert) = &material.admin_certificate {
        let verified = match &outcome.verified {
            Some(groups) => format!("verified by the API server (groups: {})", groups.join(", ")),
            None => {
                "UNVERIFIED (offline): run `kubecred check --online` once the binding is applied"
                    .into()
            }
        };
        line(format!(
            "admin.conf: now CN=kubernetes-admin, O={KUBEADM_CLUSTER_ADMINS}, serial {}, until {}; {verified}",
            cert.serial,
            date(cert.not_after)
        ));
    }
    for (path, _) in &material.copies {
        line(format!("copy updated: {}", text::path(path)));
    }
    for (path, reason) in &material.skipped_copies {
        line(format!("copy NOT updated: {}: {reason}", text::path(path)));
    }
    if !plan.update_copies {
        for copy in &plan.copies {
            line(format!(
                "stale copy: {} (user {}); --update-copies rewrites it",
                text::path(&copy.path),
                copy.user
            ));
        }
    }
    if let Some((id, dir)) = &outcome.backup {
        line(format!(
            "backup: {id} ({}); undo with: {}",
            text::path(dir),
            shell::line(&[
                "kubecred",
                "--state-dir",
                &outcome.state_dir.to_string_lossy(),
                "rollback",
                id,
            ])
        ));
    }
    if plan.reissue_admin && plan.old_admin.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        line(format!(
            "The old system:masters certificate (serial {}) stays valid until {}: wherever a copy of it survives, it grants cluster-admin that cannot be revoked.",
            plan.old_admin.serial,
            date(plan.old_admin.not_after)
        ));
    }
    out
}

/// What the migration did, as JSON: `applied` true, the backup, each file
/// written (`changes`) with its new SHA-256.
pub fn summary_json(
    plan: &Plan,
    material: &Material,
    outcome: &Outcome,
    changes: &[Write],
) -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "changed": true,
        "applied": true,
        "changes": json::changes(changes),
        "restart": {"pods": []},
        "backup": outcome.backup.as_ref().map(|(id, _)| id),
        "backupPath": outcome.backup.as_ref().map(|(_, dir)| json_path(dir)),
        "binding": match (&outcome.binding, &outcome.mark) {
            (Some(Created::Created), _) => "created",
            (Some(Created::AlreadyExists), _) => "existed",
            (None, Some(_)) => "manifest",
            (None, None) => "unchanged",
        },
        "bindingManifest": outcome.mark.as_ref().map(|mark| json_path(&mark.manifest)),
        "applyCommand": outcome.mark.as_ref().map(Unverified::apply_line),
        "superAdmin": super_admin_json(&plan.super_admin),
        "admin": material.admin_certificate.as_ref().map(|cert| json!({
            "serial": cert.serial,
            "notAfter": rfc3339(cert.not_after),
            "groups": cert.groups,
            "verified": outcome.verified.is_some(),
        })),
        "oldAdmin": {
            "serial": plan.old_admin.serial,
            "notAfter": rfc3339(plan.old_admin.not_after),
            "groups": plan.old_admin.groups,
        },
        "copies": {
            "updated": material.copies.iter().map(|(p, _)| json_path(p)).collect::<Vec<_>>(),
            "skipped": material.skipped_copies.iter().map(|(p, why)| json!({"path": json_path(p), "reason": why})).collect::<Vec<_>>(),
            "reported": if plan.update_copies { Vec::new() } else { plan.copies.iter().map(|c| json_path(&c.path)).collect() },
        },
    }))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
