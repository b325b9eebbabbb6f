//! Table-driven tests of `plan`: the three admin layouts a node can be in,
//! each super-admin target, and the inventories it must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::domain::plan::Files;
use std::sync::OnceLock;

use time::macros::datetime;

use super::*;
use crate::domain::cert::Fingerprint;
use crate::domain::demo::{AdminLayout, HostSpec};
use crate::domain::model::{Copy, FileMeta, Scope};

const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

/// A node of `layout` generated at `NOW` and scanned, once per layout (the
/// files go once scanned: `plan` reads none, but for `--super-admin-out`).
fn inventory(layout: AdminLayout) -> Inventory {
    static NODES: OnceLock<Vec<(AdminLayout, Inventory)>> = OnceLock::new();
    let nodes = NODES.get_or_init(|| {
        [
            AdminLayout::Pre129,
            AdminLayout::Init129,
            AdminLayout::Joined129,
        ]
        .into_iter()
        .map(|layout| {
            let dir = tempfile::tempdir().unwrap();
            let spec = HostSpec::new(NOW, KeyAlgorithm::EcdsaP256, layout);
            crate::edge::apply::tree::write(
                dir.path(),
                &crate::domain::demo::generate(&spec).unwrap(),
            )
            .unwrap();
            let inventory = Inventory::scan(&Scope {
                kubernetes_dir: dir.path().to_path_buf(),
                cert_dir: dir.path().join("pki"),
                copies: vec![],
                expected_owner: 0,
            });
            (layout, inventory)
        })
        .collect()
    });
    nodes
        .iter()
        .find(|(l, _)| *l == layout)
        .map(|(_, inventory)| inventory.clone())
        .unwrap()
}

fn options(super_admin: SuperAdminTarget) -> Options {
    Options {
        super_admin,
        update_copies: false,
        validity: Duration::days(365),
        trust_clock: false,
    }
}

/// What a plan must say, in short.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    reissue_admin: bool,
    super_admin: SuperAdmin,
    binding_via: Option<String>,
}

fn shape(plan: &Plan) -> Shape {
    Shape {
        reissue_admin: plan.reissue_admin,
        super_admin: plan.super_admin.clone(),
        binding_via: plan.binding_via.as_ref().map(|(name, _)| name.clone()),
    }
}

#[test]
fn each_layout_and_target_gives_its_plan() {
    let default_super = |layout| inventory(layout).kubernetes_dir.join("super-admin.conf");
    let out = PathBuf::from("/nonexistent/vault/cluster-a-super-admin.conf");
    let rows: Vec<(&str, AdminLayout, SuperAdminTarget, Shape)> = vec![
        (
            "a 1.28 node: reissue admin.conf, write super-admin.conf, bind with the old admin.conf",
            AdminLayout::Pre129,
            SuperAdminTarget::Default,
            Shape {
                reissue_admin: true,
                super_admin: SuperAdmin::Write(default_super(AdminLayout::Pre129)),
                binding_via: Some("admin.conf".into()),
            },
        ),
        (
            "a 1.28 node, --no-super-admin",
            AdminLayout::Pre129,
            SuperAdminTarget::Skip,
            Shape {
                reissue_admin: true,
                super_admin: SuperAdmin::Skip,
                binding_via: Some("admin.conf".into()),
            },
        ),
        (
            "a 1.28 node, --super-admin-out",
            AdminLayout::Pre129,
            SuperAdminTarget::Out(out.clone()),
            Shape {
                reissue_admin: true,
                super_admin: SuperAdmin::Write(out.clone()),
                binding_via: Some("admin.conf".into()),
            },
        ),
        (
            "an init node of 1.29: nothing to reissue, super-admin.conf kept and used to bind",
            AdminLayout::Init129,
            SuperAdminTarget::Default,
            Shape {
                reissue_admin: false,
                super_admin: SuperAdmin::Existing(default_super(AdminLayout::Init129)),
                binding_via: Some("super-admin.conf".into()),
            },
        ),
        (
            "an init node of 1.29, --super-admin-out writes another one off the node",
            AdminLayout::Init129,
            SuperAdminTarget::Out(out.clone()),
            Shape {
                reissue_admin: false,
                super_admin: SuperAdmin::Write(out.clone()),
                binding_via: Some("super-admin.conf".into()),
            },
        ),
        (
            "a joined node of 1.29: no system:masters credential to bind with",
            AdminLayout::Joined129,
            SuperAdminTarget::Default,
            Shape {
                reissue_admin: false,
                super_admin: SuperAdmin::Write(default_super(AdminLayout::Joined129)),
                binding_via: None,
            },
        ),
    ];
    let mut failures = Vec::new();
    for (what, layout, target, expected) in rows {
        let inventory = inventory(layout);
        match plan(
            &inventory,
            &crate::edge::inventory::Host::new(&inventory),
            &options(target),
            NOW,
        ) {
            Ok(plan) if shape(&plan) == expected => {}
            Ok(plan) => failures.push(format!(
                "{what}:\n    got      {:?}\n    expected {expected:?}",
                shape(&plan)
            )),
            Err(err) => failures.push(format!("{what}: refused ({err})")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_new_certificates_are_dated_from_now_and_capped_at_the_ca() {
    let inv = inventory(AdminLayout::Pre129);
    let ca_end = inv.material("ca").unwrap().certificate.not_after;
    let with_nanos = NOW + Duration::nanoseconds(999_999_999);
    let plan = plan(
        &inv,
        &Files::default(),
        &options(SuperAdminTarget::Default),
        with_nanos,
    )
    .unwrap();
    assert_eq!(plan.not_before, NOW - Duration::minutes(5), "whole seconds");
    assert_eq!(plan.not_after, NOW + Duration::days(365));
    assert_eq!(plan.key, KeyAlgorithm::EcdsaP256, "admin.conf's algorithm");
    assert_eq!(plan.old_admin.groups, [SYSTEM_MASTERS]);
    for (validity, expected) in [
        (
            ca_end - NOW - Duration::seconds(1),
            ca_end - Duration::seconds(1),
        ),
        (ca_end - NOW, ca_end),
        (ca_end - NOW + Duration::seconds(1), ca_end),
        (Duration::days(20 * 365), ca_end),
    ] {
        let options = Options {
            validity,
            ..options(SuperAdminTarget::Default)
        };
        assert_eq!(
            super::plan(&inv, &Files::default(), &options, NOW)
                .unwrap()
                .not_after,
            expected,
            "validity {validity}"
        );
    }
}

#[test]
fn paths_are_every_file_the_migration_may_write() {
    let inv = inventory(AdminLayout::Pre129);
    let admin = inv.kubernetes_dir.join("admin.conf");
    let super_admin = inv.kubernetes_dir.join("super-admin.conf");
    let plan_for = |target, update_copies, copies: Vec<Copy>| {
        let mut inv = inv.clone();
        inv.copies = copies;
        let options = Options {
            update_copies,
            ..options(target)
        };
        plan(&inv, &Files::default(), &options, NOW).unwrap()
    };
    assert_eq!(
        plan_for(SuperAdminTarget::Default, false, vec![]).paths(),
        [super_admin.clone(), admin.clone()]
    );
    assert_eq!(
        plan_for(SuperAdminTarget::Skip, false, vec![]).paths(),
        std::slice::from_ref(&admin)
    );
    let copy = copy_of(&inv, "/home/alice/.kube/config", None);
    let with_copy = plan_for(SuperAdminTarget::Skip, false, vec![copy.clone()]);
    assert_eq!(with_copy.copies.len(), 1, "found");
    assert_eq!(
        with_copy.paths(),
        std::slice::from_ref(&admin),
        "but not rewritten"
    );
    assert_eq!(
        plan_for(SuperAdminTarget::Skip, true, vec![copy]).paths(),
        [admin, PathBuf::from("/home/alice/.kube/config")],
        "--update-copies rewrites it"
    );
    // A joined 1.29 node: admin.conf is not reissued, only super-admin.conf written.
    let joined = inventory(AdminLayout::Joined129);
    assert_eq!(
        plan(
            &joined,
            &Files::default(),
            &options(SuperAdminTarget::Default),
            NOW
        )
        .unwrap()
        .paths(),
        [joined.kubernetes_dir.join("super-admin.conf")]
    );
}

/// A copy of admin.conf's certificate at `path`, with another CN if given.
fn copy_of(inv: &Inventory, path: &str, common_name: Option<&str>) -> Copy {
    let mut certificate = inv.material("admin.conf").unwrap().certificate.clone();
    if let Some(cn) = common_name {
        certificate.common_name = cn.into();
        certificate.fingerprint = Fingerprint::of(cn.as_bytes());
    }
    Copy {
        file: FileMeta {
            path: path.into(),
            mode: 0o600,
            uid: 1000,
            gid: 1000,
            symlink_target: None,
            sha256: None,
        },
        user: "kubernetes-admin".into(),
        certificate,
    }
}

#[test]
fn copies_are_those_of_the_admin_identity_that_will_be_stale() {
    // On a 1.28 node admin.conf is reissued: even a copy of its current
    // certificate goes stale. A copy of another identity is none of ours.
    let mut inv = inventory(AdminLayout::Pre129);
    inv.copies = vec![
        copy_of(&inv, "/root/.kube/config", None),
        copy_of(&inv, "/home/bob/.kube/config", Some("bob")),
    ];
    let planned = plan(
        &inv,
        &Files::default(),
        &options(SuperAdminTarget::Default),
        NOW,
    )
    .unwrap();
    assert_eq!(
        planned.copies,
        [CopyRef {
            path: "/root/.kube/config".into(),
            user: "kubernetes-admin".into()
        }]
    );
    // On a 1.29 node admin.conf stays: a copy of its current certificate is
    // current; one of an older certificate of the same identity is stale.
    let mut inv = inventory(AdminLayout::Joined129);
    let mut older = copy_of(&inv, "/home/alice/.kube/config", None);
    older.certificate.fingerprint = Fingerprint::of(b"an older admin certificate");
    inv.copies = vec![copy_of(&inv, "/root/.kube/config", None), older];
    let planned = plan(
        &inv,
        &Files::default(),
        &options(SuperAdminTarget::Skip),
        NOW,
    )
    .unwrap();
    assert_eq!(
        planned.copies,
        [CopyRef {
            path: "/home/alice/.kube/config".into(),
            user: "kubernetes-admin".into()
        }]
    );
}

/// A refusal row: what, the change, the target, the message's start, the file named.
type Refusal = (
    &'static str,
    Box<dyn Fn(&mut Inventory)>,
    SuperAdminTarget,
    &'static str,
    PathBuf,
);

fn set_state(inv: &mut Inventory, name: &str, state: State) {
    inv.credentials
        .iter_mut()
        .find(|cred| cred.name == name)
        .unwrap()
        .state = state;
}

#[test]
fn what_cannot_be_migrated_is_refused_naming_the_file() {
    let base = inventory(AdminLayout::Pre129);
    let dir = base.kubernetes_dir.clone();
    let existing_out = PathBuf::from("/media/vault/cluster-a-super-admin.conf");
    let rows: Vec<Refusal> = vec![
        (
            "admin.conf absent",
            Box::new(|inv| set_state(inv, "admin.conf", State::Absent { expected: true })),
            SuperAdminTarget::Default,
            "admin.conf is absent",
            dir.join("admin.conf"),
        ),
        (
            "admin.conf malformed",
            Box::new(|inv| {
                set_state(
                    inv,
                    "admin.conf",
                    State::Malformed {
                        path: "/x/admin.conf".into(),
                        reason: "not YAML".into(),
                    },
                );
            }),
            SuperAdminTarget::Default,
            "admin.conf is malformed: not YAML",
            "/x/admin.conf".into(),
        ),
        (
            "ca.crt unreadable",
            Box::new(|inv| {
                set_state(
                    inv,
                    "ca",
                    State::Malformed {
                        path: "/x/ca.crt".into(),
                        reason: "bad".into(),
                    },
                );
            }),
            SuperAdminTarget::Default,
            "ca.crt is absent or malformed",
            dir.join("pki/ca.crt"),
        ),
        (
            "an external CA (no ca.key)",
            Box::new(|inv| {
                let cred = inv.credentials.iter_mut().find(|c| c.name == "ca").unwrap();
                if let State::Present(material) = &mut cred.state {
                    material.key = KeyState::Absent("ca.key".into());
                }
            }),
            SuperAdminTarget::Default,
            "ca.key is absent (external CA)",
            dir.join("pki/ca.key"),
        ),
        (
            "--super-admin-out over an existing file",
            Box::new(|_| {}),
            SuperAdminTarget::Out(existing_out.clone()),
            "refusing to overwrite an existing file",
            existing_out.clone(),
        ),
    ];
    // The source, not the disk, says what exists: the planner never looks.
    let source = Files([(existing_out.clone(), b"taken".to_vec())].into());
    let mut failures = Vec::new();
    for (what, change, target, message, path) in rows {
        let mut inv = base.clone();
        change(&mut inv);
        match plan(&inv, &source, &options(target), NOW) {
            Err(err) if err.message.starts_with(message) && err.path == path => {}
            Err(err) => failures.push(format!(
                "{what}: {:?} ({}), expected {message:?} ({})",
                err.message,
                err.path.display(),
                path.display()
            )),
            Ok(plan) => failures.push(format!("{what}: planned {:?}", shape(&plan))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
