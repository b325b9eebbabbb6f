//! Every output format. Renderers take a finished `Report` and write; they
//! compute nothing the report does not already hold, and read no clock.

pub mod config;
pub mod json;
pub mod live;
pub mod migrate;
pub mod nagios;
pub mod plan;
pub mod prometheus;
pub mod table;
pub mod text;

/// Whether to paint the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    /// ANSI colours.
    Color,
    /// Plain text.
    Plain,
}
