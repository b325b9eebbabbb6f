//! kubecred's fuzz targets, one AFL binary each under `src/bin/`; `run.sh` runs them.

#![forbid(unsafe_code)]

mod targets;

pub use targets::{
    Base, CHANGES, COPY_NAMED, NO_ETCD_DIR, NO_PKI_DIR, NOW, SLOTS, Tree, cert, judge, key,
    kubeconfig, manifest, pem,
};
