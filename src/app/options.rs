//! The command line resolved once into the plain values the commands take:
//! no clap types, every default applied, paths absolute. The CLI and the
//! wizard build each of them through the same constructor.

use std::path::{Path, PathBuf};

use crate::app::PathError;
use crate::domain::findings::Thresholds;
use crate::domain::issue::KeyAlgorithm;
use crate::domain::model::Scope;
use crate::domain::renew::{KeyChoice, Request};
use crate::domain::report::Status;
use crate::edge::apply::backup::Bounds;
use crate::edge::apply::lock::Wait;
use crate::edge::context::Context;
use crate::ui::cli::{
    CheckArgs, ColorWhen, DEFAULT_COPIES, DemoArgs, DemoKeys, Global, InspectArgs, KeyAlgorithmArg,
    Output, RecoverArgs, RenewArgs, RestartArg, RollbackArgs, WriteArgs,
};
use crate::ui::render::Paint;

/// The options every command takes.
#[derive(Clone, Debug)]
pub(crate) struct GlobalOptions {
    /// Where the kubeconfigs live.
    pub(crate) kubernetes_dir: PathBuf,
    /// kubeadm's certificatesDir.
    pub(crate) cert_dir: PathBuf,
    /// Where backups, the journal and the lock live.
    pub(crate) state_dir: PathBuf,
    /// What stdout carries.
    pub(crate) format: Format,
    /// Whether tables are coloured.
    pub(crate) paint: Paint,
    /// Say less on stderr.
    pub(crate) quiet: bool,
    /// Say more on stderr.
    pub(crate) verbose: bool,
    /// Where admin copies live (`--copies`, or the defaults): looked for
    /// unless `scan_copies` is off, and always where a backup may restore.
    pub(crate) copy_globs: Vec<String>,
    /// Whether the scan looks for stale admin copies (off with `--no-copies`).
    pub(crate) scan_copies: bool,
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON.
    Json,
    /// A monitoring-plugin status line.
    Nagios,
    /// Prometheus text exposition.
    Prometheus,
}

impl GlobalOptions {
    /// Resolves the global flags; a path that cannot be made absolute (an
    /// empty one, an unreadable working folder) is kept as given, for the
    /// command to fail on, naming it.
    pub(crate) fn new(global: &Global, ctx: &Context) -> Self {
        let absolute = |path: &Path| ctx.absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let kubernetes_dir = absolute(&global.kubernetes_dir);
        let cert_dir = global
            .cert_dir
            .as_deref()
            .map_or_else(|| kubernetes_dir.join("pki"), absolute);
        let copy_globs = if global.copies.is_empty() {
            DEFAULT_COPIES
                .iter()
                .map(|glob| (*glob).to_owned())
                .collect()
        } else {
            global
                .copies
                .iter()
                .map(|glob| absolute_glob(glob, ctx))
                .collect()
        };
        Self {
            cert_dir,
            kubernetes_dir,
            state_dir: absolute(&global.state_dir),
            format: match global.output {
                Output::Table => Format::Table,
                Output::Json => Format::Json,
                Output::Nagios => Format::Nagios,
                Output::Prometheus => Format::Prometheus,
            },
            paint: match global.color {
                ColorWhen::Always => Paint::Color,
                ColorWhen::Auto if ctx.stdout_is_terminal && !ctx.no_color => Paint::Color,
                ColorWhen::Auto | ColorWhen::Never => Paint::Plain,
            },
            quiet: global.quiet,
            verbose: global.verbose,
            copy_globs,
            scan_copies: !global.no_copies,
        }
    }

    /// Where to scan; files must belong to the context's owner.
    pub(crate) fn scope(&self, ctx: &Context) -> Scope {
        Scope {
            kubernetes_dir: self.kubernetes_dir.clone(),
            cert_dir: self.cert_dir.clone(),
            copies: if self.scan_copies {
                self.copy_globs.clone()
            } else {
                Vec::new()
            },
            expected_owner: ctx.expected_owner,
        }
    }

    /// Where to scan for a writing command: the copies are not its business.
    pub(crate) fn writing_scope(&self, ctx: &Context) -> Scope {
        Scope {
            copies: Vec::new(),
            ..self.scope(ctx)
        }
    }

    /// Where a backup of this node may write: the kubernetes and certificate
    /// dirs, the admin copies and kubecred's own two state files.
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            folders: vec![self.kubernetes_dir.clone(), self.cert_dir.clone()],
            copies: self.copy_globs.clone(),
            files: vec![
                crate::domain::migrate::manifest_path(&self.state_dir),
                crate::domain::migrate::mark_path(&self.state_dir),
            ],
        }
    }
}

/// How a writing command writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WriteOptions {
    /// Print the plan and change nothing.
    pub(crate) dry_run: bool,
    /// Confirmed already: do not ask.
    pub(crate) yes: bool,
    /// How long to wait for another run's lock.
    pub(crate) wait: Wait,
}

impl WriteOptions {
    /// Resolves `--dry-run`, `--yes` and `--wait`.
    pub(crate) fn new(args: &WriteArgs) -> Self {
        Self {
            dry_run: args.dry_run,
            yes: args.yes,
            wait: wait(args.wait),
        }
    }
}

/// `--wait [DUR]` as the lock takes it.
fn wait(limit: Option<time::Duration>) -> Wait {
    match limit {
        None => Wait::Never,
        Some(limit) => Wait::For(std::time::Duration::try_from(limit).unwrap_or_default()),
    }
}

/// What `renew` renews, and how it writes.
#[derive(Clone, Debug)]
pub(crate) struct RenewOptions {
    /// The renewal asked for.
    pub(crate) request: Request,
    /// How to write.
    pub(crate) write: WriteOptions,
    /// Whether the components that must load what was renewed are restarted.
    pub(crate) restart: Restart,
    /// Whether etcd may be restarted although its quorum gate refuses.
    pub(crate) force_etcd_restart: bool,
}

/// What `renew` does about the components that must load what it renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Names them.
    Never,
    /// Restarts them one at a time, each within `timeout`.
    Auto {
        /// How long one restart may take.
        timeout: std::time::Duration,
    },
    /// Asks on the terminal, after the renewal, whether to restart them (the wizard).
    Ask {
        /// How long one restart may take.
        timeout: std::time::Duration,
    },
}

impl RenewOptions {
    /// Resolves `renew`'s flags.
    pub(crate) fn new(args: &RenewArgs) -> Self {
        let key = if args.reuse_key {
            KeyChoice::Reuse
        } else {
            match args.key_algorithm {
                KeyAlgorithmArg::Auto => KeyChoice::Auto,
                KeyAlgorithmArg::Rsa2048 => KeyChoice::New(KeyAlgorithm::Rsa2048),
                KeyAlgorithmArg::Rsa3072 => KeyChoice::New(KeyAlgorithm::Rsa3072),
                KeyAlgorithmArg::Rsa4096 => KeyChoice::New(KeyAlgorithm::Rsa4096),
                KeyAlgorithmArg::EcdsaP256 => KeyChoice::New(KeyAlgorithm::EcdsaP256),
                KeyAlgorithmArg::EcdsaP384 => KeyChoice::New(KeyAlgorithm::EcdsaP384),
            }
        };
        Self {
            request: Request {
                names: args.names.clone(),
                // A bare `--within` that no configuration resolved: the default.
                within: args
                    .within
                    .map(|within| within.unwrap_or(crate::domain::config::DEFAULT_WITHIN)),
                validity: args.validity,
                key,
                trust_clock: args.trust_clock,
                all_or_nothing: args.all_or_nothing,
                update_copies: args.update_copies,
            },
            write: WriteOptions::new(&args.write),
            restart: match args.restart {
                RestartArg::Never => Restart::Never,
                RestartArg::Auto => Restart::Auto {
                    // The command line takes no negative duration.
                    timeout: args
                        .restart_timeout
                        .try_into()
                        .unwrap_or(std::time::Duration::ZERO),
                },
            },
            force_etcd_restart: args.force_etcd_restart,
        }
    }
}

/// What `rollback` does: list the backups, or restore one.
#[derive(Clone, Debug)]
pub(crate) enum RollbackOptions {
    /// `--list`.
    List,
    /// Restore a backup.
    Restore(RestoreOptions),
}

impl RollbackOptions {
    /// Resolves `rollback`'s flags.
    pub(crate) fn new(args: &RollbackArgs) -> Self {
        if args.list {
            Self::List
        } else {
            Self::Restore(RestoreOptions::new(args))
        }
    }
}

/// Which backup to restore, where, and how to write.
#[derive(Clone, Debug)]
pub(crate) struct RestoreOptions {
    /// The backup's id.
    pub(crate) id: String,
    /// Restore into the tree the backup was taken of, not the kubernetes dir.
    pub(crate) into_original: bool,
    /// How to write.
    pub(crate) write: WriteOptions,
}

impl RestoreOptions {
    /// Resolves `rollback ID`'s flags (the parser requires the id without `--list`).
    pub(crate) fn new(args: &RollbackArgs) -> Self {
        Self {
            id: args.id.clone().unwrap_or_default(),
            into_original: args.into_original,
            write: WriteOptions::new(&args.write),
        }
    }
}

/// What `recover` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecoverOptions {
    /// How long to wait for another run's lock.
    pub(crate) wait: Wait,
}

impl RecoverOptions {
    /// Resolves `recover`'s flags.
    pub(crate) fn new(args: &RecoverArgs) -> Self {
        Self {
            wait: wait(args.wait),
        }
    }
}

/// What `check` judges against, and where else it reports.
#[derive(Clone, Debug)]
pub(crate) struct CheckOptions {
    /// When a remaining life is a warning or critical.
    pub(crate) thresholds: Thresholds,
    /// The Prometheus textfile to write too.
    pub(crate) textfile: Option<PathBuf>,
    /// Whether, and how, to ask the API server about the binding.
    pub(crate) online: Option<Online>,
    /// Whether to probe the running components (`--live`).
    pub(crate) live: bool,
}

/// How `check --online` asks the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Online {
    /// The API server's URL (`None`: the kubeconfig's).
    pub(crate) server: Option<String>,
    /// How long to keep retrying.
    pub(crate) timeout: std::time::Duration,
}

impl CheckOptions {
    /// Resolves `check`'s flags; a critical threshold longer than its warning
    /// one is UNKNOWN.
    pub(crate) fn new(
        args: &CheckArgs,
        global: &GlobalOptions,
        ctx: &Context,
    ) -> Result<Self, PathError> {
        let longer = if args.crit > args.warn {
            Some(("--crit", args.crit, "--warn", args.warn))
        } else if args.ca_crit > args.ca_warn {
            Some(("--ca-crit", args.ca_crit, "--ca-warn", args.ca_warn))
        } else {
            None
        };
        if let Some((crit_flag, crit, warn_flag, warn)) = longer {
            return Err(PathError {
                message: format!(
                    "{crit_flag} {} must not be longer than {warn_flag} {}",
                    crate::domain::span::exact(crit),
                    crate::domain::span::exact(warn)
                ),
                path: global.kubernetes_dir.clone(),
                hint: None,
                exit: Status::Unknown.code(),
            });
        }
        Ok(Self {
            thresholds: Thresholds {
                warn: args.warn,
                crit: args.crit,
                ca_warn: args.ca_warn,
                ca_crit: args.ca_crit,
            },
            textfile: textfile(args, ctx),
            online: args.online.then(|| Online {
                server: args.server.clone(),
                timeout: std::time::Duration::try_from(args.api_timeout)
                    .unwrap_or(crate::edge::api::DEFAULT_TOTAL_TIMEOUT),
            }),
            live: args.live,
        })
    }
}

/// What `inspect` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InspectOptions {
    /// Files and folders to read instead of the node, as named: they are
    /// only read and shown in the operator's own words, never compared.
    pub(crate) paths: Vec<PathBuf>,
    /// Whether to probe the running components (`--live`).
    pub(crate) live: bool,
}

impl InspectOptions {
    /// Resolves `inspect`'s arguments.
    pub(crate) fn new(args: &InspectArgs) -> Self {
        Self {
            paths: args.paths.clone(),
            live: args.live,
        }
    }
}

/// Where `demo` writes, with which keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DemoOptions {
    /// The folder to create.
    pub(crate) dir: PathBuf,
    /// The algorithm of every key.
    pub(crate) keys: KeyAlgorithm,
}

impl DemoOptions {
    /// Resolves `demo`'s arguments; the folder must be resolvable, since the
    /// generated kubeconfigs name it.
    pub(crate) fn new(args: &DemoArgs, ctx: &Context) -> anyhow::Result<Self> {
        let dir = ctx.absolute(&args.dir).map_err(|err| {
            anyhow::anyhow!(
                "cannot resolve {}: {err}",
                crate::ui::render::text::path(&args.dir)
            )
        })?;
        Ok(Self {
            dir,
            keys: match args.key_algorithm {
                DemoKeys::Rsa2048 => KeyAlgorithm::Rsa2048,
                DemoKeys::EcdsaP256 => KeyAlgorithm::EcdsaP256,
            },
        })
    }
}

/// The textfile `check` is asked to write, absolute: `--textfile PATH`, or a
/// bare `--textfile` that no configuration resolved, the default.
pub(crate) fn textfile(args: &CheckArgs, ctx: &Context) -> Option<PathBuf> {
    args.textfile.as_ref().map(|path| {
        let path = path
            .as_deref()
            .unwrap_or(Path::new(crate::domain::config::DEFAULT_TEXTFILE));
        ctx.absolute(path).unwrap_or_else(|_| path.to_path_buf())
    })
}

/// A `--copies` glob, relative ones anchored at the working folder (its name
/// escaped, so that no `*` or `[` in it becomes a pattern); kept as given
/// when the working folder is unknown or not UTF-8.
fn absolute_glob(glob: &str, ctx: &Context) -> String {
    if glob.starts_with('/') {
        return glob.to_owned();
    }
    match ctx.working_dir.as_deref().and_then(Path::to_str) {
        Some(dir) => format!(
            "{}/{glob}",
            glob::Pattern::escape(dir.trim_end_matches('/'))
        ),
        None => glob.to_owned(),
    }
}
