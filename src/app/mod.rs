//! Command glue: arguments in, core calls, renderers out. No rules and no
//! formatting live here, only the order of things and the exit status.

mod backups;
mod check;
mod demo;
mod inspect;
mod migrate;
mod recover;
mod renew;
mod rollback;
mod wizard;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory as _;

use crate::edge::apply::backup::Bounds;
use crate::edge::apply::lock::{RunLock, Wait};
use crate::edge::context::Context;
use crate::edge::inventory::{Inventory, Scope};
use crate::ui::cli::{Cli, ColorWhen, Command, DEFAULT_COPIES, Global};
use crate::ui::render::{Paint, text};

/// Runs a parsed command line; returns the process exit status.
pub fn run(cli: &Cli, ctx: &Context) -> Result<u8> {
    match &cli.command {
        Command::Inspect(args) => inspect::run(&cli.global, args, ctx),
        Command::Check(args) => check::run(&cli.global, args, ctx),
        Command::Renew(args) => renew::run(&cli.global, args, ctx),
        Command::Migrate(args) => migrate::run(&cli.global, args, ctx),
        Command::Rollback(args) => rollback::run(&cli.global, args, ctx),
        Command::Recover(args) => recover::run(&cli.global, args, ctx),
        Command::Wizard(args) => wizard::run(&cli.global, args, ctx),
        Command::Demo(args) => demo::run(&cli.global, args, ctx),
        Command::Completions(args) => {
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "kubecred", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(0)
        }
    }
}

/// Where to scan, from the global options; files must belong to the context's owner.
fn scope(global: &Global, ctx: &Context) -> Scope {
    let copies = if global.no_copies {
        Vec::new()
    } else {
        copy_globs(global)
    };
    Scope {
        cert_dir: global
            .cert_dir
            .clone()
            .unwrap_or_else(|| global.kubernetes_dir.join("pki")),
        kubernetes_dir: global.kubernetes_dir.clone(),
        copies,
        expected_owner: ctx.expected_owner,
    }
}

/// Where to scan for a writing command: the copies are not its business.
fn scope_without_copies(global: &Global, ctx: &Context) -> Scope {
    Scope {
        copies: Vec::new(),
        ..scope(global, ctx)
    }
}

/// Before a writing command: the run locks, the repair of a crashed run, then
/// the removal of what crashed runs left. A dry run takes none: it only reads.
fn begin_writing(
    global: &Global,
    dry_run: bool,
    wait: Option<time::Duration>,
    ctx: &Context,
) -> Result<Option<RunLock>> {
    if dry_run {
        return Ok(None);
    }
    let lock = take_lock(global, wait)?;
    recover(global, ctx)?;
    sweep(global);
    Ok(Some(lock))
}

/// Removes what crashed runs left in the state dir (under the lock).
fn sweep(global: &Global) {
    for removed in crate::edge::apply::backup::sweep(&global.state_dir) {
        if global.verbose {
            eprintln!(
                "kubecred: removed what an interrupted run left: {}",
                text::path(&removed)
            );
        }
    }
}

/// The run locks of the kubernetes dir and the state dir, exclusive.
fn take_lock(global: &Global, wait: Option<time::Duration>) -> Result<RunLock> {
    let wait = match wait {
        None => Wait::Never,
        Some(limit) => Wait::For(std::time::Duration::try_from(limit).unwrap_or_default()),
    };
    RunLock::acquire(&global.state_dir, &global.kubernetes_dir, wait)
        .map_err(|err| lock_refused(&err).into())
}

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

/// The globs where admin copies are looked for: `--copies`, or the defaults.
fn copy_globs(global: &Global) -> Vec<String> {
    if global.copies.is_empty() {
        DEFAULT_COPIES
            .iter()
            .map(|glob| (*glob).to_owned())
            .collect()
    } else {
        global.copies.clone()
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

/// Where a backup of this node may write: the kubernetes and certificate
/// dirs, and the admin copies.
fn bounds(global: &Global) -> Bounds {
    let copies = copy_globs(global);
    let cert_dir = global
        .cert_dir
        .clone()
        .unwrap_or_else(|| global.kubernetes_dir.join("pki"));
    Bounds {
        folders: vec![global.kubernetes_dir.clone(), cert_dir],
        copies,
        files: vec![
            crate::domain::migrate::manifest_path(&global.state_dir),
            crate::domain::migrate::mark_path(&global.state_dir),
        ],
    }
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

/// With `-v`: what the scan found, on stderr.
fn describe_scan(global: &Global, inventory: &Inventory) {
    if !global.verbose {
        return;
    }
    let present = inventory
        .credentials
        .iter()
        .filter(|c| c.material().is_some())
        .count();
    eprintln!(
        "kubecred: {present} of {} credentials read under {} (certificates in {}); {} admin copies found elsewhere",
        inventory.credentials.len(),
        text::path(&inventory.kubernetes_dir),
        text::path(&inventory.cert_dir),
        inventory.copies.len()
    );
    for (path, reason) in &inventory.skipped_copies {
        eprintln!(
            "kubecred: not read as a copy: {}: {}",
            text::path(path),
            text::printable(reason)
        );
    }
}

/// With `-v`: every file a finished transaction wrote or removed, on stderr.
fn describe_backup(global: &Global, backup: &crate::edge::apply::backup::Backup) {
    if !global.verbose {
        return;
    }
    for entry in &backup.manifest.files {
        eprintln!(
            "kubecred: {} {}",
            if entry.existed { "replaced" } else { "created" },
            text::path(&entry.path)
        );
    }
}

/// Restores what a crashed run left half-done, before anything else.
fn recover(global: &Global, ctx: &Context) -> Result<Option<String>> {
    match crate::edge::apply::transaction::recover(&global.state_dir, &bounds(global), &ctx.hook())
    {
        Ok(Some(id)) => {
            eprintln!("an interrupted run was found: restored its backup {id} first");
            Ok(Some(id))
        }
        Ok(None) => Ok(None),
        Err(message) => Err(PathError {
            message,
            path: global.state_dir.clone(),
            hint: Some(
                "restore the backup by hand (kubecred rollback --list), then remove the journal"
                    .into(),
            ),
            exit: 4,
        }
        .into()),
    }
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

/// Whether to paint tables.
fn paint(global: &Global, ctx: &Context) -> Paint {
    match global.color {
        ColorWhen::Always => Paint::Color,
        ColorWhen::Auto if ctx.stdout_is_terminal && !ctx.no_color => Paint::Color,
        ColorWhen::Auto | ColorWhen::Never => Paint::Plain,
    }
}

/// Writes data to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
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
