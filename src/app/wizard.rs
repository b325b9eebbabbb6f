//! `kubecred wizard`: gathers the facts, runs the flow on the terminal, and
//! carries out the confirmed intent with the same code as the commands.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use crate::app::host::lock_for_writing;
use crate::app::options::{GlobalOptions, RenewOptions, Restart, RestoreOptions, WriteOptions};
use crate::app::{PathError, migrate, move_super_admin, renew, rollback};
use crate::domain::findings::{Code, Thresholds};
use crate::domain::layout::Kind;
use crate::domain::live::LiveState;
use crate::domain::model::Inventory;
use crate::domain::report::Report;
use crate::edge::apply::backup::Backup;
use crate::edge::context::Context;
use crate::edge::online::{self, BindingState};
use crate::ui::cli::{self, RenewArgs, RollbackArgs, WizardArgs, WriteArgs};
use crate::ui::render::{self, text::printable};
use crate::ui::wizard::flow::{Answers, Binding, Facts, Intent, Running};
use crate::ui::wizard::prompt::Terminal;
use crate::ui::wizard::{self, Executor};

/// Set once the final confirmation is given: Ctrl-C no longer cancels.
static EXECUTING: AtomicBool = AtomicBool::new(false);

pub(super) fn run(options: &GlobalOptions, args: &WizardArgs, ctx: &Context) -> Result<u8> {
    if !ctx.interactive {
        return Err(PathError {
            message: "the wizard needs a terminal; without one, use the commands: \
                      `kubecred check`, `kubecred renew --yes`, `kubecred migrate --yes`, `kubecred rollback ID --yes`"
                .into(),
            path: PathBuf::new(),
            hint: Some("`kubecred check` shows the state; every writing command takes --dry-run".into()),
            exit: 2,
        }
        .into());
    }
    ctrlc::set_handler(|| {
        if EXECUTING.load(Ordering::SeqCst) {
            eprintln!(
                "\nkubecred: finishing the change in progress (it is journaled; interrupting it would only force a restore)"
            );
            return;
        }
        let _ = dialoguer::console::Term::stderr().show_cursor();
        eprintln!("\ncancelled: nothing was changed");
        // A signal handler may only leave; nothing has been begun before the final confirmation.
        #[expect(
            clippy::exit,
            reason = "Ctrl-C before any change: leave at once with 130"
        )]
        std::process::exit(130);
    })?;
    let timeout = Duration::try_from(args.api_timeout).unwrap_or(Duration::from_secs(10));
    let thresholds = args.thresholds.unwrap_or_default();
    let (facts, asking) = gather(options, args, timeout, thresholds, ctx);
    let mut executor = RealExecutor { options, args, ctx };
    let answers = move || {
        online::waiting(
            "kubecred: asking the API server and the running components",
            || {
                asking.join().unwrap_or_else(|_| Answers {
                    binding: Some(Binding::Failed("asking the API server failed".into())),
                    running: None,
                })
            },
        )
    };
    let outcome = wizard::run_pending(facts, answers, &mut Terminal::default(), &mut executor);
    match &outcome {
        wizard::Outcome::Cancelled => eprintln!("cancelled: nothing was changed"),
        wizard::Outcome::Quit => eprintln!("nothing was changed"),
        wizard::Outcome::Ran(..) => {}
    }
    Ok(outcome.exit())
}

/// The facts of the opening screen, read from the node at once; the API
/// server's answer about the binding comes from the thread returned.
fn gather(
    global: &GlobalOptions,
    args: &WizardArgs,
    timeout: Duration,
    thresholds: Thresholds,
    ctx: &Context,
) -> (Facts, JoinHandle<Answers>) {
    let server = args.server.clone();
    let inventory = Inventory::scan(&global.scope(ctx));
    let report = Report::new(&inventory, ctx.now, thresholds);
    let mut expiries: Vec<(String, time::OffsetDateTime)> = inventory
        .credentials
        .iter()
        .filter(|cred| cred.spec.is_some_and(|spec| spec.renewable) && cred.kind != Kind::Ca)
        .filter_map(|cred| {
            cred.material()
                .map(|m| (cred.name.clone(), m.certificate.not_after))
        })
        .collect();
    expiries.sort_by_key(|(_, not_after)| *not_after);
    let facts = Facts {
        kubernetes_dir: inventory.kubernetes_dir.clone(),
        admin_groups: inventory
            .material("admin.conf")
            .map(|m| m.certificate.groups.clone()),
        super_admin: inventory
            .credential("super-admin.conf")
            .filter(|c| c.material().is_some())
            .map(|c| c.path.clone()),
        expiries,
        now: Some(ctx.now),
        stale_copies: report
            .findings
            .iter()
            .filter(|f| f.code == Code::StaleAdminCopy)
            .map(|f| f.path.clone())
            .collect(),
        admin_copies: inventory
            .material("admin.conf")
            .map(|admin| crate::domain::migrate::admin_copies(&inventory, &admin.certificate, true))
            .unwrap_or_default()
            .into_iter()
            .map(|copy| copy.path)
            .collect(),
        warn: Some(thresholds.warn),
        renew_within: args.renew.map(|(within, _)| within),
        renew_validity: args.renew.map(|(_, validity)| validity),
        binding: None,
        backups: Backup::list(&global.state_dir)
            .into_iter()
            .map(|b| b.manifest.id)
            .collect(),
        running: None,
    };
    let probing = ctx.probing.clone();
    // Both answers are asked at once, off the thread that draws the node.
    let asking = std::thread::spawn(move || {
        std::thread::scope(|scope| {
            let running = scope.spawn(|| running(&inventory, &probing));
            let binding = inventory
                .material("admin.conf")
                .is_some()
                .then(|| binding(&inventory, server.as_deref(), timeout));
            Answers {
                binding,
                running: running.join().unwrap_or_default(),
            }
        })
    });
    (facts, asking)
}

/// What the API server says of the binding, as the wizard tells it.
fn binding(inventory: &Inventory, server: Option<&str>, timeout: Duration) -> Binding {
    let probe = online::probe(inventory, server, timeout);
    if probe.refused.contains(&"admin.conf") {
        return Binding::Failed(format!(
            "the API server does not accept admin.conf: {}",
            online::REFUSED
        ));
    }
    match probe.state {
        BindingState::Bound => Binding::Bound,
        BindingState::Missing | BindingState::Forbidden(_) => Binding::Missing,
        BindingState::Wrong(_) | BindingState::TooBroad(_) => Binding::Wrong,
        BindingState::Unreachable(why) => Binding::Unreachable(why),
        BindingState::Failed(why) => Binding::Failed(why),
    }
}

/// What the running components use, as `check --live` judges it; `None`
/// when the node has no static pod manifest to go by.
fn running(inventory: &Inventory, probing: &crate::edge::live::Probing) -> Option<Running> {
    if !inventory.static_pods.iter().any(|pod| pod.pod().is_some()) {
        return None;
    }
    let live = crate::edge::live::probe(inventory, probing, None);
    let mut running = Running::default();
    let mut stopped = Vec::new();
    for cred in &live.credentials {
        match cred.state {
            LiveState::InUse => running.in_use += 1,
            LiveState::Stale => running.stale.push((
                cred.credential.to_owned(),
                cred.component.as_str().to_owned(),
            )),
            LiveState::Unknown => running.unknown += 1,
            LiveState::NotRunning => stopped.push(cred.component),
        }
    }
    // In kubeadm's order: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.
    stopped.sort();
    stopped.dedup();
    running.not_running = stopped.iter().map(|c| c.as_str().to_owned()).collect();
    Some(running)
}

struct RealExecutor<'a> {
    options: &'a GlobalOptions,
    args: &'a WizardArgs,
    ctx: &'a Context,
}

impl RealExecutor<'_> {
    /// The migration the wizard offers: `kubecred migrate` with the wizard's
    /// server and timeout, every other choice left at its default.
    fn migrate_options(
        &self,
        offline: bool,
        update_copies: bool,
    ) -> Result<migrate::MigrateOptions> {
        migrate::MigrateOptions::new(
            migrate::Request {
                write: Some(WriteOptions::new(
                    &confirmed().map_err(|err| anyhow::anyhow!(err))?,
                )),
                offline,
                update_copies,
                server: self.args.server.clone(),
                api_timeout: Some(self.args.api_timeout),
                ..migrate::Request::default()
            },
            self.ctx,
        )
    }
}

/// A plan the wizard showed, kept to be carried out as it was shown.
enum Shown {
    Migrate(Box<migrate::Planned>),
    Renew(Box<renew::Planned>),
    MoveSuperAdmin(move_super_admin::Planned),
    Rollback(rollback::Planned),
}

impl Executor for RealExecutor<'_> {
    type Plan = Shown;

    fn plan(&mut self, intent: &Intent) -> Result<Shown, String> {
        match intent {
            Intent::Migrate {
                offline,
                update_copies,
            } => self
                .migrate_plan(*offline, *update_copies)
                .map(|planned| Shown::Migrate(Box::new(planned))),
            // `renew admin.conf --within 0s --update-copies`: the copies
            // alone, never a migration's super-admin.conf on a joined node.
            Intent::UpdateCopies => {
                let planned = renew::plan(self.options, &copies_options()?, self.ctx)
                    .map_err(|err| unplannable(&err))?;
                if planned.plan().is_empty() {
                    return Err("no stale copy holds admin.conf's identity (a super-admin.conf copy, say, is another): replace or delete it by hand".into());
                }
                Ok(Shown::Renew(Box::new(planned)))
            }
            Intent::Renew {
                within,
                validity,
                update_copies,
            } => {
                let options = renew_options(*within, *validity, *update_copies)?;
                let planned = renew::plan(self.options, &options, self.ctx)
                    .map_err(|err| unplannable(&err))?;
                if planned.plan().items.is_empty() {
                    return Err(format!(
                        "nothing expires within {}",
                        crate::domain::span::left(*within)
                    ));
                }
                Ok(Shown::Renew(Box::new(planned)))
            }
            Intent::MoveSuperAdmin { to } => {
                move_super_admin::plan(self.options, to, WriteOptions::new(&confirmed()?))
                    .map(Shown::MoveSuperAdmin)
                    .map_err(|err| unplannable(&err))
            }
            Intent::Rollback { id } => {
                let planned = rollback::plan(self.options, &restore_options(id)?)
                    .map_err(|err| unplannable(&err))?;
                if planned.is_empty() {
                    return Err(rollback::nothing_to_restore(id));
                }
                Ok(Shown::Rollback(planned))
            }
        }
    }

    fn show(&self, shown: &Shown) -> String {
        match shown {
            Shown::Migrate(planned) => planned.table(self.options),
            Shown::Renew(planned) => render::plan::renew_table(planned.plan()),
            Shown::MoveSuperAdmin(planned) => move_super_admin::show(self.options, planned),
            Shown::Rollback(planned) => render::plan::restore_table(planned.backup()),
        }
    }

    fn run(&mut self, shown: Shown) -> u8 {
        EXECUTING.store(true, Ordering::SeqCst);
        let (options, ctx) = (self.options, self.ctx);
        let result = match shown {
            Shown::Migrate(planned) => lock_for_writing(options, planned.write().wait, ctx)
                .and_then(|lock| migrate::execute(options, &planned, &lock, ctx)),
            Shown::Renew(planned) => {
                lock_for_writing(options, planned.write().wait, ctx).and_then(|lock| {
                    renew::notices(options, planned.plan());
                    renew::execute(options, *planned, &lock, ctx)
                })
            }
            Shown::MoveSuperAdmin(planned) => lock_for_writing(options, planned.write().wait, ctx)
                .and_then(|lock| move_super_admin::execute(options, planned, &lock, ctx)),
            Shown::Rollback(planned) => lock_for_writing(options, planned.write().wait, ctx)
                .and_then(|lock| rollback::execute(options, &planned, &lock, ctx)),
        };
        match result {
            Ok(code) => code,
            Err(err) => refused(&err),
        }
    }
}

/// Why a plan cannot be made, in one line.
fn unplannable(err: &anyhow::Error) -> String {
    printable(&format!("{err:#}")).into_owned()
}

/// Says why a confirmed change failed, as `main` says it for the commands,
/// and that the plan shown was not carried out when nothing was changed;
/// returns the exit status.
fn refused(err: &anyhow::Error) -> u8 {
    eprintln!("error: {}", printable(&format!("{err:#}")));
    let path_error = err.downcast_ref::<PathError>();
    if let Some(hint) = path_error.and_then(|e| e.hint.as_deref()) {
        eprintln!("hint: {}", printable(hint));
    }
    let exit = path_error.map_or(1, |e| e.exit);
    if exit == 1 {
        eprintln!(
            "The plan shown was not carried out; if the node changed since it was shown, run `kubecred wizard` again to see it as it is now."
        );
    }
    exit
}

impl RealExecutor<'_> {
    /// Plans the migration (the preflight included): the value shown, and
    /// carried out as it was shown.
    fn migrate_plan(&self, offline: bool, update_copies: bool) -> Result<migrate::Planned, String> {
        let planned = self
            .migrate_options(offline, update_copies)
            .and_then(|options| migrate::plan(self.options, options, self.ctx))
            .map_err(|err| unplannable(&err))?;
        if let Some(nothing) = planned.nothing_to_do() {
            return Err(nothing.message());
        }
        Ok(planned)
    }
}

/// The switches of a change the wizard's final confirmation approved: as
/// `--yes`, every other flag at its default.
fn confirmed() -> Result<WriteArgs, String> {
    Ok(WriteArgs {
        yes: true,
        ..cli::defaults().map_err(|err| err.to_string())?
    })
}

/// `renew all --within W --validity V [--update-copies] --yes`, resolved as the command line is.
/// Whatever the environment asks of `renew`, the wizard asks the operator,
/// after the renewal, before it restarts anything.
fn renew_options(
    within: time::Duration,
    validity: time::Duration,
    update_copies: bool,
) -> Result<RenewOptions, String> {
    let mut options = RenewOptions::new(&RenewArgs {
        within: Some(Some(within)),
        validity,
        update_copies,
        write: confirmed()?,
        restart: cli::RestartArg::Auto,
        ..cli::defaults().map_err(|err| err.to_string())?
    });
    if let Restart::Auto { timeout } = options.restart {
        options.restart = Restart::Ask { timeout };
    }
    Ok(options)
}

/// `renew admin.conf --within 0s --update-copies --yes`: admin.conf is not
/// due (unless expired), so only its stale copies are rewritten with its
/// current credential.
fn copies_options() -> Result<RenewOptions, String> {
    Ok(RenewOptions::new(&RenewArgs {
        names: vec!["admin.conf".into()],
        within: Some(Some(time::Duration::ZERO)),
        update_copies: true,
        write: confirmed()?,
        restart: cli::RestartArg::Never,
        ..cli::defaults().map_err(|err| err.to_string())?
    }))
}

/// `rollback ID --yes`, resolved as the command line is.
fn restore_options(id: &str) -> Result<RestoreOptions, String> {
    Ok(RestoreOptions::new(&RollbackArgs {
        id: Some(id.to_owned()),
        write: confirmed()?,
        ..cli::defaults().map_err(|err| err.to_string())?
    }))
}
