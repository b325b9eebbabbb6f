//! `kubecred migrate`: the flags resolved once into [`MigrateOptions`], then
//! [`plan`] (the scan, the domain's plan, the preflight) and [`execute`],
//! which carries out exactly the planned value: SPEC.md's six steps, in order,
//! each journaled; any failure after the backup restores it, and so does
//! SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::app::options::{Format, GlobalOptions, WriteOptions};
use crate::app::renew::apply_error;
use crate::app::{PathError, confirm, host, print, scan_host};
use crate::domain::binding::BINDING;
use crate::domain::layout::{KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS};
use crate::domain::migrate::steps::{self, Preflight, Step};
use crate::domain::migrate::{
    self, Material, Options, Plan, SuperAdmin, SuperAdminTarget, Unverified,
};
use crate::domain::model::Inventory;
use crate::domain::plan::Write;
use crate::edge::api;
use crate::edge::apply::hook::Proceed;
use crate::edge::apply::lock::RunLock;
use crate::edge::apply::transaction::Transaction;
use crate::edge::context::Context;
use crate::edge::inventory::Host;
use crate::edge::online;
use crate::ui::cli::{self, MigrateArgs};
use crate::ui::render::migrate::{self as render, Outcome};

/// The exit status of a run interrupted by SIGINT or SIGTERM (and restored).
const INTERRUPTED_EXIT: u8 = 130;

/// The new certificates' lifetime when none is asked for: kubeadm's 8760h.
const DEFAULT_VALIDITY: time::Duration = time::Duration::hours(8760);

/// What was asked for, before it is resolved: the flags of `kubecred migrate`,
/// or the wizard's choices. Unset is the default.
#[derive(Clone, Debug, Default)]
pub(super) struct Request {
    /// `--dry-run`, `--yes`, `--wait`.
    pub(super) write: Option<WriteOptions>,
    /// `--offline`.
    pub(super) offline: bool,
    /// `--super-admin-out`.
    pub(super) super_admin_out: Option<PathBuf>,
    /// `--no-super-admin`.
    pub(super) no_super_admin: bool,
    /// `--i-have-another-break-glass-credential`.
    pub(super) another_break_glass: bool,
    /// `--update-copies`.
    pub(super) update_copies: bool,
    /// `--server`.
    pub(super) server: Option<String>,
    /// `--api-timeout`.
    pub(super) api_timeout: Option<time::Duration>,
    /// `--validity`.
    pub(super) validity: Option<time::Duration>,
    /// `--trust-clock`.
    pub(super) trust_clock: bool,
}

impl From<&MigrateArgs> for Request {
    fn from(args: &MigrateArgs) -> Self {
        Self {
            write: Some(WriteOptions::new(&args.write)),
            offline: args.offline,
            super_admin_out: args.super_admin_out.clone(),
            no_super_admin: args.no_super_admin,
            another_break_glass: args.i_have_another_break_glass_credential,
            update_copies: args.update_copies,
            server: args.server.clone(),
            api_timeout: args.api_timeout,
            validity: args.validity,
            trust_clock: args.trust_clock,
        }
    }
}

/// A migration as it will run: plain values, defaults applied, paths absolute.
#[derive(Clone, Debug)]
pub(super) struct MigrateOptions {
    /// Dry run, confirmation and the lock's wait.
    pub(super) write: WriteOptions,
    /// Make no API call: write the binding manifest instead.
    pub(super) offline: bool,
    /// The API server URL instead of admin.conf's.
    pub(super) server: Option<String>,
    /// How long to keep asking the API server.
    pub(super) api_timeout: Duration,
    /// What the domain's plan takes.
    pub(super) plan: Options,
}

impl MigrateOptions {
    /// Resolves `request`: refuses `--offline --no-super-admin` without
    /// another break-glass credential, applies the defaults and makes
    /// `--super-admin-out` absolute.
    pub(super) fn new(request: Request, ctx: &Context) -> Result<Self> {
        if request.offline && request.no_super_admin && !request.another_break_glass {
            return Err(PathError {
                message: "refusing --offline --no-super-admin: the binding manifest must be applied with a system:masters credential, and after this migration the only one left on this node would be inside the backup".into(),
                path: PathBuf::new(),
                hint: Some("keep super-admin.conf (drop --no-super-admin, or write it elsewhere with --super-admin-out PATH), or pass --i-have-another-break-glass-credential if you hold one; nothing was changed".into()),
                exit: 2,
            }
            .into());
        }
        let super_admin = match (&request.super_admin_out, request.no_super_admin) {
            (Some(path), _) => SuperAdminTarget::Out(ctx.absolute(path)?),
            (None, true) => SuperAdminTarget::Skip,
            (None, false) => SuperAdminTarget::Default,
        };
        Ok(Self {
            write: match request.write {
                Some(write) => write,
                None => {
                    WriteOptions::new(&cli::defaults().map_err(|err| anyhow::anyhow!("{err}"))?)
                }
            },
            offline: request.offline,
            server: request.server,
            api_timeout: request
                .api_timeout
                .and_then(|timeout| Duration::try_from(timeout).ok())
                .unwrap_or(api::DEFAULT_TOTAL_TIMEOUT),
            plan: Options {
                super_admin,
                update_copies: request.update_copies,
                validity: request.validity.unwrap_or(DEFAULT_VALIDITY),
                trust_clock: request.trust_clock,
            },
        })
    }
}

/// A planned migration: what [`execute`] carries out, as it was shown.
#[derive(Debug)]
pub(super) struct Planned {
    options: MigrateOptions,
    inventory: Inventory,
    plan: Plan,
    /// What the API server said before anything changed; `None` offline.
    preflight: Option<Preflight>,
}

/// Why a planned migration has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Nothing {
    /// admin.conf is split and the binding was seen.
    Bound,
    /// admin.conf is split; offline, the binding was not asked about.
    Offline,
}

impl Nothing {
    /// The notice for stderr.
    pub(super) fn message(self) -> String {
        match self {
            Self::Bound => format!(
                "nothing to do: admin.conf is in {KUBEADM_CLUSTER_ADMINS} and the {BINDING} binding grants it cluster-admin"
            ),
            Self::Offline => format!(
                "nothing to do offline: admin.conf is already in {KUBEADM_CLUSTER_ADMINS} (whether the binding exists was not asked; `kubecred check --online` tells)"
            ),
        }
    }
}

impl Planned {
    /// How it writes: dry run, confirmation, the lock's wait.
    pub(super) fn write(&self) -> &WriteOptions {
        &self.options.write
    }

    /// Whether (and why) there is nothing to change.
    pub(super) fn nothing_to_do(&self) -> Option<Nothing> {
        let copies_to_update = self.options.plan.update_copies && !self.plan.copies.is_empty();
        if self.plan.reissue_admin || copies_to_update {
            return None;
        }
        if self.preflight == Some(Preflight::Bound) {
            return Some(Nothing::Bound);
        }
        self.options.offline.then_some(Nothing::Offline)
    }

    /// The plan as a table.
    pub(super) fn table(&self, global: &GlobalOptions) -> String {
        render::plan_table(&self.plan, self.options.offline, &global.state_dir)
    }
}

pub(super) fn run(global: &GlobalOptions, args: &MigrateArgs, ctx: &Context) -> Result<u8> {
    let options = MigrateOptions::new(Request::from(args), ctx)?;
    let (dry_run, yes) = (options.write.dry_run, options.write.yes);
    let lock = host::begin_writing(global, &options.write, ctx)?;
    let planned = plan(global, options, ctx)?;
    if let Some(nothing) = planned.nothing_to_do() {
        if planned.preflight == Some(Preflight::Bound) && !dry_run {
            forget_mark(global);
        }
        if !global.quiet {
            eprintln!("{}", nothing.message());
        }
        if nothing == Nothing::Bound && global.format == Format::Json {
            print(&render::unchanged_json())?;
        }
        return Ok(0);
    }
    if global.format != Format::Json || dry_run {
        print(&match global.format {
            Format::Json => {
                render::plan_json(&planned.plan, planned.options.offline, &global.state_dir)
            }
            _ => planned.table(global),
        })?;
    }
    if dry_run {
        return Ok(0);
    }
    if global.format == Format::Json && !yes {
        // JSON carries one document, the summary: the plan asked about goes to stderr.
        eprint!("{}", planned.table(global));
    }
    confirm(yes, ctx, "Migrate this node?")?;
    // Not a dry run: `begin_writing` took the lock.
    let Some(lock) = lock else {
        return Ok(0);
    };
    execute(global, &planned, &lock, ctx)
}

/// Scans the node, plans the migration and (online) asks the API server
/// before anything changes (step 1): a binding that is not kubeadm's, an
/// unreachable server, a refused credential or a failed TLS verification
/// stops it with nothing touched.
pub(super) fn plan(
    global: &GlobalOptions,
    options: MigrateOptions,
    ctx: &Context,
) -> Result<Planned> {
    let inventory = scan_host(&global.scope(ctx), 1)?;
    host::describe_scan(global.verbose, &inventory);
    let plan = migrate::plan(&inventory, &Host::new(&inventory), &options.plan, ctx.now).map_err(
        |err| PathError {
            message: format!("cannot migrate: {}", err.message),
            path: err.path,
            hint: Some("nothing was changed".into()),
            exit: if err.usage { 2 } else { 1 },
        },
    )?;
    let preflight = if options.offline {
        None
    } else {
        let creator = plan.binding_via.as_ref().map(|(name, _)| name.as_str());
        let found = online::waiting(
            "kubecred: asking the API server about the kubeadm:cluster-admins binding",
            || {
                steps::preflight(
                    online::candidates(&inventory, options.server.as_deref(), options.api_timeout),
                    creator,
                )
            },
        );
        Some(found.map_err(|stop| PathError {
            message: stop.to_string(),
            path: plan.admin_path.clone(),
            hint: Some(stop.hint().into()),
            exit: 1,
        })?)
    };
    Ok(Planned {
        options,
        inventory,
        plan,
        preflight,
    })
}

/// Carries out `planned`, steps 2 to 6: issues the new files, backs up every
/// file it will touch, creates the binding (online), writes, and proves the
/// new admin.conf before it replaces the old one. The caller holds the lock.
pub(super) fn execute(
    global: &GlobalOptions,
    planned: &Planned,
    _lock: &RunLock,
    ctx: &Context,
) -> Result<u8> {
    let Planned {
        options,
        inventory,
        plan,
        preflight,
    } = planned;
    if *preflight == Some(Preflight::Bound) {
        forget_mark(global);
    }
    // The bytes the plan was made from: a file that changed since is refused.
    let host = Host::new(inventory);
    let material = migrate::prepare(plan, inventory, &host).map_err(|err| PathError {
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
        (options.offline && plan.reissue_admin).then(|| offline_mark(plan, &global.state_dir, ctx));
    let changes = migrate::writes(
        plan,
        &material,
        unverified.as_ref(),
        &global.state_dir,
        &host,
    )
    .map_err(|err| PathError {
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
        &changes,
        ctx.now,
        &Proceed,
    )
    .map_err(|err| apply_error(&err))?;
    let mut outcome = Outcome {
        old_admin_copy: unverified
            .as_ref()
            .filter(|mark| mark.kubeconfig.is_none())
            .and_then(|_| old_admin_copy(plan, &transaction)),
        mark: unverified,
        state_dir: ctx
            .absolute(&global.state_dir)
            .unwrap_or_else(|_| global.state_dir.clone()),
        ..Outcome::default()
    };
    let steps = online::waiting("kubecred: migrating", || {
        apply_steps(planned, &material, &changes, &mut transaction, &mut outcome)
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
    host::describe_backup(global.verbose, &backup);
    outcome.backup = Some((backup.manifest.id.clone(), backup.dir.clone()));
    if outcome.binding.is_some() {
        forget_mark(global);
    }
    let text = match global.format {
        Format::Json => render::summary_json(plan, &material, &outcome, &changes),
        _ => render::summary_text(plan, &material, &outcome),
    };
    print(&text)?;
    Ok(0)
}

/// The binding was seen: an offline migration's mark can go.
fn forget_mark(global: &GlobalOptions) {
    if let Err(message) = online::clear_mark(&global.state_dir) {
        eprintln!("kubecred: {}", crate::ui::render::text::printable(&message));
    }
}

/// Steps 3 to 6, inside the transaction, in the domain's order: the binding
/// (online), then `changes`, the new admin.conf proven (from memory: no copy
/// of its key on disk) just before it replaces the old one. An `Err` is the
/// reason to abort.
fn apply_steps(
    planned: &Planned,
    material: &Material,
    changes: &[Write],
    transaction: &mut Transaction<'_>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let Planned { options, plan, .. } = planned;
    let (server, timeout) = (options.server.as_deref(), options.api_timeout);
    let bind_with = plan.binding_via.as_ref().filter(|_| !options.offline);
    let new_admin = material.admin.as_deref().filter(|_| !options.offline);
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
