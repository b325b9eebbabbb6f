//! Where kubecred meets the host: the only reader (`inventory`), the only
//! writer (`apply`), the only network client (`api`, `online`), and the
//! clock and environment (`context`). The only modules allowed the
//! filesystem, environment, clock and sleep calls clippy forbids elsewhere.

#![allow(clippy::disallowed_methods)]

pub mod api;
pub mod apply;
pub mod context;
pub mod inventory;
pub mod online;
