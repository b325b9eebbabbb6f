//! `kubecred migrate`: SPEC.md's six steps, in order, each journaled; any
//! failure after the backup restores it, and so does SIGINT or SIGTERM.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::app::renew::apply_error;
use crate::app::{
    PathError, begin_writing, confirm, describe_backup, describe_scan, print, scan_host, scope,
};
use crate::domain::binding::{BINDING, Created};
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::domain::migrate::steps::{self, Preflight, Step};
use crate::domain::migrate::{
    self, Material, Options, Plan, SuperAdmin, SuperAdminTarget, Unverified,
};
use crate::domain::shell;
use crate::domain::span::date;
use crate::edge::api;
use crate::edge::apply::hook::Proceed;
use crate::edge::apply::transaction::{Change, Transaction};
use crate::edge::context::Context;
use crate::edge::online;
use crate::ui::cli::{Global, MigrateArgs, Output};
use crate::ui::render::json::{SCHEMA_VERSION, path as json_path};
use crate::ui::render::plan::algorithm_name;

/// The exit status of a run interrupted by SIGINT or SIGTERM (and restored).
const INTERRUPTED_EXIT: u8 = 130;

pub(super) fn run(global: &Global, args: &MigrateArgs, ctx: &Context) -> Result<u8> {
    if args.offline && args.no_super_admin && !args.i_have_another_break_glass_credential {
        return Err(PathError {
            message: "refusing --offline --no-super-admin: the binding manifest must be applied with a system:masters credential, and after this migration the only one left on this node would be inside the backup".into(),
            path: PathBuf::new(),
            hint: Some("keep super-admin.conf (drop --no-super-admin, or write it elsewhere with --super-admin-out PATH), or pass --i-have-another-break-glass-credential if you hold one; nothing was changed".into()),
            exit: 2,
        }
        .into());
    }
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
        let creator = plan.binding_via.as_ref().map(|(name, _)| name.as_str());
        let found = online::waiting(
            "kubecred: asking the API server about the kubeadm:cluster-admins binding",
            || steps::preflight(online::candidates(&inventory, server, timeout), creator),
        );
        Some(
            found.map_err(|stop| PathError {
                message: stop.to_string(),
                path: plan.admin_path.clone(),
                hint: Some(stop.hint().into()),
                exit: 1,
            })? == Preflight::Bound,
        )
    };
    if bound == Some(true) && !args.write.dry_run {
        forget_mark(global);
    }
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
            plan_table(&plan, args, &global.state_dir)
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

    // From here on a SIGINT or SIGTERM stops at the next step and restores the backup.
    // (Under the wizard, which owns the signals, the change runs to its end.)
    let _ = ctrlc::set_handler(|| {
        if !api::interrupted() {
            eprintln!(
                "\nkubecred: interrupted: restoring the backup once the step in progress ends"
            );
        }
        api::interrupt();
    });
    let unverified =
        (args.offline && plan.reissue_admin).then(|| offline_mark(&plan, &global.state_dir));
    let changes = migrate::writes(&plan, &material, unverified.as_ref(), &global.state_dir);
    let paths: Vec<PathBuf> = changes.iter().map(|change| change.path.clone()).collect();

    // Step 2: back up every file it will touch.
    let mut transaction = Transaction::begin(
        &global.state_dir,
        &global.kubernetes_dir,
        "migrate",
        &paths,
        ctx.now,
        &Proceed,
    )
    .map_err(|err| apply_error(&err))?;
    let mut outcome = Outcome {
        old_admin_copy: unverified
            .as_ref()
            .filter(|mark| mark.kubeconfig.is_none())
            .and_then(|_| old_admin_copy(&plan, &transaction)),
        mark: unverified,
        ..Outcome::default()
    };
    let steps = online::waiting("kubecred: migrating", || {
        apply_steps(
            &plan,
            &material,
            &changes,
            args.offline,
            server,
            timeout,
            &mut transaction,
            &mut outcome,
        )
    });
    if let Err(cause) = steps {
        let interrupted = api::interrupted();
        let error = apply_error(&transaction.abort(cause));
        return Err(match error.downcast::<PathError>() {
            Ok(mut path_error) if interrupted && path_error.exit == 1 => {
                path_error.exit = INTERRUPTED_EXIT;
                path_error.into()
            }
            Ok(path_error) => path_error.into(),
            Err(other) => other,
        });
    }
    let backup = transaction.commit().map_err(|err| apply_error(&err))?;
    describe_backup(global, &backup);
    outcome.backup = Some((backup.manifest.id.clone(), backup.dir.clone()));
    if outcome.binding.is_some() {
        forget_mark(global);
    }
    let text = match global.output {
        Output::Json => summary_json(&plan, &material, &outcome),
        _ => summary_text(&plan, &material, &outcome, &global.state_dir),
    };
    print(&text)?;
    Ok(0)
}

/// The binding was seen: an offline migration's mark can go.
fn forget_mark(global: &Global) {
    if let Err(message) = online::clear_mark(&global.state_dir) {
        eprintln!("kubecred: {}", crate::ui::render::text::printable(&message));
    }
}

/// What happened, for the summary.
#[derive(Debug, Default)]
struct Outcome {
    binding: Option<Created>,
    /// The offline migration's manifest, and how to apply it.
    mark: Option<Unverified>,
    /// Where the old admin.conf is kept, when it is the only system:masters credential named.
    old_admin_copy: Option<PathBuf>,
    verified: Option<Vec<String>>,
    backup: Option<(String, PathBuf)>,
}

/// Steps 3 to 6, inside the transaction, in the domain's order: the binding
/// (online), then `changes`, the new admin.conf proven (from memory: no copy
/// of its key on disk) just before it replaces the old one. An `Err` is the
/// reason to abort.
#[expect(clippy::too_many_arguments, reason = "the steps' inputs, passed once")]
fn apply_steps(
    plan: &Plan,
    material: &Material,
    changes: &[Change],
    offline: bool,
    server: Option<&str>,
    timeout: Duration,
    transaction: &mut Transaction<'_>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let bind_with = plan.binding_via.as_ref().filter(|_| !offline);
    let new_admin = material.admin.as_deref().filter(|_| !offline);
    let stop_if_interrupted = || {
        if api::interrupted() {
            Err(steps::StepError::Interrupted.to_string())
        } else {
            Ok(())
        }
    };
    let order = steps::sequence(
        bind_with.is_some(),
        new_admin.map(|_| plan.admin_path.as_path()),
        changes,
        |change| change.path.as_path(),
    );
    for step in order {
        match step {
            Step::Bind => {
                if let Some((name, path)) = bind_with {
                    let client = online::client(path, name, server, timeout)
                        .map_err(|err| err.to_string())?;
                    outcome.binding = Some(steps::bind(&client).map_err(|err| err.to_string())?);
                }
            }
            Step::Prove => {
                stop_if_interrupted()?;
                if let Some(bytes) = new_admin {
                    let dir = plan.admin_path.parent().unwrap_or_else(|| Path::new("."));
                    let client = online::client_from_bytes(
                        bytes,
                        dir,
                        "the new admin.conf",
                        server,
                        timeout,
                    )?;
                    outcome.verified = Some(steps::prove(&client).map_err(|err| err.to_string())?);
                }
            }
            Step::Write(change) => {
                stop_if_interrupted()?;
                transaction.write(change).map_err(|err| err.to_string())?;
            }
        }
    }
    stop_if_interrupted()
}

/// What the offline migration leaves to do, with the real path of the
/// system:masters kubeconfig to do it with when kubecred writes or keeps one.
/// Its paths are absolute: the command must work from any folder.
fn offline_mark(plan: &Plan, state_dir: &Path) -> Unverified {
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Unverified {
        admin: absolute(&plan.admin_path),
        manifest: absolute(&migrate::manifest_path(state_dir)),
        kubeconfig: match &plan.super_admin {
            SuperAdmin::Write(path) | SuperAdmin::Existing(path) => Some(absolute(path)),
            SuperAdmin::Skip => None,
        },
    }
}

/// With --i-have-another-break-glass-credential: the old admin.conf, still in
/// system:masters, as kept in the backup.
fn old_admin_copy(plan: &Plan, transaction: &Transaction<'_>) -> Option<PathBuf> {
    if !plan.old_admin.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        return None;
    }
    let backup = transaction.backup();
    backup
        .manifest
        .files
        .iter()
        .find(|entry| entry.path == plan.admin_path)
        .and_then(|entry| entry.stored.as_ref())
        .map(|stored| backup.dir.join("files").join(stored))
}

pub(super) fn plan_table(plan: &Plan, args: &MigrateArgs, state_dir: &Path) -> String {
    let mut steps: Vec<String> = Vec::new();
    let files: Vec<String> = plan
        .paths()
        .iter()
        .map(|p| crate::ui::render::text::path(p))
        .collect();
    steps.push(format!("back up {}", files.join(", ")));
    steps.push(if args.offline {
        format!(
            "write the {BINDING} binding manifest to {} (offline: no API call)",
            crate::ui::render::text::path(&migrate::manifest_path(state_dir))
        )
    } else {
        match &plan.binding_via {
            Some((name, _)) => format!("ensure ClusterRoleBinding {BINDING} (ClusterRole cluster-admin, Group {KUBEADM_CLUSTER_ADMINS}) with {name}, read it back"),
            None => format!("ClusterRoleBinding {BINDING} exists: read it back"),
        }
    });
    steps.push(match &plan.super_admin {
        SuperAdmin::Write(path) => format!("write super-admin.conf (CN=kubernetes-super-admin, O=system:masters) to {} (0600)", crate::ui::render::text::path(path)),
        SuperAdmin::Existing(path) => format!("keep the existing super-admin.conf ({})", crate::ui::render::text::path(path)),
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
            crate::ui::render::text::path(&copy.path),
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
        "notAfter": crate::domain::span::rfc3339(plan.not_after),
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
    match (&outcome.binding, &outcome.mark) {
        (Some(Created::Created), _) => line(format!("binding: {BINDING} created and read back")),
        (Some(Created::AlreadyExists), _) => {
            line(format!("binding: {BINDING} already existed; read back"));
        }
        (None, Some(mark)) => {
            line(format!(
                "binding: manifest written to {}; apply it with:",
                crate::ui::render::text::path(&mark.manifest)
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
        SuperAdmin::Write(path) => line(format!("super-admin.conf: written to {} (0600), in system:masters: keep it off daily use", crate::ui::render::text::path(path))),
        SuperAdmin::Existing(path) => line(format!("super-admin.conf: kept ({})", crate::ui::render::text::path(path))),
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
        line(format!(
            "copy updated: {}",
            crate::ui::render::text::path(path)
        ));
    }
    for (path, reason) in &material.skipped_copies {
        line(format!(
            "copy NOT updated: {}: {reason}",
            crate::ui::render::text::path(path)
        ));
    }
    if !plan.update_copies {
        for copy in &plan.copies {
            line(format!(
                "stale copy: {} (user {}); --update-copies rewrites it",
                crate::ui::render::text::path(&copy.path),
                copy.user
            ));
        }
    }
    if let Some((id, dir)) = &outcome.backup {
        line(format!(
            "backup: {id} ({}); undo with: {}",
            crate::ui::render::text::path(dir),
            shell::line(&[
                "kubecred",
                "--state-dir",
                &std::path::absolute(state_dir)
                    .unwrap_or_else(|_| state_dir.to_path_buf())
                    .to_string_lossy(),
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

fn summary_json(plan: &Plan, material: &Material, outcome: &Outcome) -> String {
    pretty(&json!({
        "schemaVersion": SCHEMA_VERSION,
        "operation": "migrate",
        "changed": true,
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
            "notAfter": crate::domain::span::rfc3339(cert.not_after),
            "groups": cert.groups,
            "verified": outcome.verified.is_some(),
        })),
        "oldAdmin": {
            "serial": plan.old_admin.serial,
            "notAfter": crate::domain::span::rfc3339(plan.old_admin.not_after),
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
