//! kubecred: inspect, check and repair the credentials of a kubeadm control-plane node.
//!
//! Data flows one way:
//! `cli` → `app` → `inventory` (the only reader) → `findings` (pure rules) →
//! `report` → `render` (the only formatter); `apply` is the only writer.
//! `layout` is kubeadm's credential table; `cert`, `key`, `pem` and `kubeconfig`
//! parse bytes into values; `issue` and `demo` make keys and certificates as
//! kubeadm does. Only `context` reads the clock and the environment.

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod apply;
pub mod cert;
pub mod cli;
pub mod clock;
pub mod context;
pub mod demo;
pub mod findings;
pub mod inventory;
pub mod issue;
pub mod key;
pub mod kubeconfig;
pub mod layout;
pub mod migrate;
pub mod online;
pub mod pem;
pub mod render;
pub mod renew;
pub mod report;
pub mod shell;
pub mod span;
pub mod wizard;
