//! The kubecred binary: parse, read the process state, run, map the exit status.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use kubecred::app::{self, PathError};
use kubecred::edge::context::Context;
use kubecred::ui::cli::{Cli, Output};
use kubecred::ui::render::nagios;
use kubecred::ui::render::text::printable;

fn main() -> ExitCode {
    // `check` follows the monitoring-plugin convention: a usage error is UNKNOWN (3).
    let is_check = Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .is_ok_and(|matches| matches.subcommand_name() == Some("check"));
    let usage_exit = if is_check { 3 } else { 2 };
    let args: Vec<OsString> = std::env::args_os().collect();
    // A plugin always prints one status line, even when its arguments are wrong.
    let plugin = is_check && asks_for_nagios(&args);
    let parsed = Cli::command()
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            if !err.use_stderr() {
                return ExitCode::from(0);
            }
            if plugin {
                let first = err.to_string();
                let first = first.lines().next().unwrap_or_default();
                let line = first.strip_prefix("error: ").unwrap_or(first);
                say_unknown(&format!("bad arguments: {line}"), None);
            }
            // A check refused for its arguments (a typo in the timer's settings)
            // still tells the metrics it failed, at once.
            if is_check
                && let Some(textfile) = textfile_arg(&args)
                && let Ok(ctx) = Context::os()
            {
                app::record_failure(&ctx, Path::new(&textfile));
            }
            return ExitCode::from(usage_exit);
        }
    };
    let plugin = matches!(cli.command, kubecred::ui::cli::Command::Check(_))
        && cli.global.output == Output::Nagios;
    let ctx = match Context::os() {
        Ok(ctx) => ctx,
        Err(message) => {
            eprintln!("error: {}", printable(&message));
            if plugin {
                say_unknown(&message, None);
            }
            return ExitCode::from(usage_exit);
        }
    };
    match app::run(cli, &matches, &ctx) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // One line, whatever a file name or a subject in it holds.
            let message = format!("{err:#}");
            eprintln!("error: {}", printable(&message));
            let path_error = err.downcast_ref::<PathError>();
            let hint = path_error.and_then(|path_error| path_error.hint.as_deref());
            if let Some(hint) = hint {
                eprintln!("hint: {}", printable(hint));
            }
            if plugin {
                say_unknown(&message, hint);
            }
            match path_error {
                Some(path_error) => ExitCode::from(path_error.exit),
                None => ExitCode::from(if is_check { 3 } else { 1 }),
            }
        }
    }
}

/// Whether the command line asks for `-o nagios` (`-o nagios`, `-onagios`,
/// `--output nagios`, `--output=nagios`), read without clap, so that even a
/// command line clap refuses gets its plugin status line.
fn asks_for_nagios(args: &[OsString]) -> bool {
    let mut nagios = false;
    let mut words = args.iter().skip(1).map(|arg| arg.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let value = match word.as_ref() {
            "-o" | "--output" => words.next().map(std::borrow::Cow::into_owned),
            other => other
                .strip_prefix("--output=")
                .or_else(|| other.strip_prefix("-o"))
                .filter(|_| !other.starts_with("--") || other.starts_with("--output="))
                .map(str::to_owned),
        };
        if let Some(value) = value {
            nagios = value == "nagios";
        }
    }
    nagios
}

/// The value of `--textfile PATH` (or `--textfile=PATH`) on a command line
/// clap refused, read without clap; the last one counts, as with clap.
fn textfile_arg(args: &[OsString]) -> Option<OsString> {
    let mut found = None;
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == "--textfile" {
            found = words.next().cloned();
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--textfile=")) {
            found = Some(OsString::from(value));
        }
    }
    found.filter(|value| !value.is_empty() && !value.to_string_lossy().starts_with('-'))
}

/// Prints the plugin's UNKNOWN status line on stdout.
fn say_unknown(message: &str, hint: Option<&str>) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(nagios::unknown(message, hint).as_bytes())
        .and_then(|()| out.flush());
}
