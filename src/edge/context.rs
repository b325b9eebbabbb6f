//! Process state, read once at start: the clock, terminals, colour
//! preferences, the working folder, the owner credentials must have and
//! (debug builds) a fault a test asked for. The only reader of the
//! environment (but for the settings' variables, which `edge::config` reads
//! with the configuration file) and of the wall clock; the rest of kubecred
//! gets them from here.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::domain::span;
use crate::edge::apply::hook::{Fault, Pause, RunHook};
use crate::edge::live::Probing;
use crate::edge::restart::FILE_CHECK_FREQUENCY;

/// Fixes the clock for tests and golden outputs (RFC 3339). Not for production use.
pub const TEST_NOW_VAR: &str = "KUBECRED_TEST_NOW";

/// Names the uid that owns credential files and folders in a test tree, in
/// place of root. Not for production use: on a node, unset, the owner is root.
pub const TEST_OWNER_VAR: &str = "KUBECRED_TEST_OWNER";

/// Stops a run for good before the N-th step of a kind (`rename:3`), so a
/// test can kill it there. Not for production use.
pub const TEST_PAUSE_VAR: &str = "KUBECRED_TEST_PAUSE_AT";

/// Names a fake `/proc` for `--live` (debug builds only).
pub const TEST_PROC_ROOT_VAR: &str = "KUBECRED_TEST_PROC_ROOT";

/// Redirects `--live` probes (debug builds only): `FROM=TO[,FROM=TO...]`,
/// socket addresses; while it is set, no probe may leave loopback.
pub const TEST_PROBE_MAP_VAR: &str = "KUBECRED_TEST_PROBE_MAP";

/// Shortens how long `renew --restart=auto` keeps a manifest out when it cannot
/// see the component stop (debug builds only): milliseconds, in place of the
/// kubelet's 20 s `fileCheckFrequency`.
pub const TEST_FILE_CHECK_VAR: &str = "KUBECRED_TEST_FILE_CHECK_MS";

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
    /// The uid every credential file and folder must belong to: root (0),
    /// unless a test names another with `KUBECRED_TEST_OWNER`.
    pub expected_owner: u32,
    /// A fault for the writes to run into: always `None` in release builds;
    /// debug builds read `KUBECRED_TEST_FAIL_UNDER` (and
    /// `KUBECRED_TEST_FAIL_AFTER_RENAMES`) so tests can make a restore fail.
    pub fault: Option<Fault>,
    /// The test seam before each filesystem step (unset: every step proceeds).
    pub pause: Pause,
    /// The working folder relative paths are resolved against (`None`: it
    /// could not be read, so only absolute paths can be used).
    pub working_dir: Option<PathBuf>,
    /// Where `--live` probes go and which `/proc` it reads: the node's, unless
    /// a debug build's test names a fake `/proc` (`KUBECRED_TEST_PROC_ROOT`)
    /// or redirects the probes to loopback ports (`KUBECRED_TEST_PROBE_MAP`).
    pub probing: Probing,
    /// How long a restart keeps a manifest out when the component's process
    /// cannot be seen to stop: the kubelet's `fileCheckFrequency`, unless a
    /// debug build's test shortens it (`KUBECRED_TEST_FILE_CHECK_MS`).
    pub file_check: std::time::Duration,
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
        let expected_owner = match std::env::var_os(TEST_OWNER_VAR) {
            None => 0,
            Some(text) => text
                .to_str()
                .and_then(|text| text.parse::<u32>().ok())
                .ok_or_else(|| format!("{TEST_OWNER_VAR}: not a uid (a number)"))?,
        };
        #[cfg(debug_assertions)]
        let fault = fault_from_env()?;
        #[cfg(not(debug_assertions))]
        let fault = None;
        #[cfg(debug_assertions)]
        let pause = match std::env::var(TEST_PAUSE_VAR) {
            Ok(text) => Pause::parse(&text).map_err(|err| format!("{TEST_PAUSE_VAR}: {err}"))?,
            Err(_) => Pause::default(),
        };
        #[cfg(not(debug_assertions))]
        let pause = Pause::default();
        #[cfg(debug_assertions)]
        let probing = probing_from_env()?;
        #[cfg(not(debug_assertions))]
        let probing = Probing::default();
        #[cfg(debug_assertions)]
        let file_check = match std::env::var(TEST_FILE_CHECK_VAR) {
            Ok(text) => text
                .parse::<u64>()
                .map(std::time::Duration::from_millis)
                .map_err(|_| format!("{TEST_FILE_CHECK_VAR}: `{text}` is not milliseconds"))?,
            Err(_) => FILE_CHECK_FREQUENCY,
        };
        #[cfg(not(debug_assertions))]
        let file_check = FILE_CHECK_FREQUENCY;
        Ok(Self {
            now,
            expected_owner,
            fault,
            pause,
            probing,
            file_check,
            stdout_is_terminal: std::io::stdout().is_terminal(),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty()),
            working_dir: std::env::current_dir().ok(),
        })
    }

    /// `path` made absolute against the working folder, with `.` components
    /// dropped; symlinks and `..` are kept as written.
    pub fn absolute(&self, path: &Path) -> std::io::Result<PathBuf> {
        if path.is_absolute() || path.as_os_str().is_empty() {
            return std::path::absolute(path);
        }
        match &self.working_dir {
            Some(dir) => std::path::absolute(dir.join(path)),
            None => Err(std::io::Error::other("the working folder cannot be read")),
        }
    }

    /// The hook for one command's writes: fresh, with the test's pause and
    /// fault if any (debug builds only).
    pub fn hook(&self) -> RunHook {
        RunHook::with_pause(self.fault.clone(), self.pause.clone())
    }
}

/// The `--live` probing a test asked for through the environment (debug builds only).
#[cfg(debug_assertions)]
fn probing_from_env() -> Result<Probing, String> {
    let mut probing = Probing::default();
    if let Some(root) = std::env::var_os(TEST_PROC_ROOT_VAR).filter(|root| !root.is_empty()) {
        probing.proc_root = root.into();
    }
    match std::env::var(TEST_PROBE_MAP_VAR) {
        Ok(map) => probing
            .redirected(&map)
            .map_err(|err| format!("{TEST_PROBE_MAP_VAR}: {err}")),
        Err(_) => Ok(probing),
    }
}

/// The fault a test asked for through the environment (debug builds only).
#[cfg(debug_assertions)]
fn fault_from_env() -> Result<Option<Fault>, String> {
    use crate::edge::apply::hook::{FAIL_AFTER_RENAMES_VAR, FAIL_UNDER_VAR};
    let Some(dir) = std::env::var_os(FAIL_UNDER_VAR).filter(|dir| !dir.is_empty()) else {
        return Ok(None);
    };
    let after_renames = match std::env::var(FAIL_AFTER_RENAMES_VAR) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{FAIL_AFTER_RENAMES_VAR}: `{text}` is not a count"))?,
        Err(_) => 0,
    };
    Ok(Some(Fault {
        dir: dir.into(),
        after_renames,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(working_dir: Option<&str>) -> Context {
        Context {
            now: OffsetDateTime::UNIX_EPOCH,
            stdout_is_terminal: false,
            interactive: false,
            no_color: false,
            expected_owner: 0,
            fault: None,
            pause: Pause::default(),
            working_dir: working_dir.map(PathBuf::from),
            probing: Probing::default(),
            file_check: FILE_CHECK_FREQUENCY,
        }
    }

    #[test]
    fn relative_paths_are_resolved_against_the_working_folder_read_at_start() {
        let ctx = at(Some("/srv/work"));
        assert_eq!(
            ctx.absolute(Path::new("./node/pki")).unwrap(),
            Path::new("/srv/work/node/pki")
        );
        assert_eq!(
            ctx.absolute(Path::new("/etc/./kubernetes")).unwrap(),
            Path::new("/etc/kubernetes")
        );
        assert_eq!(
            ctx.absolute(Path::new("../up")).unwrap(),
            Path::new("/srv/work/../up"),
            "`..` is kept: resolving it is the filesystem's business"
        );
        assert!(ctx.absolute(Path::new("")).is_err());
        let lost = at(None);
        assert!(lost.absolute(Path::new("node")).is_err());
        assert_eq!(
            lost.absolute(Path::new("/node")).unwrap(),
            Path::new("/node")
        );
    }
}
