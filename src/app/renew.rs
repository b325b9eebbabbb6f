//! `kubecred renew`: plan, show, confirm, issue and verify, then apply as one
//! transaction; name the static pods that must restart. Planning and carrying
//! out are apart, so that the wizard carries out the very plan it showed.

use anyhow::Result;

use crate::app::host::{begin_writing, describe_backup, describe_scan};
use crate::app::options::{Format, GlobalOptions, RenewOptions, Restart, WriteOptions};
use crate::app::{PathError, confirm, print, scan_host};
use crate::domain::live;
use crate::domain::manifest::Component;
use crate::domain::model::Inventory;
use crate::domain::plan::Write;
use crate::domain::renew::{self, RenewError, SkipReason};
use crate::edge::api;
use crate::edge::apply::lock::RunLock;
use crate::edge::apply::transaction::{self, ApplyError};
use crate::edge::context::Context;
use crate::edge::inventory::Host;
use crate::edge::restart::{RestartError, Restarter};
use crate::ui::cli::DEFAULT_COPIES;
use crate::ui::render;

/// A renewal planned from one scan of the node: what is shown and, once
/// confirmed, exactly what is issued and written.
pub(super) struct Planned {
    options: RenewOptions,
    inventory: Inventory,
    plan: renew::Plan,
}

impl Planned {
    /// The domain plan, for showing.
    pub(super) fn plan(&self) -> &renew::Plan {
        &self.plan
    }

    /// How it is to be written.
    pub(super) fn write(&self) -> &WriteOptions {
        &self.options.write
    }
}

pub(super) fn run(global: &GlobalOptions, options: &RenewOptions, ctx: &Context) -> Result<u8> {
    let write = &options.write;
    let lock = begin_writing(global, write, ctx)?;
    let planned = plan(global, options, ctx)?;
    notices(global, &planned.plan);
    // No lock is a dry run: it only shows.
    let lock = match lock {
        Some(lock) if !planned.plan.is_empty() => lock,
        _ => {
            show(global, &planned.plan)?;
            let status = skipped_faults(&planned.plan);
            if planned.plan.is_empty() && !global.quiet {
                eprintln!(
                    "{}",
                    if status == 0 {
                        "nothing to renew"
                    } else {
                        "nothing was renewed"
                    }
                );
            }
            return Ok(status);
        }
    };
    if !write.yes {
        // JSON carries one document, the result: the plan asked about goes to stderr.
        if global.format == Format::Json {
            eprint!("{}", render::plan::renew_table(&planned.plan));
        } else {
            show(global, &planned.plan)?;
        }
    }
    confirm(write.yes, ctx, &question(&planned.plan))?;
    execute(global, planned, &lock, ctx)
}

/// The confirmation asked for `plan`.
fn question(plan: &renew::Plan) -> String {
    let (certificates, copies) = (plan.items.len(), plan.copies_to_update().len());
    match (certificates, copies) {
        (_, 0) => format!("Renew {certificates} certificate(s)?"),
        (0, _) => format!("Update {copies} copy(ies) of admin.conf?"),
        _ => format!(
            "Renew {certificates} certificate(s) and update {copies} copy(ies) of admin.conf?"
        ),
    }
}

/// Scans the node and plans the renewal; takes no lock and writes nothing.
pub(super) fn plan(
    global: &GlobalOptions,
    options: &RenewOptions,
    ctx: &Context,
) -> Result<Planned> {
    // The copies are read only when this run may concern them.
    let concerns_copies = options.request.update_copies
        || options.request.names.is_empty()
        || options
            .request
            .names
            .iter()
            .any(|name| name == "all" || name == "admin.conf");
    let scope = if concerns_copies {
        global.scope(ctx)
    } else {
        global.writing_scope(ctx)
    };
    let inventory = scan_host(&scope, 1)?;
    describe_scan(global.verbose, &inventory);
    let plan = renew::plan(&inventory, &options.request, ctx.now)
        .map_err(|err| usage_or_failure(&err, global))?;
    Ok(Planned {
        options: options.clone(),
        inventory,
        plan,
    })
}

/// What a plan leaves out or limits, on stderr: absent credentials (not
/// recreated) and certificates capped at their CA's expiry.
pub(super) fn notices(global: &GlobalOptions, plan: &renew::Plan) {
    for skip in &plan.skipped {
        if skip.reason == SkipReason::Absent && !global.quiet {
            eprintln!("MISSING! {}: absent, not recreated", skip.name);
        }
    }
    for item in plan.items.iter().filter(|item| item.capped) {
        eprintln!(
            "warning: {} is capped at {}'s expiry ({}): plan the CA's rotation",
            item.name,
            item.ca,
            crate::domain::span::date(item.not_after)
        );
    }
}

/// The plan on stdout, in the format asked for.
fn show(global: &GlobalOptions, plan: &renew::Plan) -> Result<()> {
    print(&match global.format {
        Format::Json => render::plan::renew_json(plan),
        _ => render::plan::renew_table(plan),
    })
}

/// Issues, verifies and writes exactly what `planned` holds, in one
/// transaction under the run lock; names the static pods that must restart.
pub(super) fn execute(
    global: &GlobalOptions,
    planned: Planned,
    _lock: &RunLock,
    ctx: &Context,
) -> Result<u8> {
    let Planned {
        options,
        inventory,
        mut plan,
    } = planned;
    let prepared = renew::prepare(&plan, &inventory, &Host::new(&inventory))
        .map_err(|err| usage_or_failure(&err, global))?;
    // What was shown is what happens: a credential that failed to issue moves to the skips.
    plan.items
        .retain(|item| !prepared.skipped.iter().any(|skip| skip.name == item.name));
    plan.skipped.extend(prepared.skipped.iter().cloned());
    if options.write.yes && global.format != Format::Json {
        show(global, &plan)?;
    }
    let status = skipped_faults(&plan);
    for (path, reason) in &prepared.skipped_copies {
        eprintln!(
            "warning: copy not updated: {}: {}",
            crate::ui::render::text::path(path),
            crate::ui::render::text::printable(reason)
        );
    }
    let changes: Vec<Write> = prepared.changes();
    if changes.is_empty() {
        if !global.quiet {
            eprintln!("nothing was renewed");
        }
        if global.format == Format::Json {
            show(global, &plan)?;
        }
        return Ok(status);
    }
    let backup = transaction::apply(
        &global.state_dir,
        &global.kubernetes_dir,
        "renew",
        &changes,
        ctx.now,
        &ctx.hook(),
    )
    .map_err(|err| apply_error(&err))?;
    describe_backup(global.verbose, &backup);
    let names: Vec<String> = prepared.renewed.iter().map(|r| r.name.clone()).collect();
    let copies: Vec<&std::path::Path> = prepared.copies.iter().map(|c| c.path.as_path()).collect();
    if !global.quiet {
        let done = match (names.len(), copies.len()) {
            (renewed, 0) => format!("renewed {renewed} certificate(s)"),
            (0, updated) => format!("updated {updated} copy(ies) of admin.conf"),
            (renewed, updated) => {
                format!(
                    "renewed {renewed} certificate(s) and updated {updated} copy(ies) of admin.conf"
                )
            }
        };
        eprintln!(
            "{done}; the previous files are in backup {} ({})",
            backup.manifest.id,
            crate::ui::render::text::path(&backup.dir)
        );
        for copy in &copies {
            eprintln!("copy updated: {}", crate::ui::render::text::path(copy));
        }
    }
    // The copies this renewal left stale, and the command that updates them.
    let admin_renewed = names.iter().any(|name| name == "admin.conf");
    let stale: Vec<&crate::domain::migrate::CopyRef> = if plan.update_copies || !admin_renewed {
        Vec::new()
    } else {
        plan.copies.iter().collect()
    };
    let update_command = (!stale.is_empty()).then(|| update_copies_line(global));
    let mut result = render::plan::Renewal {
        changes: &changes,
        backup: (backup.manifest.id.clone(), backup.dir.clone()),
        skipped_copies: &prepared.skipped_copies,
        update_command: update_command.clone(),
        restart_policy: match options.restart {
            Restart::Never => "never",
            Restart::Auto { .. } => "auto",
            Restart::Ask { .. } => "ask",
        },
        restarted: Vec::new(),
    };
    let tell_stale = || {
        if let Some(line) = update_command.as_ref().filter(|_| !global.quiet) {
            for copy in &stale {
                eprintln!(
                    "stale copy: {} (user {}) still holds admin.conf's previous certificate",
                    crate::ui::render::text::path(&copy.path),
                    crate::ui::render::text::printable(&copy.user)
                );
            }
            eprintln!("update the copies with: {line}");
        }
    };
    let restart_within = match options.restart {
        Restart::Never => None,
        Restart::Auto { timeout } => Some(timeout),
        Restart::Ask { timeout } => offer_restart(&names, ctx).then_some(timeout),
    };
    if let Some(timeout) = restart_within {
        let restarted = restart(
            global,
            &inventory,
            &names,
            timeout,
            options.force_etcd_restart,
            ctx,
        );
        let failure = match restarted {
            Ok(done) => {
                result.restarted = done;
                None
            }
            Err((done, err)) => {
                result.restarted = done;
                Some(err)
            }
        };
        if global.format == Format::Json {
            print(&render::plan::renew_result_json(&plan, &result))?;
        }
        tell_stale();
        return failure.map_or(Ok(status), Err);
    }
    if global.format == Format::Json {
        print(&render::plan::renew_result_json(&plan, &result))?;
    }
    if !global.quiet {
        let pods = renew::pods_to_restart(&names);
        if !pods.is_empty() {
            eprintln!(
                "You must restart {} so that {} the new certificates.",
                pods.join(", "),
                if pods.len() == 1 {
                    "it loads"
                } else {
                    "they load"
                }
            );
        }
    }
    tell_stale();
    Ok(status)
}

/// The command that rewrites the copies of admin.conf's credential without
/// renewing anything again: `--within 0s` makes nothing due (admin.conf was
/// just renewed), and `--update-copies` with nothing due updates the copies
/// alone. The global flags given that are not their defaults come along.
fn update_copies_line(global: &GlobalOptions) -> String {
    let mut words: Vec<String> = vec!["kubecred".into()];
    let mut flag = |name: &str, value: &std::path::Path| {
        words.push(name.into());
        words.push(value.to_string_lossy().into_owned());
    };
    if global.kubernetes_dir != std::path::Path::new(DEFAULT_KUBERNETES_DIR) {
        flag("--kubernetes-dir", &global.kubernetes_dir);
    }
    if global.cert_dir != global.kubernetes_dir.join("pki") {
        flag("--cert-dir", &global.cert_dir);
    }
    if global.state_dir != std::path::Path::new(DEFAULT_STATE_DIR) {
        flag("--state-dir", &global.state_dir);
    }
    if global
        .copy_globs
        .iter()
        .map(String::as_str)
        .ne(DEFAULT_COPIES.iter().copied())
    {
        for glob in &global.copy_globs {
            words.push(format!("--copies={glob}"));
        }
    }
    words.extend(["renew", "admin.conf", "--within", "0s", "--update-copies"].map(String::from));
    crate::domain::shell::line(&words)
}

/// `--kubernetes-dir`'s default.
const DEFAULT_KUBERNETES_DIR: &str = "/etc/kubernetes";
/// `--state-dir`'s default.
const DEFAULT_STATE_DIR: &str = "/var/lib/kubecred";

/// Asks whether to restart the components that must load `renewed` (none: no question).
fn offer_restart(renewed: &[String], ctx: &Context) -> bool {
    let needed = live::restarts_needed(renewed);
    if needed.is_empty() {
        return false;
    }
    let names: Vec<&str> = needed.iter().map(|component| component.as_str()).collect();
    let question = format!(
        "Restart {} now, one at a time, each until it uses the new files?",
        names.join(", ")
    );
    // A "no" is an answer, not a failure: the renewal stands and the hint follows.
    confirm(false, ctx, &question).is_ok()
}

/// Restarts, one at a time and in order, the components that read one of the
/// credentials `renewed` only at start; the first that fails stops the run.
/// Says which were restarted, also when one failed.
fn restart(
    global: &GlobalOptions,
    inventory: &Inventory,
    renewed: &[String],
    timeout: std::time::Duration,
    force_etcd: bool,
    ctx: &Context,
) -> Result<Vec<&'static str>, (Vec<&'static str>, anyhow::Error)> {
    let mut finished = Vec::new();
    let needed = live::restarts_needed(renewed);
    if needed.is_empty() {
        if !global.quiet {
            eprintln!("no component needs a restart: each reloads or serves what was renewed");
        }
        return Ok(finished);
    }
    // From here a SIGINT or SIGTERM puts a manifest that is out back, then stops.
    let _ = ctrlc::set_handler(|| {
        if !api::interrupted() {
            eprintln!("\nkubecred: interrupted: putting the manifest back in place");
        }
        api::interrupt();
    });
    let hook = ctx.hook();
    let restarter = Restarter {
        state_dir: &global.state_dir,
        kubernetes_dir: &global.kubernetes_dir,
        inventory,
        probing: &ctx.probing,
        file_check: ctx.file_check,
        timeout,
        now: ctx.now,
        hook: &hook,
        cert_dir: &global.cert_dir,
        force_etcd,
    };
    for (at, component) in needed.iter().enumerate() {
        if !global.quiet {
            eprintln!("restarting {component}: its manifest moves out until it stops");
        }
        match restarter.restart(*component, renewed) {
            Ok(done) => {
                finished.push(component.as_str());
                if !global.quiet {
                    eprintln!(
                        "restarted {component} ({}; manifest out for {:.1} s): it uses the renewed credentials after {:.1} s",
                        if done.seen_stopping {
                            "its process ended"
                        } else {
                            "the kubelet's check interval passed"
                        },
                        done.out_for.as_secs_f64(),
                        done.took.as_secs_f64()
                    );
                }
            }
            Err(err) => return Err((finished, restart_error(&err, &needed[at..], global))),
        }
    }
    Ok(finished)
}

/// A failed restart as SPEC's exit statuses: 130 interrupted, 4 when the
/// manifest could not be put back, else 1; the hint names what was not restarted.
fn restart_error(err: &RestartError, left: &[Component], global: &GlobalOptions) -> anyhow::Error {
    let names: Vec<&str> = left.iter().map(|component| component.as_str()).collect();
    let (path, exit, hint) = match err {
        RestartError::PutBack { path, .. } => (
            path.clone(),
            4,
            format!(
                "run `kubecred recover` to put the manifest back; not restarted: {}",
                names.join(", ")
            ),
        ),
        RestartError::Quorum { .. } => (
            global.kubernetes_dir.clone(),
            crate::domain::quorum::REFUSAL_EXIT_CODE,
            format!("nothing was moved; not restarted: {}", names.join(", ")),
        ),
        RestartError::Interrupted { .. } => (
            global.kubernetes_dir.clone(),
            130,
            format!("not restarted: {}", names.join(", ")),
        ),
        _ => (
            global.kubernetes_dir.clone(),
            1,
            format!(
                "the renewal stands; not restarted: {} (see `kubecred check --live`)",
                names.join(", ")
            ),
        ),
    };
    PathError {
        message: err.to_string(),
        path,
        hint: Some(hint),
        exit,
    }
    .into()
}

/// Says on stderr (even with `-q`) which credentials were skipped for a fault; 1 when any was, else 0.
fn skipped_faults(plan: &renew::Plan) -> u8 {
    let faults: Vec<&renew::Skipped> = plan
        .skipped
        .iter()
        .filter(|skip| skip.reason.is_fault())
        .collect();
    for skip in &faults {
        if let SkipReason::Fault { path, reason } = &skip.reason {
            eprintln!(
                "error: {} not renewed: {reason} ({})",
                skip.name,
                crate::ui::render::text::path(path)
            );
        }
    }
    u8::from(!faults.is_empty())
}

fn usage_or_failure(err: &RenewError, global: &GlobalOptions) -> anyhow::Error {
    let (path, exit) = match err {
        RenewError::Usage(_) => (global.kubernetes_dir.clone(), 2),
        RenewError::Unusable { path, .. } => (path.clone(), 1),
        _ => (global.kubernetes_dir.clone(), 1),
    };
    let message = match err {
        RenewError::Unusable { name, reason, .. } => format!("cannot renew {name}: {reason}"),
        other => other.to_string(),
    };
    let hint = match err {
        RenewError::Clock(_) => {
            "nothing was changed; fix the clock (timedatectl, chrony), or pass --trust-clock if it is right"
        }
        _ => "nothing was changed",
    };
    PathError {
        message,
        path,
        hint: Some(hint.into()),
        exit,
    }
    .into()
}

/// Maps a failed transaction to SPEC's exit statuses: 1 restored, 4 not.
pub(super) fn apply_error(err: &ApplyError) -> anyhow::Error {
    match err {
        ApplyError::Changed {
            path,
            planned,
            found,
        } => PathError {
            message: format!(
                "refusing to write: the file changed since the plan was made (planned from {planned}, found {found})"
            ),
            path: path.clone(),
            hint: Some("nothing was changed; run kubecred again to plan from what is there now".into()),
            exit: 1,
        },
        ApplyError::Backup(cause) => PathError {
            message: format!("cannot make the backup: {}", cause.source),
            path: cause.path.clone(),
            hint: Some("nothing was changed".into()),
            exit: 1,
        },
        ApplyError::RolledBack { cause, backup } => PathError {
            message: format!("{cause}; every file was restored"),
            path: backup.clone(),
            hint: None,
            exit: 1,
        },
        ApplyError::RollbackFailed {
            cause,
            restore,
            backup,
        } => PathError {
            message: format!("{cause}; restoring failed too ({restore})"),
            path: backup.clone(),
            hint: Some(format!(
                "restore by hand: {}",
                crate::domain::shell::line(&[
                    "kubecred",
                    "--state-dir",
                    // <state-dir>/backups/<id>
                    &backup
                        .parent()
                        .and_then(std::path::Path::parent)
                        .map(|dir| dir.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    "rollback",
                    &backup
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ])
            )),
            exit: 4,
        },
    }
    .into()
}
