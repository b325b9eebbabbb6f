//! `inspect PATH...` as a stream: a first pass finds the CAs (certificates
//! only, no keys), then the files are read, judged and handed out a window
//! at a time, in the order of the report, so that memory holds the CAs and
//! one window, not every certificate.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use time::OffsetDateTime;

use super::paths::{Listed, collect_files, read_any, read_any_with};
use super::{parallel, reader_uid};
use crate::domain::cert::{IssuerKey, SignatureAlgorithm};
use crate::domain::clock::{Doubt, Watch};
use crate::domain::exact::escaped;
use crate::domain::findings::{self, Thresholds};
use crate::domain::model::{Credential, Inventory};
use crate::domain::report::Judged;

/// Files read and judged at a time (on every core), then written and dropped.
/// A window of 1,024 leaves with their keys is about 3 MiB.
const WINDOW: usize = 1024;

/// The files named, ready to be read a window at a time, in the order of
/// the report (by name).
pub struct Stream {
    /// The files, in the report's order.
    files: Vec<Listed>,
    /// The CAs among the files (read without their keys), indexed by name.
    context: Inventory,
    /// CA names by subject (the last CA read with a subject names it).
    cas: HashMap<String, String>,
    /// Each CA's public key, once per signature algorithm its certificates use.
    keys: HashMap<(String, SignatureAlgorithm), IssuerKey>,
    /// What the clock is doubted for, across all the certificates.
    doubt: Option<Doubt>,
    now: OffsetDateTime,
    thresholds: Thresholds,
}

impl Inventory {
    /// The files and folders an operator named, as a [`Stream`] judged at
    /// `now`; their keys must belong to `expected_owner`. `None` when the
    /// credentials would not come out sorted file by file (a file named
    /// twice, or a bundle's `NAME#N` sorting among other files' names): such
    /// inputs are read whole, with [`Inventory::scan_paths`].
    pub fn stream_paths(
        paths: &[PathBuf],
        expected_owner: u32,
        now: OffsetDateTime,
        thresholds: Thresholds,
    ) -> Option<Stream> {
        let mut files = Vec::new();
        for path in paths {
            collect_files(path, &mut files);
        }
        // First pass, in the order of a whole scan (the clock and the CA of a
        // subject are decided by it): certificates only.
        let mut counts = vec![0_usize; files.len()];
        let mut watch = Watch::new(now);
        let mut ca_creds: Vec<Credential> = Vec::new();
        let mut issuers: HashSet<(String, SignatureAlgorithm)> = HashSet::new();
        for (chunk, counted) in files.chunks(WINDOW).zip(counts.chunks_mut(WINDOW)) {
            let read = parallel(chunk, |listed| read_any_with(listed, false));
            for (count, creds) in counted.iter_mut().zip(read) {
                *count = creds.len();
                for cred in creds {
                    watch.see(&cred);
                    let Some(material) = cred.material() else {
                        continue;
                    };
                    let cert = &material.certificate;
                    if !(cert.is_ca && cert.issuer == cert.subject) {
                        issuers.insert((cert.issuer.clone(), cert.signature_algorithm()));
                    }
                    if cert.is_ca {
                        ca_creds.push(cred);
                    }
                }
            }
        }
        let names: Vec<String> = files.iter().map(|listed| escaped(&listed.path)).collect();
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|a, b| names.get(*a).cmp(&names.get(*b)).then(a.cmp(b)));
        let mut last: Option<String> = None;
        for &at in &order {
            let (Some(name), Some(&count)) = (names.get(at), counts.get(at)) else {
                return None;
            };
            let (first, own_last) = match count {
                0 => continue,
                1 => (name.clone(), name.clone()),
                _ => {
                    let all = (1..=count).map(|index| format!("{name}#{index}"));
                    (format!("{name}#1"), all.max()?)
                }
            };
            if last.as_ref().is_some_and(|last| *last >= first) {
                return None;
            }
            last = Some(own_last);
        }
        drop(names);
        let mut slots: Vec<Option<Listed>> = files.into_iter().map(Some).collect();
        let files = order
            .iter()
            .filter_map(|&at| slots.get_mut(at).and_then(Option::take))
            .collect();
        let cas: HashMap<String, String> = ca_creds
            .iter()
            .filter_map(|cred| {
                let cert = &cred.material()?.certificate;
                Some((cert.subject.clone(), cred.name.clone()))
            })
            .collect();
        let context = Inventory {
            kubernetes_dir: PathBuf::new(),
            cert_dir: PathBuf::new(),
            local_etcd: false,
            expected_owner,
            folders: Vec::new(),
            credentials: ca_creds,
            service_account: None,
            copies: Vec::new(),
            skipped_copies: Vec::new(),
            static_pods: Vec::new(),
            reader_uid: reader_uid(),
            index: HashMap::new(),
        }
        .indexed();
        let mut keys = HashMap::new();
        for (subject, algorithm) in issuers {
            let Some(name) = cas.get(&subject) else {
                continue;
            };
            if let Some(ca) = context.material(name) {
                keys.insert(
                    (name.clone(), algorithm),
                    ca.certificate.issuer_key(algorithm),
                );
            }
        }
        Some(Stream {
            files,
            context,
            cas,
            keys,
            doubt: watch.doubt(),
            now,
            thresholds,
        })
    }
}

impl Stream {
    /// Hands `write` the credentials, a window at a time in the report's
    /// order, judged on every core: the next window is judged while `write`
    /// takes the last, and at most one waits between them, so memory holds
    /// three windows at most.
    pub fn write_with<R>(
        &self,
        write: impl FnOnce(std::sync::mpsc::IntoIter<Vec<Judged>>) -> R,
    ) -> R {
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel(1);
            let producer = scope.spawn(move || {
                for window in self.files.chunks(WINDOW) {
                    let judged: Vec<Judged> = parallel(window, |listed| self.judge(listed))
                        .into_iter()
                        .flatten()
                        .collect();
                    // The writer stopped (a closed pipe, an error): so does the reading.
                    if send.send(judged).is_err() {
                        break;
                    }
                }
            });
            let written = write(receive.into_iter());
            // A panic while judging is a bug: re-raise it rather than end the list early.
            if let Err(panic) = producer.join() {
                std::panic::resume_unwind(panic);
            }
            written
        })
    }

    /// What the report says besides its credentials: no kubernetes or cert
    /// dir, no copies, no static pods.
    pub fn head(&self) -> &Inventory {
        &self.context
    }

    /// One file's credentials, sorted by name, each with its CA, its chain
    /// verified, and its findings.
    fn judge(&self, listed: &Listed) -> Vec<Judged> {
        let mut creds = read_any(listed);
        creds.sort_by(|a, b| a.name.cmp(&b.name));
        creds
            .into_iter()
            .map(|mut cred| {
                if let Some(material) = cred.material() {
                    let cert = &material.certificate;
                    if !(cert.is_ca && cert.issuer == cert.subject) {
                        cred.ca = self.cas.get(&cert.issuer).cloned();
                    }
                }
                cred.chain = self.chain(&cred);
                let findings = findings::evaluate_credential(
                    &self.context,
                    &cred,
                    self.doubt.as_ref(),
                    self.now,
                    &self.thresholds,
                );
                Judged {
                    credential: cred,
                    findings,
                }
            })
            .collect()
    }

    fn chain(&self, cred: &Credential) -> Option<Result<(), crate::domain::cert::ChainError>> {
        let cert = &cred.material()?.certificate;
        let name = cred.ca.as_deref()?;
        let ca = &self.context.material(name)?.certificate;
        let key = self
            .keys
            .get(&(name.to_owned(), cert.signature_algorithm()))?;
        Some(cert.verify_with(ca, key))
    }
}
