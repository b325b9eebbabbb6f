//! Restarting one static pod as the Kubernetes docs advise: its manifest moves
//! out of the manifests folder (into a backup set in the state dir, under the
//! journal, as every write), stays out until the component has stopped, goes
//! back byte-identical, and the restart counts only once the component answers
//! again using the renewed credentials. Every wait is bounded; on every path
//! out of here the manifest is back in its folder, or the journal is left for
//! the next run (or `kubecred recover`) to put it back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::domain::live::{Answer, Live, LiveState, Role};
use crate::domain::manifest::Component;
use crate::domain::model::Inventory;
use crate::domain::plan::{Action, Expect, Write};
use crate::domain::quorum;
use crate::edge::api::interrupted;
use crate::edge::apply::hook::Hook;
use crate::edge::apply::transaction::Transaction;
use crate::edge::inventory::{Links, read_file};
use crate::edge::live::{self, Probing};

/// The kubelet's default `fileCheckFrequency`: how often it looks at the
/// manifests folder.
pub const FILE_CHECK_FREQUENCY: Duration = Duration::from_secs(20);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// What a restart needs to know of the node and of the run.
#[derive(Clone, Copy)]
pub struct Restarter<'a> {
    /// Where the backups and the journal live.
    pub state_dir: &'a Path,
    /// The tree the manifests are in.
    pub kubernetes_dir: &'a Path,
    /// The node as scanned before the renewal (its manifests and files).
    pub inventory: &'a Inventory,
    /// Where the probes go and which `/proc` is read.
    pub probing: &'a Probing,
    /// How long a manifest stays out when the component's process cannot be
    /// seen to stop.
    pub file_check: Duration,
    /// How long one restart may take, from moving the manifest out to healthy.
    pub timeout: Duration,
    /// The run's time, for the backup set.
    pub now: OffsetDateTime,
    /// The seam before each filesystem step.
    pub hook: &'a dyn Hook,
    /// kubeadm's certificatesDir: etcd's quorum is asked with its healthcheck client.
    pub cert_dir: &'a Path,
    /// Restart etcd although its quorum gate refuses (`--force-etcd-restart`).
    pub force_etcd: bool,
}

/// A restart that went through.
#[derive(Clone, Debug)]
pub struct Restarted {
    /// The component.
    pub component: Component,
    /// How long its manifest was out of the folder.
    pub out_for: Duration,
    /// Whether its process was seen to stop (else the kubelet's check interval elapsed).
    pub seen_stopping: bool,
    /// From moving the manifest out to healthy.
    pub took: Duration,
}

/// Why a restart failed, and where the manifest is.
#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    /// There is no manifest to move: nothing was changed.
    #[error("cannot restart {component}: {why}; nothing was changed")]
    NoManifest {
        /// The component.
        component: Component,
        /// Why.
        why: String,
    },
    /// The manifest could not be moved out: it is in place.
    #[error("cannot restart {component}: moving its manifest out failed ({cause}); it is in place")]
    MoveOut {
        /// The component.
        component: Component,
        /// Why.
        cause: String,
    },
    /// The component did not stop, or did not come back healthy, in time:
    /// the manifest is back in place.
    #[error("{component} did not {what} within {} s ({why}); its manifest is back in place", timeout.as_secs())]
    TimedOut {
        /// The component.
        component: Component,
        /// What it did not do: `stop`, or `come back with the renewed credentials`.
        what: &'static str,
        /// What the last look saw.
        why: String,
        /// The limit.
        timeout: Duration,
    },
    /// SIGINT or SIGTERM: the manifest is back in place.
    #[error("interrupted while restarting {component}; its manifest is back in place")]
    Interrupted {
        /// The component.
        component: Component,
    },
    /// etcd's quorum gate refused: nothing was moved.
    #[error("refusing to restart etcd: {reason}")]
    Quorum {
        /// The gate's words.
        reason: String,
    },
    /// Putting the manifest back failed: the journal stays, so that the next
    /// writing run (or `kubecred recover`) puts it back.
    #[error(
        "putting the manifest of {component} back failed ({cause}); `kubecred recover` puts it back"
    )]
    PutBack {
        /// The component.
        component: Component,
        /// The manifest.
        path: PathBuf,
        /// Why.
        cause: String,
    },
}

impl RestartError {
    /// The component it is about.
    pub fn component(&self) -> Component {
        match self {
            Self::NoManifest { component, .. }
            | Self::MoveOut { component, .. }
            | Self::TimedOut { component, .. }
            | Self::Interrupted { component }
            | Self::PutBack { component, .. } => *component,
            Self::Quorum { .. } => Component::Etcd,
        }
    }
}

impl Restarter<'_> {
    /// Restarts `component` and waits until it uses the credentials `renewed`
    /// (kubeadm names) that it reads at start.
    pub fn restart(
        &self,
        component: Component,
        renewed: &[String],
    ) -> Result<Restarted, RestartError> {
        let started = Instant::now();
        let no_manifest = |why: String| RestartError::NoManifest { component, why };
        let path = self
            .inventory
            .static_pods
            .iter()
            .find(|pod| pod.component == component)
            .map(|pod| pod.path.clone())
            .ok_or_else(|| no_manifest("the scan found no manifest of it".into()))?;
        let bytes = read_file(&path, Links::Refuse)
            .map_err(|why| no_manifest(format!("its manifest cannot be read ({why})")))?
            .map(|(bytes, _)| bytes)
            .ok_or_else(|| no_manifest("its manifest is absent".into()))?;
        let expect = Expect::of(Some(&bytes));
        drop(bytes);
        if component == Component::Etcd {
            self.etcd_may_restart()?;
        }
        // The processes to see go; none seen: the kubelet's check interval is waited for.
        let before = live::pids(self.probing, component).unwrap_or_default();
        let out = Write {
            path: path.clone(),
            action: Action::Remove,
            kubeconfig: false,
            expect,
        };
        let moved = std::slice::from_ref(&out);
        let mut transaction = Transaction::begin(
            self.state_dir,
            self.kubernetes_dir,
            "restart",
            moved,
            self.now,
            self.hook,
        )
        .map_err(|err| RestartError::MoveOut {
            component,
            cause: err.to_string(),
        })?;
        if let Err(cause) = transaction.write(&out) {
            let err = transaction.abort(cause.to_string());
            return Err(RestartError::MoveOut {
                component,
                cause: err.to_string(),
            });
        }
        let out_at = Instant::now();
        let stopped = self.wait_stopped(component, &before, started);
        let out_for = out_at.elapsed();
        put_back(transaction, component, &path, expect)?;
        let seen_stopping = stopped?;
        self.wait_healthy(component, renewed, started)?;
        Ok(Restarted {
            component,
            out_for,
            seen_stopping,
            took: started.elapsed(),
        })
    }

    /// For kube-apiserver, why `/livez` or `/readyz` is not OK yet (asked, as
    /// kubeadm's own probes ask, without credentials, of the server that
    /// serves the certificate the probe just judged); `None` for the others.
    fn not_ready(&self, seen: &Live) -> Option<String> {
        let endpoint = seen.endpoints.iter().find(|endpoint| {
            endpoint.component == Component::KubeApiserver && endpoint.role == Role::Serving
        })?;
        let (Some(address), Answer::Served { leaf, .. }) = (endpoint.address, &endpoint.answer)
        else {
            return Some("kube-apiserver's secure port serves no certificate yet".into());
        };
        ["/livez", "/readyz"].iter().find_map(|path| {
            live::healthy(
                self.probing.destination(address),
                endpoint.server_name,
                leaf.fingerprint,
                path,
                HEALTH_TIMEOUT,
            )
            .err()
            .map(|why| format!("kube-apiserver {path}: {why}"))
        })
    }

    /// etcd's quorum gate: the local etcd is asked for its members and their
    /// health before its manifest moves; a refusal moves nothing.
    fn etcd_may_restart(&self) -> Result<(), RestartError> {
        let refused = |refusal: crate::domain::quorum::Refusal| RestartError::Quorum {
            reason: refusal.to_string(),
        };
        let pod = self
            .inventory
            .static_pods
            .iter()
            .find(|pod| pod.component == Component::Etcd)
            .and_then(crate::domain::model::StaticPod::pod);
        let asked = match pod {
            Some(pod) => crate::edge::etcd::ask(pod, self.cert_dir, self.probing)
                .map_err(|err| err.to_string()),
            None => Err("its manifest cannot be read".to_owned()),
        };
        match asked {
            Ok(quorum) => {
                quorum::may_restart(&quorum, self.force_etcd).map_err(refused)?;
                if let Some(notice) = quorum::notice(&quorum, self.force_etcd) {
                    eprintln!("kubecred: {}", crate::domain::exact::printable(&notice));
                }
                Ok(())
            }
            Err(why) => quorum::may_restart_unasked(&why, self.force_etcd).map_err(refused),
        }
    }

    /// Whether `started` plus the timeout has passed.
    fn expired(&self, started: Instant) -> bool {
        started.elapsed() >= self.timeout
    }

    /// Waits until every process of `before` is gone (`true`), or none was
    /// seen and the kubelet's check interval passed (`false`).
    fn wait_stopped(
        &self,
        component: Component,
        before: &[u32],
        started: Instant,
    ) -> Result<bool, RestartError> {
        let out = Instant::now();
        loop {
            if interrupted() {
                return Err(RestartError::Interrupted { component });
            }
            if !before.is_empty() {
                if let Ok(now) = live::pids(self.probing, component)
                    && !now.iter().any(|pid| before.contains(pid))
                {
                    return Ok(true);
                }
            } else if out.elapsed() >= self.file_check {
                return Ok(false);
            }
            if self.expired(started) {
                return Err(RestartError::TimedOut {
                    component,
                    what: "stop",
                    why: if before.is_empty() {
                        format!(
                            "its process was not found, and the kubelet's check interval ({} s) is longer",
                            self.file_check.as_secs()
                        )
                    } else {
                        "its process still runs".into()
                    },
                    timeout: self.timeout,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the component answers and uses every renewed credential.
    fn wait_healthy(
        &self,
        component: Component,
        renewed: &[String],
        started: Instant,
    ) -> Result<(), RestartError> {
        loop {
            if interrupted() {
                return Err(RestartError::Interrupted { component });
            }
            let seen = live::probe(self.inventory, self.probing, Some(&[component]));
            let Some(why) = unhealthy(&seen, component, renewed).or_else(|| self.not_ready(&seen))
            else {
                return Ok(());
            };
            if self.expired(started) {
                return Err(RestartError::TimedOut {
                    component,
                    what: "come back with the renewed credentials",
                    why,
                    timeout: self.timeout,
                });
            }
            std::thread::sleep(POLL);
        }
    }
}

/// How long one health request may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Puts the manifest back byte-identical, and checks that it is.
fn put_back(
    transaction: Transaction<'_>,
    component: Component,
    path: &Path,
    expect: Expect,
) -> Result<(), RestartError> {
    let failed = |cause: String| RestartError::PutBack {
        component,
        path: path.to_path_buf(),
        cause,
    };
    transaction
        .revert()
        .map_err(|err| failed(err.to_string()))?;
    let back = read_file(path, Links::Refuse).map_err(failed)?;
    if Expect::of(back.as_ref().map(|(bytes, _)| bytes.as_slice())) != expect {
        return Err(failed(
            "the file in place is not the one moved out".to_owned(),
        ));
    }
    Ok(())
}

/// Why `component` is not yet healthy in `seen`, or `None` when it is: its
/// endpoint serves and each renewed credential it uses is in use.
fn unhealthy(seen: &Live, component: Component, renewed: &[String]) -> Option<String> {
    let role = if component == Component::Etcd {
        Role::Client
    } else {
        Role::Serving
    };
    if let Some(endpoint) = seen.endpoint(component, role)
        && !matches!(endpoint.answer, Answer::Served { .. })
    {
        return Some(format!(
            "its {} endpoint does not answer with a certificate",
            role.as_str()
        ));
    }
    seen.of(component)
        .filter(|cred| renewed.iter().any(|name| name == cred.credential))
        .find(|cred| cred.state != LiveState::InUse)
        .map(|cred| format!("{} is {}: {}", cred.credential, cred.state, cred.reason))
}
