//! Command glue: arguments in, core calls, renderers out. No rules and no
//! formatting live here, only the order of things and the exit status.

mod backups;
mod check;
mod config;
mod demo;
mod host;
mod inspect;
mod migrate;
mod move_super_admin;
mod options;
mod recover;
mod renew;
mod rollback;
mod wizard;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;

use crate::domain::model::{Inventory, Scope};
use crate::edge::context::Context;
use crate::ui::cli::{Cli, Command, ConfigArgs};
pub use check::record_failure;
use options::{
    DemoOptions, GlobalOptions, InspectOptions, RecoverOptions, RenewOptions, RollbackOptions,
};

/// Runs a parsed command line (`matches` tells which values its flags gave)
/// with the configuration applied; returns the process exit status.
pub fn run(mut cli: Cli, matches: &clap::ArgMatches, ctx: &Context) -> Result<u8> {
    match &cli.command {
        Command::Completions(_) | Command::Man(_) => return print_generated(&cli.command),
        // Reads the one file named, whatever the configuration in force (a
        // package script runs it before there is one).
        Command::Config(ConfigArgs {
            from_env_file: Some(source),
        }) => return config::from_env_file(source),
        _ => {}
    }
    let (loaded, settings) = match config::apply(&mut cli, matches, ctx) {
        Ok(applied) => applied,
        Err(err) => {
            // A configuration refused: the check cannot judge the node, and the
            // metrics say so (at `--textfile PATH`, or the default for a bare one).
            if let Command::Check(args) = &cli.command
                && let Some(textfile) = options::textfile(args, ctx)
            {
                record_failure(ctx, &textfile);
            }
            return Err(err.into());
        }
    };
    let global = GlobalOptions::new(&cli.global, ctx);
    match &cli.command {
        Command::Config(args) => config::run(args, global.format, &loaded, &settings),
        Command::Inspect(args) => inspect::run(&global, &InspectOptions::new(args), ctx),
        Command::Check(args) => check::run(&global, args, ctx),
        Command::Renew(args) => renew::run(&global, &RenewOptions::new(args), ctx),
        Command::Migrate(args) => migrate::run(&global, args, ctx),
        Command::Rollback(args) => rollback::run(&global, &RollbackOptions::new(args), ctx),
        Command::Recover(args) => recover::run(&global, &RecoverOptions::new(args), ctx),
        Command::Wizard(args) => wizard::run(&global, args, ctx),
        Command::Demo(args) => demo::run(&global, &DemoOptions::new(args, ctx)?, ctx),
        Command::Completions(_) | Command::Man(_) => print_generated(&cli.command),
    }
}

/// `completions` and `man`: generated from the command line's declaration alone.
fn print_generated(command: &Command) -> Result<u8> {
    match command {
        Command::Completions(args) => {
            std::io::stdout().write_all(crate::ui::completions::script(args.shell).as_bytes())?;
            Ok(0)
        }
        Command::Man(args) => man(args),
        _ => Ok(0),
    }
}

// `migrate` still takes the command line's `Global` (its options are being
// resolved on their own): these four give it what the others get from
// `GlobalOptions` and `host`, resolved the same way.

/// A lock error as a message and the path it concerns.
fn lock_error(err: &crate::edge::apply::lock::LockError) -> (String, PathBuf) {
    use crate::edge::apply::lock::LockError;
    match err {
        LockError::Busy { path, holder } => (
            match holder {
                Some(holder) => format!("another kubecred run holds the lock ({holder})"),
                None => "another kubecred run holds the lock".into(),
            },
            path.clone(),
        ),
        LockError::Open { path, source } => {
            (format!("cannot open the lock: {source}"), path.clone())
        }
        LockError::Untrusted(untrusted) => (
            format!(
                "refusing the {} folder: it {}",
                if untrusted.path == crate::edge::apply::lock::tree_lock_dir() {
                    "lock"
                } else {
                    "state"
                },
                untrusted.reason
            ),
            untrusted.path.clone(),
        ),
    }
}

/// A lock that could not be taken, as a writing command reports it.
fn lock_refused(err: &crate::edge::apply::lock::LockError) -> PathError {
    let (message, path) = lock_error(err);
    PathError {
        message,
        path,
        hint: Some("nothing was changed".into()),
        exit: 1,
    }
}

/// `kubecred man`: one page, or the names of all.
fn man(args: &crate::ui::cli::ManArgs) -> Result<u8> {
    if args.list {
        let mut names = crate::ui::man::names().join("\n");
        names.push('\n');
        std::io::stdout().write_all(names.as_bytes())?;
        return Ok(0);
    }
    let Some(page) = crate::ui::man::page(&args.page) else {
        anyhow::bail!("no man page {}; kubecred man --list names them", args.page);
    };
    std::io::stdout().write_all(&page)?;
    Ok(0)
}

/// Scans the node; no kubeadm credential at all is an error with `exit`.
fn scan_host(scope: &Scope, exit: u8) -> Result<Inventory> {
    scan_host_or(
        scope,
        exit,
        "pass --kubernetes-dir (and --cert-dir) where kubeadm wrote them",
    )
}

/// As `scan_host`, with the hint to give.
fn scan_host_or(scope: &Scope, exit: u8, hint: &str) -> Result<Inventory> {
    let inventory = Inventory::scan(scope);
    if !inventory.has_layout() {
        return Err(PathError {
            message: "no kubeadm credentials found".into(),
            path: scope.kubernetes_dir.clone(),
            hint: Some(hint.into()),
            exit,
        }
        .into());
    }
    Ok(inventory)
}

/// Asks before changing the host: `--yes`, or a person at a terminal who says yes.
fn confirm(yes: bool, ctx: &Context, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !ctx.interactive {
        return Err(PathError {
            message: "refusing to change the host without --yes: there is no terminal to ask on"
                .into(),
            path: PathBuf::new(),
            hint: Some("review the plan (--dry-run), then run again with --yes".into()),
            exit: 2,
        }
        .into());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        return Ok(());
    }
    Err(PathError {
        message: "cancelled; nothing was changed".into(),
        path: PathBuf::new(),
        hint: None,
        exit: 1,
    }
    .into())
}

/// Writes data to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Streams data to a buffered stdout as it is written; a closed pipe (`| head`) is not an error.
fn print_with(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// An error about a path, for `main` to print as `error: ... (path)`.
#[derive(Debug, thiserror::Error)]
pub struct PathError {
    /// What is wrong.
    pub message: String,
    /// Where (empty when no file is concerned).
    pub path: PathBuf,
    /// What to do, if anything helps.
    pub hint: Option<String>,
    /// The exit status.
    pub exit: u8,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.as_os_str().is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({})", self.message, self.path.display())
        }
    }
}
