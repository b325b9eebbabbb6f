//! The clock as a suspect: whether `now` agrees with the certificates of the
//! tree, and whether a CA can sign at `now`. Pure.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::inventory::Inventory;
use crate::layout::Kind;
use crate::span::{date, left};

/// Why `now` is not believed: the certificate that disagrees with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doubt {
    /// The clock doubted.
    pub now: OffsetDateTime,
    /// The credential that disagrees.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// How it disagrees.
    pub kind: DoubtKind,
}

/// How the clock disagrees with the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoubtKind {
    /// `now` is before the newest not-before of the tree: the clock looks behind.
    Behind {
        /// That not-before.
        not_before: OffsetDateTime,
    },
    /// `now` is later than every leaf's not-after by more than that leaf's
    /// lifetime: the clock looks ahead. The leaf named is the one that held out longest.
    Ahead {
        /// Its not-after.
        not_after: OffsetDateTime,
        /// Its lifetime (not-after minus not-before).
        lifetime: time::Duration,
    },
}

impl Doubt {
    /// One sentence naming the clock and the certificate.
    pub fn message(&self) -> String {
        match self.kind {
            DoubtKind::Behind { not_before } => format!(
                "the node clock ({}) is earlier than the not-before of {} ({}): the clock is behind, or {} was issued by a clock ahead",
                date(self.now),
                self.name,
                date(not_before),
                self.name
            ),
            DoubtKind::Ahead {
                not_after,
                lifetime,
            } => format!(
                "the node clock ({}) is later than the expiry of {} ({}) by more than its {} lifetime, and no leaf is newer: the clock is ahead, or the node was off that long",
                date(self.now),
                self.name,
                date(not_after),
                left(lifetime)
            ),
        }
    }
}

/// Whether `now` disagrees with the certificates in `inventory`.
///
/// The clock is doubted when it is earlier than the newest not-before of any
/// certificate, or later than every leaf's not-after by more than that leaf's
/// lifetime. A tree without certificates raises no doubt.
pub fn doubt(inventory: &Inventory, now: OffsetDateTime) -> Option<Doubt> {
    let present = || {
        inventory
            .credentials
            .iter()
            .filter_map(|cred| cred.material().map(|m| (cred, &m.certificate)))
    };
    let doubt = |cred: &crate::inventory::Credential, kind| Doubt {
        now,
        name: cred.name.clone(),
        path: cred.path.clone(),
        kind,
    };
    if let Some((cred, cert)) = present()
        .filter(|(_, cert)| cert.not_before > now)
        .max_by_key(|(_, cert)| cert.not_before)
    {
        return Some(doubt(
            cred,
            DoubtKind::Behind {
                not_before: cert.not_before,
            },
        ));
    }
    // The leaf that stays plausible longest: not-after plus its lifetime.
    // A limit past the dates `time` represents is never reached.
    let mut latest: Option<(OffsetDateTime, &crate::inventory::Credential, &Certificate)> = None;
    for (cred, cert) in present().filter(|(cred, _)| cred.kind != Kind::Ca) {
        let limit = cert
            .not_after
            .checked_add(cert.not_after - cert.not_before)?;
        if latest.is_none_or(|(best, ..)| limit > best) {
            latest = Some((limit, cred, cert));
        }
    }
    let (limit, cred, cert) = latest?;
    (now > limit).then(|| {
        doubt(
            cred,
            DoubtKind::Ahead {
                not_after: cert.not_after,
                lifetime: cert.not_after - cert.not_before,
            },
        )
    })
}

/// Why `ca` cannot sign at `now`, if it cannot: expired, or not yet valid.
pub fn ca_unusable(ca_name: &str, ca: &Certificate, now: OffsetDateTime) -> Option<String> {
    if ca.not_after <= now {
        Some(format!(
            "its CA {ca_name} expired on {} (the clock says {}): the CA must be rotated first (kubeadm's manual CA rotation), renewing cannot help",
            date(ca.not_after),
            date(now)
        ))
    } else if ca.not_before > now {
        Some(format!(
            "its CA {ca_name} is not valid before {} (the clock says {}): check the node clock",
            date(ca.not_before),
            date(now)
        ))
    } else {
        None
    }
}
