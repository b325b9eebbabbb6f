//! What people and programs see: the command line (`cli`), every output
//! format (`render`, the only formatter) and the interactive `wizard`.

pub mod cli;
pub mod render;
pub mod wizard;
