//! The kubecred binary: parse, read the process state, run, map the exit status.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use kubecred::app::{self, PathError};
use kubecred::edge::context::Context;
use kubecred::ui::cli::Cli;
use kubecred::ui::render::text::printable;

fn main() -> ExitCode {
    // `check` follows the monitoring-plugin convention: a usage error is UNKNOWN (3).
    let is_check = Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .is_ok_and(|matches| matches.subcommand_name() == Some("check"));
    let usage_exit = if is_check { 3 } else { 2 };
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { usage_exit } else { 0 });
        }
    };
    let ctx = match Context::os() {
        Ok(ctx) => ctx,
        Err(message) => {
            eprintln!("error: {}", printable(&message));
            return ExitCode::from(usage_exit);
        }
    };
    match app::run(cli, &matches, &ctx) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // One line, whatever a file name or a subject in it holds.
            eprintln!("error: {}", printable(&format!("{err:#}")));
            if let Some(path_error) = err.downcast_ref::<PathError>() {
                if let Some(hint) = &path_error.hint {
                    eprintln!("hint: {}", printable(hint));
                }
                return ExitCode::from(path_error.exit);
            }
            ExitCode::from(if is_check { 3 } else { 1 })
        }
    }
}
