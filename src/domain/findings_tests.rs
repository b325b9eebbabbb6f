//! Table-driven tests of `evaluate`: a clean generated node, scanned once,
//! then changed in memory one fact at a time; each row names the findings
//! (credential, code, severity) it must give, no more and no fewer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use time::macros::datetime;

use super::*;
use crate::domain::cert::Fingerprint;
use crate::domain::demo::{AdminLayout, HostSpec};
use crate::domain::issue::KeyAlgorithm;
use crate::domain::model::{Copy, Scope};

const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

/// A clean 1.29 node generated at `NOW` and scanned (the scan reads files; the
/// rules under test never do).
fn clean() -> &'static Inventory {
    static INVENTORY: OnceLock<Inventory> = OnceLock::new();
    INVENTORY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let spec = HostSpec::new(NOW, KeyAlgorithm::EcdsaP256, AdminLayout::Init129);
        crate::edge::apply::tree::write(dir.path(), &crate::domain::demo::generate(&spec).unwrap())
            .unwrap();
        Inventory::scan(&Scope {
            kubernetes_dir: dir.path().to_path_buf(),
            cert_dir: dir.path().join("pki"),
            copies: vec![],
            expected_owner: 0,
        })
    })
}

fn credential<'a>(inventory: &'a mut Inventory, name: &str) -> &'a mut Credential {
    inventory
        .credentials
        .iter_mut()
        .find(|cred| cred.name == name)
        .unwrap_or_else(|| panic!("no credential {name}"))
}

fn material<'a>(inventory: &'a mut Inventory, name: &str) -> &'a mut Material {
    match &mut credential(inventory, name).state {
        State::Present(material) => material,
        other => panic!("{name} is not present: {other:?}"),
    }
}

fn cert<'a>(inventory: &'a mut Inventory, name: &str) -> &'a mut Certificate {
    &mut material(inventory, name).certificate
}

fn not_after(name: &str) -> OffsetDateTime {
    clean().material(name).unwrap().certificate.not_after
}

fn key_file<'a>(inventory: &'a mut Inventory, name: &str) -> &'a mut FileMeta {
    match &mut material(inventory, name).key {
        KeyState::Present { file, .. } => file,
        other => panic!("{name}'s key is not present: {other:?}"),
    }
}

/// One row: a change to the clean node, the clock, and what must be found.
struct Row {
    what: &'static str,
    change: fn(&mut Inventory),
    now: fn() -> OffsetDateTime,
    thresholds: Thresholds,
    expected: &'static [(&'static str, Code, Severity)],
}

const fn row(
    what: &'static str,
    change: fn(&mut Inventory),
    expected: &'static [(&'static str, Code, Severity)],
) -> Row {
    Row {
        what,
        change,
        now: || NOW,
        thresholds: Thresholds {
            warn: Duration::days(30),
            crit: Duration::days(7),
            ca_warn: Duration::days(365),
            ca_crit: Duration::days(90),
        },
        expected,
    }
}

/// A row whose only change is the clock.
const fn at(
    what: &'static str,
    now: fn() -> OffsetDateTime,
    expected: &'static [(&'static str, Code, Severity)],
) -> Row {
    Row {
        now,
        ..row(what, |_| {}, expected)
    }
}

use Code as C;
use Severity::{Critical, Info, Warning};

/// Every leaf and kubeconfig of the clean node expires at the same second.
const ALL_LEAVES: [&str; 12] = [
    "admin.conf",
    "apiserver",
    "apiserver-etcd-client",
    "apiserver-kubelet-client",
    "controller-manager.conf",
    "etcd-healthcheck-client",
    "etcd-peer",
    "etcd-server",
    "front-proxy-client",
    "kubelet.conf",
    "scheduler.conf",
    "super-admin.conf",
];

fn rows() -> Vec<Row> {
    vec![
        row("the clean node", |_| {}, &[]),
        // --- validity, at the edges of the thresholds ----------------------
        row(
            "apiserver expires exactly now",
            |inv| cert(inv, "apiserver").not_after = NOW,
            &[("apiserver", C::Expired, Critical)],
        ),
        row(
            "apiserver expires in one second: critical, not expired",
            |inv| cert(inv, "apiserver").not_after = NOW + Duration::seconds(1),
            &[("apiserver", C::ExpiresSoon, Critical)],
        ),
        row(
            "apiserver expires in exactly 7 days (crit): critical",
            |inv| cert(inv, "apiserver").not_after = NOW + Duration::days(7),
            &[("apiserver", C::ExpiresSoon, Critical)],
        ),
        row(
            "apiserver expires one second after 7 days: warning",
            |inv| {
                cert(inv, "apiserver").not_after = NOW + Duration::days(7) + Duration::seconds(1);
            },
            &[("apiserver", C::ExpiresSoon, Warning)],
        ),
        row(
            "apiserver expires in exactly 30 days (warn): warning",
            |inv| cert(inv, "apiserver").not_after = NOW + Duration::days(30),
            &[("apiserver", C::ExpiresSoon, Warning)],
        ),
        row(
            "apiserver expires one second after 30 days: nothing",
            |inv| {
                cert(inv, "apiserver").not_after = NOW + Duration::days(30) + Duration::seconds(1);
            },
            &[],
        ),
        row(
            "apiserver not valid for another second",
            |inv| cert(inv, "apiserver").not_before = NOW + Duration::seconds(1),
            // A not-before ahead of the clock also makes the clock itself a suspect.
            &[
                ("apiserver", C::ClockImplausible, Warning),
                ("apiserver", C::NotYetValid, Critical),
            ],
        ),
        row(
            "apiserver valid from exactly now",
            |inv| cert(inv, "apiserver").not_before = NOW,
            &[],
        ),
        Row {
            thresholds: Thresholds {
                warn: Duration::days(400),
                crit: Duration::days(100),
                ca_warn: Duration::days(365),
                ca_crit: Duration::days(90),
            },
            ..row(
                "thresholds are the caller's: every leaf inside a 400-day warning",
                |_| {},
                &[
                    ("admin.conf", C::ExpiresSoon, Warning),
                    ("apiserver", C::ExpiresSoon, Warning),
                    ("apiserver-etcd-client", C::ExpiresSoon, Warning),
                    ("apiserver-kubelet-client", C::ExpiresSoon, Warning),
                    ("controller-manager.conf", C::ExpiresSoon, Warning),
                    ("etcd-healthcheck-client", C::ExpiresSoon, Warning),
                    ("etcd-peer", C::ExpiresSoon, Warning),
                    ("etcd-server", C::ExpiresSoon, Warning),
                    ("front-proxy-client", C::ExpiresSoon, Warning),
                    ("kubelet.conf", C::ExpiresSoon, Warning),
                    ("scheduler.conf", C::ExpiresSoon, Warning),
                    ("super-admin.conf", C::ExpiresSoon, Warning),
                ],
            )
        },
        at(
            "the clock at every leaf's not-after: all expired",
            || not_after("apiserver"),
            &[
                ("admin.conf", C::Expired, Critical),
                ("apiserver", C::Expired, Critical),
                ("apiserver-etcd-client", C::Expired, Critical),
                ("apiserver-kubelet-client", C::Expired, Critical),
                ("controller-manager.conf", C::Expired, Critical),
                ("etcd-healthcheck-client", C::Expired, Critical),
                ("etcd-peer", C::Expired, Critical),
                ("etcd-server", C::Expired, Critical),
                ("front-proxy-client", C::Expired, Critical),
                ("kubelet.conf", C::Expired, Critical),
                ("scheduler.conf", C::Expired, Critical),
                ("super-admin.conf", C::Expired, Critical),
            ],
        ),
        row(
            "ca expires in exactly 365 days (ca_warn): warning",
            |inv| cert(inv, "ca").not_after = NOW + Duration::days(365),
            // Its leaves end the same second: none outlives it.
            &[("ca", C::CaExpiresSoon, Warning)],
        ),
        row(
            "front-proxy-ca expires in exactly 90 days (ca_crit): critical",
            |inv| cert(inv, "front-proxy-ca").not_after = NOW + Duration::days(90),
            &[
                ("front-proxy-ca", C::CaExpiresSoon, Critical),
                ("front-proxy-client", C::CaOutlived, Warning),
            ],
        ),
        row(
            "etcd-ca expires a second after 365 days: nothing",
            |inv| {
                cert(inv, "etcd-ca").not_after = NOW + Duration::days(365) + Duration::seconds(1);
            },
            &[],
        ),
        row(
            "a leaf that outlives its CA by a second",
            |inv| {
                let ca_end = cert(inv, "front-proxy-ca").not_after;
                cert(inv, "front-proxy-client").not_after = ca_end + Duration::seconds(1);
            },
            &[("front-proxy-client", C::CaOutlived, Warning)],
        ),
        row(
            "a leaf that ends with its CA does not outlive it",
            |inv| {
                let ca_end = cert(inv, "front-proxy-ca").not_after;
                cert(inv, "front-proxy-client").not_after = ca_end;
            },
            &[],
        ),
        // --- chain ------------------------------------------------------------
        row(
            "a signature that does not verify",
            |inv| credential(inv, "apiserver").chain = Some(Err(ChainError::Signature)),
            &[("apiserver", C::NotSignedByCa, Critical)],
        ),
        row(
            "an issuer that is not the CA's subject",
            |inv| credential(inv, "etcd-peer").chain = Some(Err(ChainError::IssuerName)),
            &[("etcd-peer", C::NotSignedByCa, Critical)],
        ),
        // --- keys -------------------------------------------------------------
        row(
            "a key that is not the certificate's",
            |inv| {
                if let KeyState::Present { info, .. } = &mut material(inv, "apiserver").key {
                    info.public_key_raw[10] ^= 1;
                }
            },
            &[("apiserver", C::KeyMismatch, Critical)],
        ),
        row(
            "a leaf's key is absent",
            |inv| {
                let path = key_file(inv, "apiserver").path.clone();
                material(inv, "apiserver").key = KeyState::Absent(path);
            },
            &[("apiserver", C::Missing, Critical)],
        ),
        row(
            "a kubeconfig without a client key",
            |inv| material(inv, "scheduler.conf").key = KeyState::Absent("x".into()),
            &[("scheduler.conf", C::Missing, Critical)],
        ),
        row(
            "a CA's key is absent: an external CA",
            |inv| material(inv, "ca").key = KeyState::Absent("ca.key".into()),
            &[("ca", C::ExternalCa, Info)],
        ),
        row(
            "a malformed key",
            |inv| {
                material(inv, "apiserver").key = KeyState::Malformed {
                    path: "apiserver.key".into(),
                    reason: "bad".into(),
                };
            },
            &[("apiserver", C::Malformed, Critical)],
        ),
        row(
            "a key whose state is not looked at",
            |inv| material(inv, "apiserver").key = KeyState::Unknown,
            &[],
        ),
        // --- presence -------------------------------------------------------
        row(
            "a malformed certificate",
            |inv| {
                credential(inv, "etcd-server").state = State::Malformed {
                    path: "server.crt".into(),
                    reason: "not PEM".into(),
                };
            },
            &[("etcd-server", C::Malformed, Critical)],
        ),
        row(
            "an absent certificate kubeadm always writes",
            |inv| credential(inv, "apiserver").state = State::Absent { expected: true },
            &[("apiserver", C::Missing, Critical)],
        ),
        row(
            "an absent certificate this node need not have",
            |inv| {
                credential(inv, "apiserver-etcd-client").state = State::Absent { expected: false };
            },
            &[],
        ),
        row(
            "no super-admin.conf: information only",
            |inv| credential(inv, "super-admin.conf").state = State::Absent { expected: false },
            &[("super-admin.conf", C::SuperAdminAbsent, Info)],
        ),
        // --- permissions --------------------------------------------------
        row(
            "a key readable by its group",
            |inv| key_file(inv, "apiserver").mode = 0o640,
            &[("apiserver", C::InsecurePermissions, Warning)],
        ),
        row(
            "a key readable by others",
            |inv| key_file(inv, "etcd-peer").mode = 0o604,
            &[("etcd-peer", C::InsecurePermissions, Warning)],
        ),
        row(
            "a key with mode 0400 is fine",
            |inv| key_file(inv, "apiserver").mode = 0o400,
            &[],
        ),
        row(
            "a kubeconfig owned by another user",
            |inv| material(inv, "admin.conf").file.uid = 4242,
            // Whoever owns admin.conf reads a cluster-admin credential.
            &[("admin.conf", C::InsecurePermissions, Critical)],
        ),
        row(
            "a component's kubeconfig owned by another user",
            |inv| material(inv, "scheduler.conf").file.uid = 4242,
            &[("scheduler.conf", C::InsecurePermissions, Warning)],
        ),
        row(
            "the service-account key readable by all",
            |inv| {
                if let Some(sa) = &mut inv.service_account
                    && let KeyState::Present { file, .. } = &mut sa.key
                {
                    file.mode = 0o644;
                }
            },
            // Whoever reads sa.key mints any service-account token.
            &[("sa", C::InsecurePermissions, Critical)],
        ),
        // --- kubeconfigs and identities -------------------------------------
        row(
            "a kubeconfig without certificate-authority-data",
            |inv| {
                material(inv, "controller-manager.conf")
                    .kubeconfig
                    .as_mut()
                    .unwrap()
                    .certificate_authority = None;
            },
            &[("controller-manager.conf", C::CaDataMismatch, Critical)],
        ),
        row(
            "a kubeconfig whose CA data is another CA",
            |inv| {
                let other = cert(inv, "front-proxy-ca").clone();
                material(inv, "admin.conf")
                    .kubeconfig
                    .as_mut()
                    .unwrap()
                    .certificate_authority = Some(Ok(other));
            },
            &[("admin.conf", C::CaDataMismatch, Critical)],
        ),
        row(
            "admin.conf in system:masters",
            |inv| cert(inv, "admin.conf").groups = vec!["system:masters".into()],
            &[("admin.conf", C::AdminInSystemMasters, Warning)],
        ),
        row(
            "a subject kubeadm never writes",
            |inv| cert(inv, "apiserver-kubelet-client").common_name = "mallory".into(),
            &[("apiserver-kubelet-client", C::UnexpectedIdentity, Warning)],
        ),
        row(
            "an extra group on the scheduler",
            |inv| cert(inv, "scheduler.conf").groups = vec!["system:masters".into()],
            &[("scheduler.conf", C::UnexpectedIdentity, Warning)],
        ),
        // --- service account -------------------------------------------------
        row(
            "sa.key and sa.pub are not one pair",
            |inv| {
                if let Some(sa) = &mut inv.service_account
                    && let KeyState::Present { info, .. } = &mut sa.key
                {
                    info.public_key_raw[5] ^= 1;
                }
            },
            &[("sa", C::KeyMismatch, Critical)],
        ),
        row(
            "sa.pub absent",
            |inv| {
                inv.service_account.as_mut().unwrap().public = FileRead::Absent("sa.pub".into());
            },
            &[("sa", C::Missing, Critical)],
        ),
        row(
            "sa.key malformed",
            |inv| {
                inv.service_account.as_mut().unwrap().key = KeyState::Malformed {
                    path: "sa.key".into(),
                    reason: "bad".into(),
                };
            },
            &[("sa", C::Malformed, Critical)],
        ),
        // --- files the running user may not read -----------------------------
        row(
            "an unreadable kubeconfig is one unreadable finding, not malformed",
            |inv| {
                credential(inv, "admin.conf").state = State::Unreadable {
                    path: "admin.conf".into(),
                    also: Vec::new(),
                };
            },
            &[("kubecred", C::Unreadable, Warning)],
        ),
        row(
            "an unreadable key, sa pair and manifest are still one finding",
            |inv| {
                material(inv, "apiserver").key = KeyState::Unreadable("apiserver.key".into());
                let sa = inv.service_account.as_mut().unwrap();
                sa.key = KeyState::Unreadable("sa.key".into());
                sa.public = FileRead::Unreadable("sa.pub".into());
                inv.static_pods[0].state = FileRead::Unreadable("manifests/etcd.yaml".into());
            },
            &[("kubecred", C::Unreadable, Warning)],
        ),
        // --- admin copies ----------------------------------------------------
        row(
            "a copy of admin.conf's current certificate is fine",
            |inv| {
                let copy = admin_copy(inv, false);
                inv.copies.push(copy);
            },
            &[],
        ),
        row(
            "a copy of an older admin certificate is stale",
            |inv| {
                let copy = admin_copy(inv, true);
                inv.copies.push(copy);
            },
            &[("/root/.kube/config", C::StaleAdminCopy, Warning)],
        ),
    ]
}

/// A copy holding admin.conf's certificate, or (`older`) another one.
fn admin_copy(inventory: &mut Inventory, older: bool) -> Copy {
    let mut certificate = cert(inventory, "admin.conf").clone();
    if older {
        certificate.fingerprint = Fingerprint::of(b"an older certificate");
    }
    Copy {
        file: FileMeta {
            path: "/root/.kube/config".into(),
            mode: 0o600,
            uid: 0,
            gid: 0,
            symlink_target: None,
            sha256: None,
        },
        user: "kubernetes-admin".into(),
        certificate,
    }
}

#[test]
fn each_row_gives_exactly_its_findings() {
    let mut failures = Vec::new();
    for row in rows() {
        let mut inventory = clean().clone();
        (row.change)(&mut inventory);
        let found: Vec<(String, Code, Severity)> =
            evaluate(&inventory, (row.now)(), &row.thresholds)
                .into_iter()
                .map(|f| (f.credential, f.code, f.severity))
                .collect();
        let expected: Vec<(String, Code, Severity)> = row
            .expected
            .iter()
            .map(|(name, code, severity)| ((*name).to_owned(), *code, *severity))
            .collect();
        if found != expected {
            failures.push(format!(
                "{}:\n    found    {found:?}\n    expected {expected:?}",
                row.what
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_evaluate_can_give_is_in_the_table() {
    // The two `--online` codes come from the API check, not from `evaluate`.
    let online = [C::ApiUnreachable, C::ClusterAdminsBindingMissing];
    let covered: Vec<Code> = rows()
        .iter()
        .flat_map(|row| row.expected.iter().map(|(_, code, _)| *code))
        .collect();
    for code in [
        C::AdminInSystemMasters,
        C::CaDataMismatch,
        C::CaExpiresSoon,
        C::CaOutlived,
        C::Expired,
        C::ExpiresSoon,
        C::ExternalCa,
        C::InsecurePermissions,
        C::KeyMismatch,
        C::Malformed,
        C::Missing,
        C::NotSignedByCa,
        C::NotYetValid,
        C::StaleAdminCopy,
        C::SuperAdminAbsent,
        C::UnexpectedIdentity,
    ] {
        assert!(!online.contains(&code));
        assert!(covered.contains(&code), "no row gives {}", code.as_str());
    }
}

#[test]
fn findings_come_sorted_by_credential_then_code_and_worst_is_the_maximum() {
    let mut inventory = clean().clone();
    cert(&mut inventory, "scheduler.conf").not_after = NOW;
    cert(&mut inventory, "admin.conf").groups = vec!["system:masters".into()];
    material(&mut inventory, "scheduler.conf").file.mode = 0o644;
    let findings = evaluate(&inventory, NOW, &Thresholds::default());
    let order: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.credential.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("admin.conf", "admin-in-system-masters"),
            ("scheduler.conf", "expired"),
            ("scheduler.conf", "insecure-permissions"),
        ]
    );
    assert_eq!(worst(&findings), Some(Critical));
    assert_eq!(worst(&findings[..1]), Some(Warning));
    assert_eq!(worst(&[]), None);
    // Every message is one line naming what is wrong.
    for finding in &findings {
        assert!(!finding.message.contains('\n'), "{}", finding.message);
        assert!(!finding.remedy.is_empty());
    }
    assert!(
        findings[2]
            .message
            .contains("mode 0644 gives group and others access"),
        "{}",
        findings[2].message
    );
}

#[test]
fn the_leaves_share_one_not_after() {
    // The clock rows above rely on it.
    let end = not_after("apiserver");
    for name in ALL_LEAVES {
        assert_eq!(not_after(name), end, "{name}");
    }
}

#[test]
fn the_unreadable_finding_names_every_file_once_the_count_and_the_uid() {
    let mut inventory = clean().clone();
    let dir = inventory.kubernetes_dir.clone();
    inventory.reader_uid = 1000;
    credential(&mut inventory, "admin.conf").state = State::Unreadable {
        path: dir.join("admin.conf"),
        also: Vec::new(),
    };
    material(&mut inventory, "ca").key = KeyState::Unreadable(dir.join("pki/ca.key"));
    // The same file twice (a key shared by name) is counted once.
    material(&mut inventory, "apiserver").key = KeyState::Unreadable(dir.join("pki/ca.key"));
    let findings = evaluate(&inventory, NOW, &Thresholds::default());
    let unreadable: Vec<_> = findings
        .iter()
        .filter(|f| f.code == C::Unreadable)
        .collect();
    assert_eq!(unreadable.len(), 1, "{findings:#?}");
    assert_eq!(
        unreadable[0].message,
        "2 files cannot be read as uid 1000 (permission denied), so the check could not judge them: admin.conf, pki/ca.key"
    );
    assert!(
        unreadable[0]
            .remedy
            .contains("as root, or give it CAP_DAC_READ_SEARCH")
    );
    assert!(findings.iter().all(|f| f.code != C::Malformed));
    let report = crate::domain::report::Report::new(&inventory, NOW, Thresholds::default());
    assert_eq!(report.status(), crate::domain::report::Status::Unknown);
    assert_eq!(
        report.incomplete_summary().as_deref(),
        Some(
            "cannot read 2 files as uid 1000 (permission denied): run kubecred as root, or with CAP_DAC_READ_SEARCH for a read-only check"
        )
    );
    // Root without its capabilities is told to get them back, not to be root.
    inventory.reader_uid = 0;
    let report = crate::domain::report::Report::new(&inventory, NOW, Thresholds::default());
    assert!(
        report
            .incomplete_summary()
            .unwrap()
            .contains("as uid 0 without CAP_DAC_READ_SEARCH")
    );
    // A node with nothing unreadable is not incomplete.
    let report = crate::domain::report::Report::new(clean(), NOW, Thresholds::default());
    assert_eq!(report.incomplete_summary(), None);
    assert_ne!(report.status(), crate::domain::report::Status::Unknown);
}
