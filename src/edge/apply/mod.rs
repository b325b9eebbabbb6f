//! The only writer: atomic file replacement, backups, transactions with
//! rollback, and the run lock. Everything that changes a host goes through here.

pub mod atomic;
pub mod backup;
pub mod hook;
pub mod kubectl;
pub mod lock;
pub mod state;
pub mod transaction;
pub mod tree;
