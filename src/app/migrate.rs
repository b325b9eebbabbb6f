//! `kubecred migrate`: SPEC.md's six steps, in order, each journaled; any
//! failure after the backup restores it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::api::{self, BINDING, Binding, Client, Created};
use crate::app::renew::apply_error;
use crate::app::{
    PathError, begin_writing, confirm, describe_backup, describe_scan, print, scan_host, scope,
};
use crate::apply::atomic::{self, Ownership};
use crate::apply::hook::Proceed;
use crate::apply::transaction::{Change, Transaction};
use crate::cli::{Global, MigrateArgs, Output};
use crate::context::Context;
use crate::inventory::Inventory;
use crate::layout::KUBEADM_CLUSTER_ADMINS;
use crate::migrate::{self, Material, Options, Plan, SuperAdmin, SuperAdminTarget};
use crate::online;
use crate::render::json::{SCHEMA_VERSION, path as json_path};
use crate::render::plan::algorithm_name;
use crate::span::date;

pub(super) fn run(global: &Global, args: &MigrateArgs, ctx: &Context) -> Result<u8> {
    let _lock = begin_writing(global, args.write.dry_run, args.write.wait, ctx)?;
    let inventory = scan_host(&scope(global, ctx), 1)?;
    describe_scan(global, &inventory);
    let options = Options {
        super_admin: match (&args.super_admin_out, args.no_super_admin) {
            (Some(path), _) => SuperAdminTarget::Out(std::path::absolute(path)?),
            (None, true) => SuperAdminTarget::Skip,
            (None, false) => SuperAdminTarget::Default,
        },
        update_copies: args.update_copies,
        validity: args.validity,
        trust_clock: args.trust_clock,
    };
    let plan = migrate::plan(&inventory, &options, ctx.now).map_err(|err| PathError {
        message: format!("cannot migrate: {}", err.message),
        path: err.path,
        hint: Some("nothing was changed".into()),
        exit: if err.usage { 2 } else { 1 },
    })?;
    let timeout = Duration::try_from(args.api_timeout).unwrap_or(api::DEFAULT_TOTAL_TIMEOUT);
    let server = args.server.as_deref();

    // Step 1: the plan, and what the API server says before anything changes.
    let bound = if args.offline {
        None
    } else {
        Some(preflight(&plan, &inventory, server, timeout)?)
    };
    let copies_to_update = args.update_copies && !plan.copies.is_empty();
    if !plan.reissue_admin && bound == Some(true) && !copies_to_update {
        if !global.quiet {
            eprintln!(
                "nothing to do: admin.conf is in {KUBEADM_CLUSTER_ADMINS} and the {BINDING} binding grants it cluster-admin"
            );
        }
        if global.output == Output::Json {
            print(&pretty(
                &json!({"schemaVersion": SCHEMA_VERSION, "operation": "migrate", "changed": false}),
            ))?;
        }
        return Ok(0);
    }
    if !plan.reissue_admin && args.offline && !copies_to_update {
        if !global.quiet {
            eprintln!(
                "nothing to do offline: admin.conf is already in {KUBEADM_CLUSTER_ADMINS} (whether the binding exists was not asked; `kubecred check --online` tells)"
            );
        }
        return Ok(0);
    }
    if global.output != Output::Json || args.write.dry_run {
        let text = if global.output == Output::Json {
            plan_json(&plan, args)
        } else {
            plan_table(&plan, args)
        };
        print(&text)?;
    }
    if args.write.dry_run {
        return Ok(0);
    }
    confirm(args.write.yes, ctx, "Migrate this node?")?;
    let material = migrate::prepare(&plan, &inventory).map_err(|err| PathError {
        message: format!("cannot migrate: {}", err.message),
        path: err.path,
        hint: Some("nothing was changed".into()),
        exit: 1,
    })?;

    // Step 2: back up every file it will touch.
    let mut transaction = Transaction::begin(
        &global.state_dir,
        &global.kubernetes_dir,
        "migrate",
        &plan.paths(),
        ctx.now,
        &Proceed,
    )
    .map_err(|err| apply_error(&err))?;
    let mut outcome = Outcome::default();
    match apply_steps(
        &plan,
        &material,
        args,
        server,
        timeout,
        &mut transaction,
        &mut outcome,
    ) {
        Ok(()) => {}
        Err(cause) => return Err(apply_error(&transaction.abort(cause))),
    }
    let backup = transaction.commit().map_err(|err| apply_error(&err))?;
    describe_backup(global, &backup);
    outcome.backup = Some((backup.manifest.id.clone(), backup.dir.clone()));
    if let Some(manifest) = &outcome.manifest_pending {
        let path = backup.dir.join("kubeadm-cluster-admins.yaml");
        atomic::write(&path, manifest.as_bytes(), 0o600)?;
        outcome.manifest = Some(path);
    }
    let text = match global.output {
        Output::Json => summary_json(&plan, &material, &outcome),
        _ => summary_text(&plan, &material, &outcome, &global.state_dir),
    };
    print(&text)?;
    Ok(0)
}

/// What happened, for the summary.
#[derive(Debug, Default)]
struct Outcome {
    binding: Option<Created>,
    manifest_pending: Option<String>,
    manifest: Option<PathBuf>,
    verified: Option<Vec<String>>,
    backup: Option<(String, PathBuf)>,
}

/// Reads the binding before anything changes: an unreachable server or a
/// wrong binding stops the migration with nothing touched.
fn preflight(
    plan: &Plan,
    inventory: &Inventory,
    server: Option<&str>,
    timeout: Duration,
) -> Result<bool> {
    let fail = |message: String, hint: &str| PathError {
        message,
        path: plan.admin_path.clone(),
        hint: Some(hint.into()),
        exit: 1,
    };
    match online::binding_state(inventory, server, timeout) {
        online::BindingState::Bound => Ok(true),
        online::BindingState::Missing | online::BindingState::Forbidden(_) => {
            if plan.binding_via.is_none() {
                return Err(fail(
                    format!("the {BINDING} binding is missing and there is no system:masters credential (admin.conf or super-admin.conf) to create it"),
                    "create it with a system:masters credential from another control-plane node; nothing was changed",
                )
                .into());
            }
            Ok(false)
        }
        online::BindingState::Wrong(binding) => Err(fail(
            format!(
                "the {BINDING} binding exists but differs from kubeadm's: has {}, kubeadm's is {}",
                serde_json::to_string(&binding).unwrap_or_default(),
                serde_json::to_string(&Binding::kubeadm()).unwrap_or_default()
            ),
            "fix or delete the binding first; nothing was changed",
        )
        .into()),
        online::BindingState::Unknown(reason) => Err(fail(
            format!("cannot reach the API server: {reason}"),
            "nothing was changed; without the API server, `kubecred migrate --offline` writes the binding manifest to apply later",
        )
        .into()),
    }
}

/// Steps 3 to 6, inside the transaction. An `Err` is the reason to abort.
fn apply_steps(
    plan: &Plan,
    material: &Material,
    args: &MigrateArgs,
    server: Option<&str>,
    timeout: Duration,
    transaction: &mut Transaction<'_>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    // Step 3: the binding.
    if args.offline {
        outcome.manifest_pending = Some(manifest_yaml());
    } else if let Some((name, path)) = &plan.binding_via {
        let client = online::credentials(path, name, server)
            .map_err(|reason| format!("cannot use {name}: {reason}"))
            .and_then(|creds| Client::new(&creds, timeout).map_err(|err| err.to_string()))?;
        let created = client
            .create_binding(&Binding::kubeadm())
            .map_err(|err| format!("creating the {BINDING} binding failed: {err}"))?;
        let read_back = client
            .get_binding(BINDING)
            .map_err(|err| format!("reading the {BINDING} binding back failed: {err}"))?;
        match read_back {
            Some(binding) if binding.grants_cluster_admins() => {}
            Some(binding) => {
                return Err(format!(
                    "the {BINDING} binding differs from kubeadm's after creation: {}",
                    serde_json::to_string(&binding).unwrap_or_default()
                ));
            }
            None => return Err(format!("the {BINDING} binding is not there after creation")),
        }
        outcome.binding = Some(created);
    }
    // Step 4: super-admin.conf.
    if let (SuperAdmin::Write(path), Some(bytes)) = (&plan.super_admin, &material.super_admin) {
        transaction
            .write(&Change {
                path: path.clone(),
                action: crate::apply::transaction::Action::Write(
                    bytes.clone(),
                    Ownership::Keep(0o600),
                ),
                kubeconfig: true,
            })
            .map_err(|err| err.to_string())?;
    }
    // Step 5: the new admin.conf, proven from a temporary file before it replaces the old one.
    if let Some(bytes) = &material.admin {
        if !args.offline {
            let pending = transaction.backup().dir.join("new-admin.conf");
            atomic::write(&pending, bytes, 0o600).map_err(|err| err.to_string())?;
            let proof = prove(&pending, server, timeout);
            let _ = fs::remove_file(&pending);
            outcome.verified = Some(proof?);
        }
        transaction
            .write(&Change::write(
                plan.admin_path.clone(),
                bytes.clone(),
                0o600,
                true,
            ))
            .map_err(|err| err.to_string())?;
    }
    // Step 6: the copies.
    for (path, bytes) in &material.copies {
        transaction
            .write(&Change::write(path.clone(), bytes.clone(), 0o600, true))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// SelfSubjectReview must show `kubeadm:cluster-admins` and not `system:masters`;
/// SelfSubjectAccessReview must allow `*` on `*`.
fn prove(pending: &Path, server: Option<&str>, timeout: Duration) -> Result<Vec<String>, String> {
    let creds = online::credentials(pending, "the new admin.conf", server)?;
    let client = Client::new(&creds, timeout).map_err(|err| err.to_string())?;
    let who = client.self_subject_review().map_err(|err| {
        format!("the new admin.conf failed verification: SelfSubjectReview: {err}")
    })?;
    if !who.groups.iter().any(|g| g == KUBEADM_CLUSTER_ADMINS)
        || who.groups.iter().any(|g| g == "system:masters")
    {
        return Err(format!(
            "the new admin.conf failed verification: the API server sees groups [{}]",
            who.groups.join(", ")
        ));
    }
    // A new binding reaches the authorizer's cache within moments: ask again until the timeout.
    let started = std::time::Instant::now();
    loop {
        let allowed = client.may("*", "*", "*").map_err(|err| {
            format!("the new admin.conf failed verification: SelfSubjectAccessReview: {err}")
        })?;
        if allowed {
            return Ok(who.groups);
        }
        if started.elapsed() >= timeout {
            return Err("the new admin.conf failed verification: it may not do `*` on `*` (is the binding effective?)".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn manifest_yaml() -> String {
    let binding = Binding::kubeadm();
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {BINDING}\nroleRef:\n  apiGroup: {}\n  kind: {}\n  name: {}\nsubjects:\n- apiGroup: {}\n  kind: Group\n  name: {}\n",
        binding.role_ref.api_group,
        binding.role_ref.kind,
        binding.role_ref.name,
        binding
            .subjects
            .first()
            .map_or("", |s| s.api_group.as_str()),
        KUBEADM_CLUSTER_ADMINS,
    )
}

pub(super) fn plan_table(plan: &Plan, args: &MigrateArgs) -> String {
    let mut steps: Vec<String> = Vec::new();
    let files: Vec<String> = plan
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    steps.push(format!("back up {}", files.join(", ")));
    steps.push(if args.offline {
        format!("write the {BINDING} binding manifest next to the backup (offline: no API call)")
    } else {
        match &plan.binding_via {
            Some((name, _)) => format!("ensure ClusterRoleBinding {BINDING} (ClusterRole cluster-admin, Group {KUBEADM_CLUSTER_ADMINS}) with {name}, read it back"),
            None => format!("ClusterRoleBinding {BINDING} exists: read it back"),
        }
    });
    steps.push(match &plan.super_admin {
        SuperAdmin::Write(path) => format!("write super-admin.conf (CN=kubernetes-super-admin, O=system:masters) to {} (0600)", path.display()),
        SuperAdmin::Existing(path) => format!("keep the existing super-admin.conf ({})", path.display()),
        SuperAdmin::Skip => "write no super-admin.conf (--no-super-admin): break-glass access needs a system:masters credential from elsewhere".into(),
    });
    steps.push(if plan.reissue_admin {
        format!(
            "issue admin.conf (CN=kubernetes-admin, O={KUBEADM_CLUSTER_ADMINS}, new {} key, until {}){}, then replace it",
            algorithm_name(plan.key),
            date(plan.not_after),
            if args.offline { " (offline: unverified)" } else { ", prove it with SelfSubjectReview and SelfSubjectAccessReview" }
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
            copy.path.display(),
            copy.user
        ));
    }
    let mut out = String::from("STEP   ACTION\n");
    for (index, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:<6} {step}", index + 1);
    }
    out
}

fn plan_json(plan: &Plan, args: &MigrateArgs) -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "offline": args.offline,
        "files": plan.paths().iter().map(|p| json_path(p)).collect::<Vec<_>>(),
        "bindingVia": plan.binding_via.as_ref().map(|(name, _)| name),
        "superAdmin": super_admin_json(&plan.super_admin),
        "reissueAdmin": plan.reissue_admin,
        "keyAlgorithm": algorithm_name(plan.key),
        "notAfter": crate::span::rfc3339(plan.not_after),
        "copies": plan.copies.iter().map(|c| json!({"path": json_path(&c.path), "user": c.user, "update": plan.update_copies})).collect::<Vec<_>>(),
    }))
}

fn super_admin_json(super_admin: &SuperAdmin) -> Value {
    match super_admin {
        SuperAdmin::Write(path) => json!({"action": "write", "path": json_path(path)}),
        SuperAdmin::Existing(path) => json!({"action": "keep", "path": json_path(path)}),
        SuperAdmin::Skip => json!({"action": "skip"}),
    }
}

fn summary_text(plan: &Plan, material: &Material, outcome: &Outcome, state_dir: &Path) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(String::new());
    match (&outcome.binding, &outcome.manifest) {
        (Some(Created::Created), _) => line(format!("binding: {BINDING} created and read back")),
        (Some(Created::AlreadyExists), _) => {
            line(format!("binding: {BINDING} already existed; read back"));
        }
        (None, Some(path)) => {
            let via = match &plan.super_admin {
                SuperAdmin::Write(p) | SuperAdmin::Existing(p) => p.display().to_string(),
                SuperAdmin::Skip => outcome
                    .backup
                    .as_ref()
                    .map(|(_, dir)| format!("{}/files/<the old admin.conf>", dir.display()))
                    .unwrap_or_default(),
            };
            line(format!(
                "binding: manifest written to {}; apply it with:",
                path.display()
            ));
            line(format!(
                "  kubectl --kubeconfig {via} apply -f {}",
                path.display()
            ));
        }
        (None, None) => line(format!("binding: {BINDING} already grants cluster-admin")),
    }
    match &plan.super_admin {
        SuperAdmin::Write(path) => line(format!("super-admin.conf: written to {} (0600), in system:masters: keep it off daily use", path.display())),
        SuperAdmin::Existing(path) => line(format!("super-admin.conf: kept ({})", path.display())),
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
        line(format!("copy updated: {}", path.display()));
    }
    for (path, reason) in &material.skipped_copies {
        line(format!("copy NOT updated: {}: {reason}", path.display()));
    }
    if !plan.update_copies {
        for copy in &plan.copies {
            line(format!(
                "stale copy: {} (user {}); --update-copies rewrites it",
                copy.path.display(),
                copy.user
            ));
        }
    }
    if let Some((id, dir)) = &outcome.backup {
        line(format!(
            "backup: {id} ({}); undo with `kubecred --state-dir {} rollback {id}`",
            dir.display(),
            state_dir.display()
        ));
    }
    if plan.reissue_admin && plan.old_admin.groups.iter().any(|g| g == "system:masters") {
        line(format!(
            "The old system:masters certificate (serial {}) stays valid until {}: wherever a copy of it survives, it grants cluster-admin that cannot be revoked.",
            plan.old_admin.serial,
            date(plan.old_admin.not_after)
        ));
    }
    out
}

fn summary_json(plan: &Plan, material: &Material, outcome: &Outcome) -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "changed": true,
        "backup": outcome.backup.as_ref().map(|(id, _)| id),
        "backupPath": outcome.backup.as_ref().map(|(_, dir)| json_path(dir)),
        "binding": match (&outcome.binding, &outcome.manifest) {
            (Some(Created::Created), _) => "created",
            (Some(Created::AlreadyExists), _) => "existed",
            (None, Some(_)) => "manifest",
            (None, None) => "unchanged",
        },
        "bindingManifest": outcome.manifest.as_deref().map(json_path),
        "superAdmin": super_admin_json(&plan.super_admin),
        "admin": material.admin_certificate.as_ref().map(|cert| json!({
            "serial": cert.serial,
            "notAfter": crate::span::rfc3339(cert.not_after),
            "groups": cert.groups,
            "verified": outcome.verified.is_some(),
        })),
        "oldAdmin": {
            "serial": plan.old_admin.serial,
            "notAfter": crate::span::rfc3339(plan.old_admin.not_after),
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
