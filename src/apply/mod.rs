//! The only writer: atomic file replacement and the run lock. Everything
//! that changes a host goes through here.

pub mod atomic;
pub mod tree;
