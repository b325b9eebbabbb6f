//! Text from files, made safe for a terminal (see [`crate::domain::exact`]).

pub use crate::domain::exact::{path, printable, printable_lines};
