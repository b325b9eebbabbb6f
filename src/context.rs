//! Process state, read once at start: the clock, terminals and colour
//! preferences. Nothing below `app` reads the environment or the clock.

use std::io::IsTerminal as _;

use time::OffsetDateTime;

use crate::span;

/// Fixes the clock for tests and golden outputs (RFC 3339). Not for production use.
pub const TEST_NOW_VAR: &str = "KUBECRED_TEST_NOW";

/// What kubecred knows of the process it runs in.
#[derive(Clone, Debug)]
pub struct Context {
    /// The time every judgement is made at.
    pub now: OffsetDateTime,
    /// Whether stdout is a terminal.
    pub stdout_is_terminal: bool,
    /// Whether stdin and stderr are a terminal a person can answer on.
    pub interactive: bool,
    /// Whether `NO_COLOR` is set (to anything non-empty).
    pub no_color: bool,
}

impl Context {
    /// Reads the real process state.
    pub fn os() -> Result<Self, String> {
        let now = match std::env::var(TEST_NOW_VAR) {
            Ok(text) => {
                span::parse_rfc3339(&text).map_err(|err| format!("{TEST_NOW_VAR}: {err}"))?
            }
            // Certificates carry whole seconds: so does every judgement and plan.
            Err(_) => OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or_else(|_| OffsetDateTime::now_utc()),
        };
        Ok(Self {
            now,
            stdout_is_terminal: std::io::stdout().is_terminal(),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty()),
        })
    }
}
