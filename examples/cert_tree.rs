//! Writes a tree of certificates for the `inspect` benchmark (`bench/run.sh`).
//!
//! ```text
//! cargo run --release --example cert_tree -- DIR N
//! ```
//!
//! `DIR/ca.crt` and `DIR/ca.key` are one ECDSA P-256 CA; `DIR/000/leaf-00000.crt`
//! … are `N` ECDSA P-256 leaves signed by it, 1,000 to a subfolder, each with
//! its SEC1 `.key` beside it, issued as kubeadm issues its leaves (keys `0600`,
//! certificates `0644`, so `inspect` has no finding to report). `DIR` must
//! not exist, or be empty. Keys are generated and certificates signed on every
//! core; the files are written with plain `std::fs` (no fsync: it is a fixture).

#![allow(
    clippy::disallowed_methods,
    reason = "a fixture writer: it is all edge"
)]

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use kubecred::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use rcgen::{Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

/// Leaves per subfolder.
const PER_FOLDER: usize = 1000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), Some(count), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: cert_tree DIR N");
    };
    let dir = PathBuf::from(dir);
    let count: usize = count
        .to_str()
        .and_then(|text| text.parse().ok())
        .context("N must be a whole number")?;
    if dir.exists() && fs::read_dir(&dir)?.next().is_some() {
        bail!("{} exists and is not empty", dir.display());
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = (now - Duration::days(30), now + Duration::days(335));
    let ca_key = issue::generate_key(KeyAlgorithm::EcdsaP256)?;
    let ca_pem = issue::self_signed_ca(
        "bench-ca",
        &ca_key.pair,
        now - Duration::days(30),
        now + Duration::days(3620),
    )?;
    write(&dir.join("ca.crt"), ca_pem.as_bytes(), 0o644)?;
    write(&dir.join("ca.key"), ca_key.pem.as_bytes(), 0o600)?;
    let ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key.pair)?;

    for folder in 0..count.div_ceil(PER_FOLDER) {
        fs::create_dir(dir.join(format!("{folder:03}")))?;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(count.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (ca, dir) = (&ca, &dir);
                scope.spawn(move || {
                    (thread..count)
                        .step_by(threads)
                        .try_for_each(|index| leaf(dir, index, ca, not_before, not_after))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        })
    })?;
    println!(
        "wrote 1 CA and {count} leaves (ECDSA P-256, with keys) to {}",
        dir.display()
    );
    Ok(())
}

/// Issues and writes leaf `index` and its key.
fn leaf(
    dir: &Path,
    index: usize,
    ca: &Issuer<'_, KeyPair>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<()> {
    let name = format!("leaf-{index:05}");
    let profile = Profile {
        common_name: format!("{name}.bench.internal"),
        groups: vec!["bench:group".into()],
        dns_names: vec![format!("{name}.bench.internal")],
        ip_addresses: vec![],
        usages: vec![Usage::ServerAuth, Usage::ClientAuth],
    };
    let key = issue::generate_key(KeyAlgorithm::EcdsaP256)?;
    let pem = issue::leaf(&profile, &key.pair, ca, not_before, not_after)?;
    let base = dir.join(format!("{:03}", index / PER_FOLDER)).join(name);
    write(&base.with_extension("crt"), pem.as_bytes(), 0o644)?;
    write(&base.with_extension("key"), key.pem.as_bytes(), 0o600)
}

/// Writes a new file with `mode` (keys `0600`, certificates `0644`, as kubeadm does).
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}
