//! Where kubecred meets the host: the only reader (`inventory`, and `live`'s
//! look at the running components), the only writer (`apply`), the network
//! clients (`api`, `online`, `live`'s probes, `etcd`'s questions), and the clock and environment
//! (`context`), and the configuration (`config`). The only modules allowed the
//! filesystem, environment, clock and sleep calls clippy forbids elsewhere.

#![allow(clippy::disallowed_methods)]

pub mod api;
pub mod apply;
pub mod config;
pub mod context;
pub mod etcd;
pub mod inventory;
pub mod live;
pub mod online;
pub mod restart;
