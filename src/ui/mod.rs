//! What people and programs see: the command line (`cli`), every output
//! format (`render`, the only formatter), the interactive `wizard`, and what
//! packages ship of the command line: `completions` and the `man` pages.

pub mod cli;
pub mod completions;
pub mod man;
pub mod render;
pub mod wizard;
