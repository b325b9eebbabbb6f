//! `kubecred renew`: plan, show, confirm, issue and verify, then apply as one
//! transaction; name the static pods that must restart.

use anyhow::Result;

use crate::app::{
    PathError, begin_writing, confirm, describe_backup, describe_scan, print, scan_host,
    scope_without_copies,
};
use crate::domain::issue::KeyAlgorithm;
use crate::domain::plan::Write;
use crate::domain::renew::{self, KeyChoice, RenewError, Request, SkipReason};
use crate::edge::apply::transaction::{self, ApplyError};
use crate::edge::context::Context;
use crate::edge::inventory::Host;
use crate::ui::cli::{Global, KeyAlgorithmArg, Output, RenewArgs};
use crate::ui::render;

pub(super) fn run(global: &Global, args: &RenewArgs, ctx: &Context) -> Result<u8> {
    let _lock = begin_writing(global, args.write.dry_run, args.write.wait, ctx)?;
    let inventory = scan_host(&scope_without_copies(global, ctx), 1)?;
    describe_scan(global, &inventory);
    let request = Request {
        names: args.names.clone(),
        within: args.within,
        validity: args.validity,
        key: key_choice(args),
        trust_clock: args.trust_clock,
        all_or_nothing: args.all_or_nothing,
    };
    let plan =
        renew::plan(&inventory, &request, ctx.now).map_err(|err| usage_or_failure(&err, global))?;
    let show = |plan: &renew::Plan| -> Result<()> {
        let text = match global.output {
            Output::Json => render::plan::renew_json(plan),
            _ => render::plan::renew_table(plan),
        };
        print(&text)
    };
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
    if plan.items.is_empty() || args.write.dry_run {
        show(&plan)?;
        let status = skipped_faults(&plan);
        if plan.items.is_empty() && !global.quiet {
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
    if !args.write.yes {
        show(&plan)?;
    }
    confirm(
        args.write.yes,
        ctx,
        &format!("Renew {} certificate(s)?", plan.items.len()),
    )?;
    let prepared = renew::prepare(&plan, &inventory, &Host::new(&inventory))
        .map_err(|err| usage_or_failure(&err, global))?;
    // What was shown is what happens: a credential that failed to issue moves to the skips.
    let mut plan = plan;
    plan.items
        .retain(|item| !prepared.skipped.iter().any(|skip| skip.name == item.name));
    plan.skipped.extend(prepared.skipped);
    if args.write.yes {
        show(&plan)?;
    }
    let status = skipped_faults(&plan);
    let renewed = prepared.renewed;
    if renewed.is_empty() {
        if !global.quiet {
            eprintln!("nothing was renewed");
        }
        return Ok(status);
    }
    let changes: Vec<Write> = renewed
        .iter()
        .flat_map(|r| r.changes.iter().cloned())
        .collect();
    let backup = transaction::apply(
        &global.state_dir,
        &global.kubernetes_dir,
        "renew",
        &changes,
        ctx.now,
        &ctx.hook(),
    )
    .map_err(|err| apply_error(&err))?;
    describe_backup(global, &backup);
    let names: Vec<String> = renewed.iter().map(|r| r.name.clone()).collect();
    if !global.quiet {
        eprintln!(
            "renewed {} certificate(s); the previous files are in backup {} ({})",
            names.len(),
            backup.manifest.id,
            crate::ui::render::text::path(&backup.dir)
        );
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
    Ok(status)
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

fn key_choice(args: &RenewArgs) -> KeyChoice {
    if args.reuse_key {
        return KeyChoice::Reuse;
    }
    match args.key_algorithm {
        KeyAlgorithmArg::Auto => KeyChoice::Auto,
        KeyAlgorithmArg::Rsa2048 => KeyChoice::New(KeyAlgorithm::Rsa2048),
        KeyAlgorithmArg::Rsa3072 => KeyChoice::New(KeyAlgorithm::Rsa3072),
        KeyAlgorithmArg::Rsa4096 => KeyChoice::New(KeyAlgorithm::Rsa4096),
        KeyAlgorithmArg::EcdsaP256 => KeyChoice::New(KeyAlgorithm::EcdsaP256),
        KeyAlgorithmArg::EcdsaP384 => KeyChoice::New(KeyAlgorithm::EcdsaP384),
    }
}

fn usage_or_failure(err: &RenewError, global: &Global) -> anyhow::Error {
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
