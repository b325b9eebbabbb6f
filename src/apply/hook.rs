//! A seam before every filesystem step that changes a host, so tests can make
//! the N-th write, fsync or rename fail and prove the host is left whole.

use std::io;
use std::path::Path;

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
