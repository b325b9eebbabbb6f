//! The least work `inspect` does over a tree from `cert_tree`, for the
//! benchmark (`bench/scale.sh`): the limit kubecred is measured against.
//!
//! ```text
//! cargo run --release --example reference_loop -- DIR
//! ```
//!
//! Reads `DIR/ca.crt`, prepares its public key once, then, on every core,
//! for every other `*.crt` under `DIR`: reads it, decodes the PEM, parses
//! the X.509 certificate, verifies its signature with the CA's key, and when
//! a `.key` lies beside it, reads it, decodes it and has aws-lc validate the
//! key in full (as kubecred does) and compares its public half with the
//! certificate's. Prints how many certificates verified and how many keys
//! matched; no formatting, no findings, no file metadata beyond `read`.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark's reference: it is all edge"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result, bail};
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _, ParsedPublicKey,
};
use rustls_pki_types::pem::{PemObject as _, SectionKind};
use x509_parser::prelude::{FromDer as _, X509Certificate};

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
    let (Some(dir), None) = (args.next(), args.next()) else {
        bail!("usage: reference_loop DIR");
    };
    let dir = PathBuf::from(dir);
    let ca_der = first_certificate(&std::fs::read(dir.join("ca.crt"))?)?;
    let (_, ca) = X509Certificate::from_der(&ca_der).context("ca.crt")?;
    let ca_rsa =
        ca.public_key().algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
    let algorithm: &'static dyn signature::VerificationAlgorithm = if ca_rsa {
        &signature::RSA_PKCS1_2048_8192_SHA256
    } else {
        &signature::ECDSA_P256_SHA256_ASN1
    };
    let ca_key = ParsedPublicKey::new(algorithm, &ca.public_key().subject_public_key.data)
        .map_err(|err| anyhow::anyhow!("ca.crt key: {err}"))?;

    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    let ca_path = dir.join("ca.crt");
    files.retain(|path| *path != ca_path);
    let (verified, matched, next) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(index) else {
                            return Ok(());
                        };
                        let der = first_certificate(&std::fs::read(path)?)?;
                        let (_, cert) = X509Certificate::from_der(&der)
                            .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
                        if cert.issuer().as_raw() == ca.subject().as_raw()
                            && ca_key
                                .verify_sig(
                                    cert.tbs_certificate.as_ref(),
                                    &cert.signature_value.data,
                                )
                                .is_ok()
                        {
                            verified.fetch_add(1, Ordering::Relaxed);
                        }
                        let key_path = path.with_extension("key");
                        if let Ok(pem) = std::fs::read(&key_path) {
                            let public = public_half(&pem)
                                .with_context(|| key_path.display().to_string())?;
                            if public == cert.public_key().subject_public_key.data.as_ref() {
                                matched.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
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
        "{} certificates, {} verified, {} keys matched",
        files.len(),
        verified.load(Ordering::Relaxed),
        matched.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Every `*.crt` under `dir`, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "crt") {
            out.push(path);
        }
    }
    Ok(())
}

fn first_certificate(pem: &[u8]) -> Result<Vec<u8>> {
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.context("bad PEM")?;
        if kind == SectionKind::Certificate {
            return Ok(der);
        }
    }
    bail!("no certificate")
}

/// The public half of a PEM private key, after aws-lc validated the key in full.
fn public_half(pem: &[u8]) -> Result<Vec<u8>> {
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.context("bad PEM")?;
        let public = match kind {
            SectionKind::EcPrivateKey => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                    .map_err(|err| anyhow::anyhow!("{err}"))?
                    .public_key()
                    .as_ref()
                    .to_vec()
            }
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(&der)
                .map_err(|err| anyhow::anyhow!("{err}"))?
                .public_key()
                .as_ref()
                .to_vec(),
            _ => continue,
        };
        return Ok(public);
    }
    bail!("no private key")
}
