//! kubecred's fuzz targets, one AFL binary each under `src/bin/`; `run.sh` runs them.

#![forbid(unsafe_code)]

mod targets;

pub use targets::{Base, NOW, SLOTS, Tree, cert, judge, key, kubeconfig, pem};
