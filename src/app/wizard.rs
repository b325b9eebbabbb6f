//! `kubecred wizard`: gathers the facts, runs the flow on the terminal, and
//! carries out the confirmed intent with the same code as the commands.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use crate::app::{PathError, begin_writing, migrate, renew, rollback, scope};
use crate::domain::findings::{Code, Thresholds};
use crate::domain::layout::Kind;
use crate::domain::report::Report;
use crate::edge::apply::atomic::Ownership;
use crate::edge::apply::backup::Backup;
use crate::edge::apply::hook::Proceed;
use crate::edge::apply::transaction::{Action, Change, Transaction};
use crate::edge::context::Context;
use crate::edge::inventory::Inventory;
use crate::edge::online::{self, BindingState};
use crate::ui::cli::{Global, KeyAlgorithmArg, RenewArgs, RollbackArgs, WizardArgs, WriteArgs};
use crate::ui::render;
use crate::ui::wizard::flow::{Binding, Facts, Intent};
use crate::ui::wizard::prompt::Terminal;
use crate::ui::wizard::{self, Executor};

/// Set once the final confirmation is given: Ctrl-C no longer cancels.
static EXECUTING: AtomicBool = AtomicBool::new(false);

pub(super) fn run(global: &Global, args: &WizardArgs, ctx: &Context) -> Result<u8> {
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
    let (facts, asking) = gather(global, args.server.clone(), timeout, ctx);
    let mut executor = RealExecutor {
        global,
        args,
        ctx,
        migration: None,
    };
    let binding = move || {
        asking.map(|asking| {
            online::waiting("kubecred: asking the API server", || {
                asking
                    .join()
                    .unwrap_or_else(|_| Binding::Failed("asking the API server failed".into()))
            })
        })
    };
    let outcome = wizard::run_pending(facts, binding, &mut Terminal::default(), &mut executor);
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
    global: &Global,
    server: Option<String>,
    timeout: Duration,
    ctx: &Context,
) -> (Facts, Option<JoinHandle<Binding>>) {
    let inventory = Inventory::scan(&scope(global, ctx));
    let report = Report::new(&inventory, ctx.now, Thresholds::default());
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
        binding: None,
        backups: Backup::list(&global.state_dir)
            .into_iter()
            .map(|b| b.manifest.id)
            .collect(),
    };
    let asking = inventory.material("admin.conf").is_some().then(|| {
        std::thread::spawn(move || {
            let probe = online::probe(&inventory, server.as_deref(), timeout);
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
        })
    });
    (facts, asking)
}

struct RealExecutor<'a> {
    global: &'a Global,
    args: &'a WizardArgs,
    ctx: &'a Context,
    /// The migration last shown, and the intent it was planned for.
    migration: Option<(Intent, migrate::Planned)>,
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

impl Executor for RealExecutor<'_> {
    fn plan(&mut self, intent: &Intent) -> Result<String, String> {
        match intent {
            Intent::Migrate {
                offline,
                update_copies,
            } => self.migrate_plan(intent, *offline, *update_copies),
            Intent::UpdateCopies { offline } => self.migrate_plan(intent, *offline, true),
            Intent::Renew { within, validity } => {
                let inventory = Inventory::scan(&crate::edge::inventory::Scope {
                    copies: Vec::new(),
                    ..scope(self.global, self.ctx)
                });
                let request = crate::domain::renew::Request {
                    names: Vec::new(),
                    within: Some(*within),
                    validity: *validity,
                    key: crate::domain::renew::KeyChoice::Auto,
                    trust_clock: false,
                    all_or_nothing: false,
                };
                let plan = crate::domain::renew::plan(&inventory, &request, self.ctx.now)
                    .map_err(|err| err.to_string())?;
                if plan.items.is_empty() {
                    return Err(format!(
                        "nothing expires within {}",
                        crate::domain::span::left(*within)
                    ));
                }
                Ok(render::plan::renew_table(&plan))
            }
            Intent::MoveSuperAdmin { to } => {
                let from = self.global.kubernetes_dir.join("super-admin.conf");
                if to.exists() {
                    return Err(format!(
                        "{} exists already; name a new file",
                        crate::ui::render::text::path(to)
                    ));
                }
                if !to.parent().is_some_and(Path::is_dir) {
                    return Err(format!(
                        "{} has no folder to go in (is the medium mounted?)",
                        crate::ui::render::text::path(to)
                    ));
                }
                Ok(format!(
                    "STEP   ACTION\n1      back up {0} into {1}\n2      write {2} (0600, owned by root)\n3      re-read {2} and compare it byte for byte\n4      remove {0}\n",
                    crate::ui::render::text::path(&from),
                    crate::ui::render::text::path(&crate::edge::apply::backup::root(
                        &self.global.state_dir
                    )),
                    crate::ui::render::text::path(to)
                ))
            }
            Intent::Rollback { id } => Backup::load(&self.global.state_dir, id)
                .map(|backup| render::plan::restore_table(&backup)),
        }
    }

    fn run(&mut self, intent: &Intent) -> u8 {
        EXECUTING.store(true, Ordering::SeqCst);
        let result = match intent {
            Intent::Migrate { .. } | Intent::UpdateCopies { .. } => self.migrate_run(intent),
            Intent::Renew { within, validity } => renew::run(
                self.global,
                &RenewArgs {
                    names: Vec::new(),
                    within: Some(*within),
                    validity: *validity,
                    key_algorithm: KeyAlgorithmArg::Auto,
                    reuse_key: false,
                    trust_clock: false,
                    all_or_nothing: false,
                    write: WriteArgs {
                        dry_run: false,
                        yes: true,
                        wait: None,
                    },
                },
                self.ctx,
            ),
            Intent::MoveSuperAdmin { to } => move_super_admin(self.global, to, self.ctx),
            Intent::Rollback { id } => rollback::run(
                self.global,
                &RollbackArgs {
                    list: false,
                    into_original: false,
                    id: Some(id.clone()),
                    write: WriteArgs {
                        dry_run: false,
                        yes: true,
                        wait: None,
                    },
                },
                self.ctx,
            ),
        };
        match result {
            Ok(code) => code,
            Err(err) => {
                eprintln!("error: {err:#}");
                err.downcast_ref::<PathError>().map_or(1, |e| e.exit)
            }
        }
    }
}

impl RealExecutor<'_> {
    /// Plans the migration (the preflight included) and keeps the plan for
    /// [`Self::migrate_run`], which carries out exactly what was shown.
    fn migrate_plan(
        &mut self,
        intent: &Intent,
        offline: bool,
        update_copies: bool,
    ) -> Result<String, String> {
        self.migration = None;
        let planned = self
            .migrate_options(offline, update_copies)
            .and_then(|options| migrate::plan(self.global, options, self.ctx))
            .map_err(|err| format!("{err:#}"))?;
        if let Some(nothing) = planned.nothing_to_do() {
            return Err(nothing.message());
        }
        let table = planned.table(self.global);
        self.migration = Some((intent.clone(), planned));
        Ok(table)
    }

    /// Carries out the migration planned for `intent`, under the run lock.
    fn migrate_run(&mut self, intent: &Intent) -> Result<u8> {
        let Some(planned) = self
            .migration
            .take()
            .filter(|(planned_for, _)| planned_for == intent)
            .map(|(_, planned)| planned)
        else {
            return Err(PathError {
                message: "no migration was planned for this choice; nothing was changed".into(),
                path: PathBuf::new(),
                hint: None,
                exit: 1,
            }
            .into());
        };
        let _lock = begin_writing(self.global, false, None, self.ctx)?;
        migrate::execute(self.global, &planned, self.ctx)
    }
}

/// Writes super-admin.conf to `to`, proves the copy by re-reading it, and only
/// then removes it from the kubernetes dir; one transaction.
fn move_super_admin(global: &Global, to: &Path, ctx: &Context) -> Result<u8> {
    let _lock = begin_writing(global, false, None, ctx)?;
    let from = global.kubernetes_dir.join("super-admin.conf");
    let bytes = crate::domain::renew::read_pem(&from).map_err(|message| PathError {
        message,
        path: from.clone(),
        hint: None,
        exit: 1,
    })?;
    crate::domain::kubeconfig::Kubeconfig::parse(&bytes).map_err(|message| PathError {
        message,
        path: from.clone(),
        hint: None,
        exit: 1,
    })?;
    let mut transaction = Transaction::begin(
        &global.state_dir,
        &global.kubernetes_dir,
        "move-super-admin",
        &[to.to_path_buf(), from.clone()],
        ctx.now,
        &Proceed,
    )
    .map_err(|err| renew::apply_error(&err))?;
    let write = Change {
        path: to.to_path_buf(),
        action: Action::Write(
            bytes.clone(),
            Ownership::Exact {
                mode: 0o600,
                uid: 0,
                gid: 0,
            },
        ),
        kubeconfig: false,
    };
    let steps = transaction
        .write(&write)
        .map_err(|err| err.to_string())
        .and_then(|()| {
            let copy = crate::edge::inventory::read_file(to, crate::edge::inventory::Links::Refuse)
                .and_then(|read| read.ok_or_else(|| "it is absent".to_owned()))
                .map(|(copy, _)| copy)
                .map_err(|err| {
                    format!(
                        "cannot re-read {}: {err}",
                        crate::ui::render::text::path(to)
                    )
                })?;
            if copy != bytes {
                return Err(format!(
                    "{} does not read back as written",
                    crate::ui::render::text::path(to)
                ));
            }
            transaction
                .write(&Change {
                    path: from.clone(),
                    action: Action::Remove,
                    kubeconfig: false,
                })
                .map_err(|err| err.to_string())
        });
    if let Err(cause) = steps {
        return Err(renew::apply_error(&transaction.abort(cause)));
    }
    let backup = transaction
        .commit()
        .map_err(|err| renew::apply_error(&err))?;
    eprintln!(
        "super-admin.conf moved to {} (0600) and removed from {}; backup {}",
        crate::ui::render::text::path(to),
        crate::ui::render::text::path(&global.kubernetes_dir),
        backup.manifest.id
    );
    Ok(0)
}
