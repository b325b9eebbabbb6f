//! The pure core: values in, values out. Nothing here reads the filesystem,
//! the environment, the clock or the network; what it needs of the host
//! arrives as values (an [`model::Inventory`], bytes from a [`plan::Source`],
//! `now`) and what it decides leaves as values (findings, plans, writes).

pub mod api;
pub mod binding;
pub mod cert;
pub mod clock;
pub mod config;
pub mod demo;
pub mod demo_manifests;
pub mod env_file;
pub mod exact;
pub mod findings;
pub mod issue;
pub mod key;
pub mod kubeconfig;
pub mod layout;
pub mod live;
pub mod manifest;
pub mod migrate;
pub mod model;
pub mod pem;
pub mod plan;
pub mod quorum;
pub mod renew;
pub mod report;
pub mod shell;
pub mod span;
