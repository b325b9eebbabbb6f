//! The clock as a suspect: whether `now` agrees with the certificates of the
//! tree, and whether a CA can sign at `now`. Pure.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::domain::cert::Certificate;
use crate::domain::layout::Kind;
use crate::domain::model::{Credential, Inventory};
use crate::domain::span::{date, left};

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
    let mut watch = Watch::new(now);
    for cred in &inventory.credentials {
        watch.see(cred);
    }
    watch.doubt()
}

/// [`doubt`] as running totals: shown the credentials one at a time, in the
/// inventory's order, it keeps only the two certificates that could be named.
#[derive(Debug)]
pub struct Watch {
    now: OffsetDateTime,
    /// The newest not-before later than `now` (the last of equal ones).
    behind: Option<(OffsetDateTime, String, PathBuf)>,
    /// The leaf that stays plausible longest (the first of equal ones):
    /// its limit, name, path, not-after and lifetime.
    ahead: Option<(
        OffsetDateTime,
        String,
        PathBuf,
        OffsetDateTime,
        time::Duration,
    )>,
    /// A leaf's limit fell past the dates `time` represents: it is never reached.
    unbounded: bool,
}

impl Watch {
    /// A watch of the clock `now`, having seen nothing.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            now,
            behind: None,
            ahead: None,
            unbounded: false,
        }
    }

    /// Takes one credential into account.
    pub fn see(&mut self, cred: &Credential) {
        let Some(material) = cred.material() else {
            return;
        };
        let cert: &Certificate = &material.certificate;
        if cert.not_before > self.now
            && self
                .behind
                .as_ref()
                .is_none_or(|(newest, ..)| cert.not_before >= *newest)
        {
            self.behind = Some((cert.not_before, cred.name.clone(), cred.path.clone()));
        }
        if cred.kind == Kind::Ca || self.unbounded {
            return;
        }
        let lifetime = cert.not_after - cert.not_before;
        match cert.not_after.checked_add(lifetime) {
            None => self.unbounded = true,
            Some(limit) => {
                if self.ahead.as_ref().is_none_or(|(best, ..)| limit > *best) {
                    self.ahead = Some((
                        limit,
                        cred.name.clone(),
                        cred.path.clone(),
                        cert.not_after,
                        lifetime,
                    ));
                }
            }
        }
    }

    /// The doubt, if what was seen raises one.
    pub fn doubt(self) -> Option<Doubt> {
        let now = self.now;
        if let Some((not_before, name, path)) = self.behind {
            return Some(Doubt {
                now,
                name,
                path,
                kind: DoubtKind::Behind { not_before },
            });
        }
        if self.unbounded {
            return None;
        }
        let (limit, name, path, not_after, lifetime) = self.ahead?;
        (now > limit).then_some(Doubt {
            now,
            name,
            path,
            kind: DoubtKind::Ahead {
                not_after,
                lifetime,
            },
        })
    }
}

/// Why `ca` cannot sign at `now`, if it cannot: expired, or not yet valid.
pub fn ca_unusable(ca_name: &str, ca: &Certificate, now: OffsetDateTime) -> Option<String> {
    if ca.not_after <= now {
        Some(format!(
            "its CA {ca_name} expired on {} (the clock says {}): the CA must be rotated first, renewing cannot help (see \"Manual Rotation of CA Certificates\" in the Kubernetes docs)",
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::domain::demo::{self, AdminLayout, HostSpec};
    use crate::domain::issue::KeyAlgorithm;
    use crate::domain::model::Scope;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    fn inventory(overrides: &[(&str, OffsetDateTime, OffsetDateTime)]) -> Inventory {
        let mut spec = HostSpec::new(NOW, KeyAlgorithm::EcdsaP256, AdminLayout::Init129);
        for (name, from, to) in overrides {
            spec.overrides.insert((*name).to_owned(), (*from, *to));
        }
        let dir = tempfile::tempdir().unwrap();
        crate::edge::apply::tree::write(dir.path(), &demo::generate(&spec).unwrap()).unwrap();
        Inventory::scan(&Scope {
            kubernetes_dir: dir.path().to_path_buf(),
            cert_dir: dir.path().join("pki"),
            copies: Vec::new(),
            expected_owner: 0,
        })
    }

    #[test]
    fn the_clock_is_doubted_only_outside_what_the_tree_allows() {
        let second = Duration::SECOND;
        let newest = NOW + Duration::days(2);
        let fresh_until = NOW + Duration::days(365);
        let inventory = inventory(&[
            ("scheduler.conf", newest, newest + Duration::days(365)),
            // Long dead, yet not a reason to doubt: another leaf is fresh.
            (
                "apiserver",
                NOW - Duration::days(1500),
                NOW - Duration::days(1135),
            ),
        ]);
        // scheduler.conf holds out longest: until its not-after plus its lifetime.
        let limit = newest + Duration::days(730);
        let cases: &[(OffsetDateTime, Option<&str>)] = &[
            (newest - second, Some("behind scheduler.conf")),
            (NOW, Some("behind scheduler.conf")),
            (newest, None),
            (fresh_until, None),
            (limit, None),
            (limit + second, Some("ahead scheduler.conf")),
            (
                datetime!(9999-12-31 23:59:59 UTC),
                Some("ahead scheduler.conf"),
            ),
        ];
        for (now, expected) in cases {
            let found = doubt(&inventory, *now).map(|doubt| {
                let side = match doubt.kind {
                    DoubtKind::Behind { .. } => "behind",
                    DoubtKind::Ahead { .. } => "ahead",
                };
                assert!(
                    doubt
                        .message()
                        .starts_with(&format!("the node clock ({})", date(*now)))
                );
                format!("{side} {}", doubt.name)
            });
            assert_eq!(found.as_deref(), *expected, "{now}");
        }
    }

    #[test]
    fn a_ca_signs_from_its_not_before_until_before_its_not_after() {
        let inventory = inventory(&[]);
        let ca = &inventory.material("ca").unwrap().certificate;
        let cases: &[(OffsetDateTime, Option<&str>)] = &[
            (
                ca.not_before - Duration::SECOND,
                Some("is not valid before"),
            ),
            (ca.not_before, None),
            (ca.not_after - Duration::SECOND, None),
            (ca.not_after, Some("the CA must be rotated first")),
        ];
        for (now, expected) in cases {
            let reason = ca_unusable("ca", ca, *now);
            match (reason, expected) {
                (None, None) => {}
                (Some(reason), Some(why)) => assert!(reason.contains(why), "{now}: {reason}"),
                (reason, _) => panic!("{now}: {reason:?}"),
            }
        }
    }
}
