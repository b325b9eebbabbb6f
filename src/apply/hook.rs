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
