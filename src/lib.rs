//! kubecred: inspect, check and repair the credentials of a kubeadm control-plane node.
//!
//! Three layers, each a folder (the README's design notes draw them):
//! - [`domain`] is pure: credentials parsed from bytes, the findings, and the
//!   renewal and migration plans. It never touches the filesystem, the
//!   environment, the clock or the network (clippy's `disallowed-methods`
//!   enforces it).
//! - [`edge`] meets the host: `inventory` is the only reader, `apply` the only
//!   writer, `api` the only network client, `context` the clock and the environment.
//! - [`ui`] talks to people and programs: `cli`, `render` (the only formatter) and `wizard`.
//!
//! [`app`] holds the commands, thin over the three: resolve options, read,
//! plan, render, apply.

#![forbid(unsafe_code)]

pub mod app;
pub mod domain;
pub mod edge;
pub mod ui;
