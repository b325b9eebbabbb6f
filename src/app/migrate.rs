//! `kubecred migrate`: SPEC.md's six steps, in order, each journaled; any
//! failure after the backup restores it, and so does SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::app::renew::apply_error;
use crate::app::{
    PathError, begin_writing, confirm, describe_backup, describe_scan, print, scan_host, scope,
};
use crate::domain::binding::BINDING;
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::domain::migrate::steps::{self, Preflight, Step};
use crate::domain::migrate::{
    self, Material, Options, Plan, SuperAdmin, SuperAdminTarget, Unverified,
};
use crate::edge::api;
use crate::edge::apply::hook::Proceed;
use crate::edge::apply::transaction::{Change, Transaction};
use crate::edge::context::Context;
use crate::edge::online;
use crate::ui::cli::{Global, MigrateArgs, Output};
use crate::ui::render::migrate::{self as render, Outcome};

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
            print(&render::unchanged_json())?;
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
            render::plan_json(&plan, args.offline)
        } else {
            render::plan_table(&plan, args.offline, &global.state_dir)
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
        (args.offline && plan.reissue_admin).then(|| offline_mark(&plan, &global.state_dir, ctx));
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
        state_dir: ctx
            .absolute(&global.state_dir)
            .unwrap_or_else(|_| global.state_dir.clone()),
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
        Output::Json => render::summary_json(&plan, &material, &outcome),
        _ => render::summary_text(&plan, &material, &outcome),
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
fn offline_mark(plan: &Plan, state_dir: &Path, ctx: &Context) -> Unverified {
    let absolute = |path: &Path| ctx.absolute(path).unwrap_or_else(|_| path.to_path_buf());
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
