//! `--live` on the host: a TLS handshake to every endpoint of the plan, all at
//! once and each bounded by [`PROBE_TIMEOUT`], the component processes from
//! `/proc`, and the times and certificates of the files the manifests name.
//! Reads only; the judgement is `domain::live`'s.

mod procs;
mod tls;

pub(crate) use tls::healthy;

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::live::{
    self, FileFacts, Live, Observations, Outcome, PROBE_TIMEOUT, Plan, Target,
};
use crate::domain::manifest::Component;
use crate::domain::model::Inventory;
use crate::edge::inventory::{Links, read_file};

/// Where and how the probes go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probing {
    /// The proc filesystem to find the component processes in.
    pub proc_root: PathBuf,
    /// Addresses to connect to in place of others (tests only).
    pub redirects: Vec<(SocketAddr, SocketAddr)>,
    /// Whether a probe that would leave loopback is skipped (tests).
    pub loopback_only: bool,
    /// How long each probe may take.
    pub timeout: Duration,
}

impl Default for Probing {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            redirects: Vec::new(),
            loopback_only: false,
            timeout: PROBE_TIMEOUT,
        }
    }
}

impl Probing {
    /// Probes redirected as `FROM=TO[,FROM=TO...]` (socket addresses), and
    /// none off loopback: what a test asks for.
    pub fn redirected(mut self, map: &str) -> Result<Self, String> {
        self.redirects = parse_map(map)?;
        self.loopback_only = true;
        Ok(self)
    }

    /// Where a probe for `address` connects.
    pub(crate) fn destination(&self, address: SocketAddr) -> SocketAddr {
        self.redirects
            .iter()
            .find(|(from, _)| *from == address)
            .map_or(address, |(_, to)| *to)
    }
}

/// Parses `FROM=TO[,FROM=TO...]`.
fn parse_map(text: &str) -> Result<Vec<(SocketAddr, SocketAddr)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (from, to) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not FROM=TO"))?;
            let address = |text: &str| {
                text.parse::<SocketAddr>()
                    .map_err(|_| format!("`{text}` is not a socket address"))
            };
            Ok((address(from)?, address(to)?))
        })
        .collect()
}

/// Probes the node now and judges every credential a component uses: of every
/// component, or only of those named (after restarting one, say).
pub fn probe(inventory: &Inventory, probing: &Probing, only: Option<&[Component]>) -> Live {
    let plan = live::plan(inventory, only);
    let seen = observe(&plan, probing);
    live::judge(inventory, &plan, &seen)
}

/// The ids of the processes running `component`'s program now.
pub fn pids(probing: &Probing, component: Component) -> Result<Vec<u32>, String> {
    procs::list(&probing.proc_root, &[component.as_str()])
        .map(|found| found.into_iter().map(|process| process.pid).collect())
}

/// Makes the plan's observations: the handshakes on their own threads, the
/// processes and files meanwhile on this one.
pub fn observe(plan: &Plan, probing: &Probing) -> Observations {
    std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .targets
            .iter()
            .map(|target| scope.spawn(move || (target.clone(), handshake(target, probing))))
            .collect();
        let programs: Vec<&str> = plan
            .components
            .iter()
            .filter(|component| **component != Component::Kubelet)
            .map(|component| component.as_str())
            .collect();
        let processes = procs::list(&probing.proc_root, &programs);
        let files = plan
            .files()
            .into_iter()
            .map(|path| (path.to_path_buf(), facts(path)))
            .collect();
        let probes = handles
            .into_iter()
            .zip(&plan.targets)
            .map(|(handle, target)| {
                handle.join().unwrap_or_else(|_| {
                    (
                        target.clone(),
                        Outcome::Failed("the probe failed unexpectedly".into()),
                    )
                })
            })
            .collect();
        Observations {
            probes,
            processes,
            files,
        }
    })
}

fn handshake(target: &Target, probing: &Probing) -> Outcome {
    let to = probing.destination(target.address);
    if probing.loopback_only && !to.ip().is_loopback() {
        return Outcome::Skipped(format!(
            "{to} is not on loopback, and this test run probes loopback only"
        ));
    }
    if !to.ip().is_loopback() && !is_local(to.ip()) {
        return Outcome::Skipped(format!(
            "{} is not an address of this node (the manifest was written for another), so kubecred does not probe it",
            to.ip()
        ));
    }
    tls::served_chain(to, target.server_name, probing.timeout)
}

/// Whether `ip` is an address of this node: binding a UDP socket to it (no
/// packet is sent) succeeds only then.
pub(crate) fn is_local(ip: std::net::IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// A file's modification time and certificate, read now (no symlink followed).
fn facts(path: &Path) -> FileFacts {
    let read = read_file(path, Links::Refuse)
        .and_then(|read| read.ok_or_else(|| "the file is absent".to_owned()));
    match read {
        Err(why) => FileFacts {
            modified: Err(why.clone()),
            certificate: Err(why),
        },
        Ok((bytes, _)) => FileFacts {
            modified: modified(path),
            certificate: live::certificate_in(&bytes, path),
        },
    }
}

fn modified(path: &Path) -> Result<OffsetDateTime, String> {
    let meta =
        std::fs::symlink_metadata(path).map_err(|err| format!("cannot stat ({})", err.kind()))?;
    let nanos = i128::from(meta.mtime())
        .checked_mul(1_000_000_000)
        .and_then(|whole| whole.checked_add(i128::from(meta.mtime_nsec())))
        .ok_or("its modification time is out of range")?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| "its modification time is out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_map_reads_pairs_and_refuses_anything_else() {
        let map = parse_map("127.0.0.1:6443=127.0.0.1:40000, [::1]:2379=127.0.0.1:1").unwrap();
        assert_eq!(map.len(), 2);
        let probing = Probing {
            redirects: map,
            ..Probing::default()
        };
        assert_eq!(
            probing.destination("127.0.0.1:6443".parse().unwrap()),
            "127.0.0.1:40000".parse().unwrap()
        );
        assert_eq!(
            probing.destination("127.0.0.1:10250".parse().unwrap()),
            "127.0.0.1:10250".parse().unwrap()
        );
        assert!(parse_map("127.0.0.1:1").is_err());
        assert!(parse_map("a=b").is_err());
    }
}
