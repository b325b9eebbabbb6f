//! Writes a tree of certificates for the `inspect` benchmark (`bench/run.sh`).
//!
//! ```text
//! cargo run --release --example cert_tree -- DIR N [ecdsa|rsa]
//! ```
//!
//! `DIR/ca.crt` and `DIR/ca.key` are one CA; `DIR/000/leaf-00000.crt` … are
//! `N` leaves signed by it, 1,000 to a subfolder, each with its `.key` beside
//! it, issued as kubeadm issues its leaves (keys `0600`, certificates `0644`,
//! so `inspect` has no finding to report). `ecdsa` (the default): ECDSA P-256
//! throughout, SEC1 keys, each leaf its own key. `rsa`: RSA-2048 throughout,
//! PKCS#1 keys; since an RSA key takes tens of milliseconds to generate, the
//! leaves share a pool of `RSA_POOL` keys (each `.key` is still a file of its
//! own that a reader validates in full). `DIR` must not exist, or be empty.
//! Keys are generated and certificates signed on every core; the files are
//! written with plain `std::fs` (no fsync: it is a fixture).

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

/// Distinct RSA leaf keys in an `rsa` tree.
const RSA_POOL: usize = 16;

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
    let (Some(dir), Some(count)) = (args.next(), args.next()) else {
        bail!("usage: cert_tree DIR N [ecdsa|rsa]");
    };
    let algorithm = match args.next().as_ref().and_then(|arg| arg.to_str()) {
        None | Some("ecdsa") => KeyAlgorithm::EcdsaP256,
        Some("rsa") => KeyAlgorithm::Rsa2048,
        Some(other) => bail!("unknown key type {other:?}: ecdsa or rsa"),
    };
    if args.next().is_some() {
        bail!("usage: cert_tree DIR N [ecdsa|rsa]");
    }
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
    let ca_key = issue::generate_key(algorithm)?;
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
    let pool: Vec<issue::NewKey> = if algorithm == KeyAlgorithm::Rsa2048 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    scope.spawn(move || {
                        (thread..RSA_POOL.min(count))
                            .step_by(threads)
                            .map(|_| issue::generate_key(algorithm))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles.into_iter().try_fold(Vec::new(), |mut all, handle| {
                all.extend(
                    handle
                        .join()
                        .map_err(|_| anyhow::anyhow!("a worker panicked"))??,
                );
                anyhow::Ok(all)
            })
        })?
    } else {
        Vec::new()
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (ca, dir, pool) = (&ca, &dir, &pool);
                scope.spawn(move || {
                    (thread..count).step_by(threads).try_for_each(|index| {
                        leaf(
                            dir,
                            index,
                            ca,
                            pool.get(index % RSA_POOL.max(1)),
                            not_before,
                            not_after,
                        )
                    })
                })
            })
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))?
        })
    })?;
    let what = if pool.is_empty() {
        "ECDSA P-256, each with its key".to_owned()
    } else {
        format!("RSA-2048, with keys from a pool of {}", pool.len())
    };
    println!(
        "wrote 1 CA and {count} leaves ({what}) to {}",
        dir.display()
    );
    Ok(())
}

/// Issues and writes leaf `index` and its key: `pooled` if given, else a new ECDSA P-256 key.
fn leaf(
    dir: &Path,
    index: usize,
    ca: &Issuer<'_, KeyPair>,
    pooled: Option<&issue::NewKey>,
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
    let fresh;
    let key = if let Some(key) = pooled {
        key
    } else {
        fresh = issue::generate_key(KeyAlgorithm::EcdsaP256)?;
        &fresh
    };
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
