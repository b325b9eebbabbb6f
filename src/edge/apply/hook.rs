//! A seam before every filesystem step that changes a host, so tests can make
//! the N-th write, fsync or rename fail and prove the host is left whole.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A step that changes the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Writing bytes to a temporary or backup file.
    Write,
    /// Fsync of a file or folder.
    Fsync,
    /// Rename of a temporary file over its target.
    Rename,
    /// Removal of a file.
    Remove,
}

/// Called before each step; an error aborts the step as the OS would.
pub trait Hook: Sync {
    /// Allows or fails `step` on `path`.
    fn before(&self, step: Step, path: &Path) -> io::Result<()>;
}

/// The production hook: every step proceeds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Proceed;

impl Hook for Proceed {
    fn before(&self, _step: Step, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// Debug builds only: the folder under which a test makes writes fail.
pub const FAIL_UNDER_VAR: &str = "KUBECRED_TEST_FAIL_UNDER";
/// Debug builds only: how many renames under that folder succeed first (default 0).
pub const FAIL_AFTER_RENAMES_VAR: &str = "KUBECRED_TEST_FAIL_AFTER_RENAMES";

/// A fault a test asks for: once `after_renames` files under `dir` have been
/// renamed into place, every later step on a path under `dir` fails, as if
/// its disk had gone read-only mid-run (the restore's writes included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The folder whose writes fail.
    pub dir: PathBuf,
    /// How many renames under `dir` succeed before the failures start.
    pub after_renames: usize,
}

/// The hook a command's writes run with: every step proceeds, or a test's
/// pause and fault (debug builds only).
#[derive(Debug, Default)]
pub struct RunHook {
    fault: Option<Fault>,
    renamed: AtomicUsize,
    pause: Pause,
}

impl RunHook {
    /// Proceeds, or injects `fault`.
    pub fn new(fault: Option<Fault>) -> Self {
        Self::with_pause(fault, Pause::default())
    }

    /// Proceeds, or pauses where `pause` says, or injects `fault`.
    pub fn with_pause(fault: Option<Fault>, pause: Pause) -> Self {
        Self {
            fault,
            renamed: AtomicUsize::new(0),
            pause,
        }
    }
}

impl Hook for RunHook {
    fn before(&self, step: Step, path: &Path) -> io::Result<()> {
        self.pause.before(step, path)?;
        let Some(fault) = &self.fault else {
            return Ok(());
        };
        if !path.starts_with(&fault.dir) {
            return Ok(());
        }
        if self.renamed.load(Ordering::SeqCst) >= fault.after_renames {
            return Err(io::Error::other(format!(
                "injected failure ({FAIL_UNDER_VAR}): {step:?}"
            )));
        }
        if step == Step::Rename {
            self.renamed.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// A test seam in the real binary (`KUBECRED_TEST_PAUSE_AT=rename:3`): the
/// run stops for good before the N-th step of a kind, after saying so on
/// stderr, so that a test can kill it there (SIGKILL) and prove what a crash
/// at that instant leaves. Unset, every step proceeds.
#[derive(Clone, Debug, Default)]
pub struct Pause {
    at: Option<(Step, usize)>,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Pause {
    /// Reads `<write|fsync|rename|remove>:<N>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not <write|fsync|rename|remove>:<N>");
        let (step, n) = text.split_once(':').ok_or_else(bad)?;
        let step = match step {
            "write" => Step::Write,
            "fsync" => Step::Fsync,
            "rename" => Step::Rename,
            "remove" => Step::Remove,
            _ => return Err(bad()),
        };
        let n = n.parse().map_err(|_| bad())?;
        Ok(Self {
            at: Some((step, n)),
            seen: std::sync::Arc::default(),
        })
    }
}

impl Hook for Pause {
    fn before(&self, step: Step, path: &Path) -> io::Result<()> {
        let Some((kind, n)) = self.at else {
            return Ok(());
        };
        if kind != step {
            return Ok(());
        }
        let count = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if count == n {
            eprintln!(
                "kubecred: paused before {step:?} {count} ({})",
                path.display()
            );
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(after_renames: usize) -> RunHook {
        RunHook::new(Some(Fault {
            dir: PathBuf::from("/etc/kubernetes"),
            after_renames,
        }))
    }

    #[test]
    fn a_fault_fails_only_below_its_folder() {
        let hook = fault(0);
        let err = hook
            .before(Step::Rename, Path::new("/etc/kubernetes/pki/ca.crt"))
            .unwrap_err();
        assert!(err.to_string().contains("Rename"), "{err}");
        assert!(
            hook.before(Step::Write, Path::new("/etc/kubernetes"))
                .is_err()
        );
        assert!(
            hook.before(Step::Write, Path::new("/etc/kubernetes-old/ca.crt"))
                .is_ok(),
            "a sibling with the same prefix is not under it"
        );
        assert!(
            hook.before(Step::Write, Path::new("/var/lib/kubecred/journal"))
                .is_ok()
        );
        assert!(
            RunHook::default()
                .before(Step::Remove, Path::new("/etc/kubernetes"))
                .is_ok()
        );
    }

    #[test]
    fn a_fault_starts_after_the_renames_it_allows() {
        let hook = fault(1);
        let file = Path::new("/etc/kubernetes/pki/apiserver.key");
        let temp = Path::new("/etc/kubernetes/pki/.apiserver.key.tmp");
        assert!(hook.before(Step::Write, temp).is_ok());
        assert!(hook.before(Step::Fsync, temp).is_ok());
        assert!(hook.before(Step::Rename, file).is_ok());
        assert!(hook.before(Step::Write, temp).is_err());
        assert!(hook.before(Step::Rename, file).is_err());
    }
}
