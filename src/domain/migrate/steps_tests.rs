//! Every step over a scripted `Api`: the preflight for each state of the
//! binding and each kind of failure, the binding created and read back, the
//! proof of the new admin.conf, and the order of the steps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::{Cell, RefCell};

use super::*;
use crate::domain::api::{FailureKind, Unreachable, UserInfo};
use crate::domain::binding::Subject;

/// An API server that answers as scripted and counts what it is asked.
struct FakeApi {
    /// What reading the binding answers before it is created.
    binding: Result<Option<Binding>, ApiFailure>,
    /// What reading it answers once created (default: kubeadm's).
    read_back: Result<Option<Binding>, ApiFailure>,
    create: Result<Created, ApiFailure>,
    review: Result<UserInfo, ApiFailure>,
    /// The access review allows `*` on `*` from this attempt on (1: the first); `None`: never.
    allowed_from: Option<usize>,
    /// The wait that answers `Deadline` (1: the first); `None`: never.
    deadline_at: Option<usize>,
    /// The wait that answers `Interrupted`; `None`: never.
    interrupted_at: Option<usize>,
    created: Cell<bool>,
    access_reviews: Cell<usize>,
    waits: RefCell<Vec<Duration>>,
}

impl Default for FakeApi {
    fn default() -> Self {
        Self {
            binding: Ok(Some(Binding::kubeadm())),
            read_back: Ok(Some(Binding::kubeadm())),
            create: Ok(Created::Created),
            review: Ok(user(&[KUBEADM_CLUSTER_ADMINS, "system:authenticated"])),
            allowed_from: Some(1),
            deadline_at: None,
            interrupted_at: None,
            created: Cell::new(false),
            access_reviews: Cell::new(0),
            waits: RefCell::new(Vec::new()),
        }
    }
}

impl Api for FakeApi {
    fn get_binding(&self, name: &str) -> Result<Option<Binding>, ApiFailure> {
        assert_eq!(name, BINDING);
        if self.created.get() {
            self.read_back.clone()
        } else {
            self.binding.clone()
        }
    }

    fn create_binding(&self, binding: &Binding) -> Result<Created, ApiFailure> {
        assert_eq!(*binding, Binding::kubeadm());
        self.created.set(self.create.is_ok());
        self.create.clone()
    }

    fn self_subject_review(&self) -> Result<UserInfo, ApiFailure> {
        self.review.clone()
    }

    fn may(&self, verb: &str, group: &str, resource: &str) -> Result<bool, ApiFailure> {
        assert_eq!((verb, group, resource), ("*", "*", "*"));
        let attempt = self.access_reviews.get() + 1;
        self.access_reviews.set(attempt);
        Ok(self.allowed_from.is_some_and(|from| attempt >= from))
    }

    fn wait(&self, time: Duration) -> Wait {
        self.waits.borrow_mut().push(time);
        let wait = self.waits.borrow().len();
        if self.interrupted_at == Some(wait) {
            return Wait::Interrupted;
        }
        if self.deadline_at == Some(wait) {
            return Wait::Deadline;
        }
        Wait::Again
    }
}

fn user(groups: &[&str]) -> UserInfo {
    UserInfo {
        username: "kubernetes-admin".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn failure(kind: FailureKind) -> ApiFailure {
    let message = match kind {
        FailureKind::Forbidden => "GET ...: HTTP 403 Forbidden: no",
        FailureKind::Identity => {
            "the API server at https://cp:6443 failed TLS verification: UnknownIssuer"
        }
        FailureKind::Interrupted => "interrupted while waiting for the API server",
        FailureKind::Other => "GET ...: HTTP 422 Invalid: no",
        FailureKind::Unauthorized => "GET ...: HTTP 401 Unauthorized: no",
        FailureKind::Unreachable(Unreachable::Dns) => {
            "the API server's host name `cp` (https://cp:6443) does not resolve: no"
        }
        FailureKind::Unreachable(Unreachable::Refused) => {
            "nothing listens at https://cp:6443: the connection was refused"
        }
        FailureKind::Unreachable(Unreachable::Timeout) => {
            "the API server at https://cp:6443 did not answer within 2s: timeout"
        }
    };
    ApiFailure::new(kind, message)
}

/// An API server whose every read of the binding answers `answer`.
fn reading(answer: Result<Option<Binding>, ApiFailure>) -> FakeApi {
    FakeApi {
        binding: answer,
        ..FakeApi::default()
    }
}

fn too_broad() -> Binding {
    let mut binding = Binding::kubeadm();
    binding.subjects.push(Subject {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: "Group".into(),
        name: "system:authenticated".into(),
    });
    binding
}

fn wrong() -> Binding {
    let mut binding = Binding::kubeadm();
    binding.role_ref.name = "view".into();
    binding
}

type Credential = (&'static str, Result<FakeApi, ApiFailure>);

fn admin(api: FakeApi) -> Credential {
    ("admin.conf", Ok(api))
}

fn super_admin(api: FakeApi) -> Credential {
    ("super-admin.conf", Ok(api))
}

/// The credentials, then a super-admin.conf that must not be asked with.
fn only(credentials: Vec<Credential>) -> impl Iterator<Item = Credential> {
    credentials
        .into_iter()
        .chain(std::iter::once_with(|| -> Credential {
            panic!("a credential was asked with after an answer")
        }))
}

// Step 1: the preflight.

#[test]
fn preflight_a_bound_binding_goes_on_without_asking_super_admin() {
    let found = preflight(only(vec![admin(FakeApi::default())]), None);
    assert_eq!(found, Ok(Preflight::Bound));
}

#[test]
fn preflight_a_missing_binding_goes_on_with_a_credential_to_create_it() {
    assert_eq!(
        preflight(only(vec![admin(reading(Ok(None)))]), Some("admin.conf")),
        Ok(Preflight::Unbound)
    );
    let stop = preflight(only(vec![admin(reading(Ok(None)))]), None).unwrap_err();
    assert_eq!(stop, Stop::NoCreator);
    assert_eq!(
        stop.to_string(),
        "the kubeadm:cluster-admins binding is missing and there is no system:masters credential (admin.conf or super-admin.conf) to create it"
    );
    assert!(!stop.hint().contains("--offline"));
}

#[test]
fn preflight_forbidden_asks_super_admin_next() {
    let forbidden = || reading(Err(failure(FailureKind::Forbidden)));
    // super-admin.conf sees the binding missing: created with it.
    let found = preflight(
        only(vec![admin(forbidden()), super_admin(reading(Ok(None)))]),
        Some("super-admin.conf"),
    );
    assert_eq!(found, Ok(Preflight::Unbound));
    // Forbidden to both (or no super-admin.conf): as missing.
    assert_eq!(
        preflight(
            vec![admin(forbidden()), super_admin(forbidden())],
            Some("super-admin.conf")
        ),
        Ok(Preflight::Unbound)
    );
    assert_eq!(
        preflight(vec![admin(forbidden())], None),
        Err(Stop::NoCreator)
    );
}

#[test]
fn preflight_a_wrong_binding_stops_and_is_printed() {
    let stop = preflight(vec![admin(reading(Ok(Some(wrong()))))], Some("admin.conf")).unwrap_err();
    assert_eq!(stop, Stop::Wrong(wrong()));
    let message = stop.to_string();
    assert!(
        message.starts_with(
            "the kubeadm:cluster-admins binding exists but differs from kubeadm's: has {"
        ),
        "{message}"
    );
    assert!(message.contains(r#""name":"view""#), "{message}");
    assert_eq!(
        stop.hint(),
        "fix or delete the binding first; nothing was changed"
    );
}

#[test]
fn preflight_a_too_broad_binding_stops_and_names_the_extra_subjects() {
    let stop = preflight(
        vec![admin(reading(Ok(Some(too_broad()))))],
        Some("admin.conf"),
    )
    .unwrap_err();
    assert_eq!(stop, Stop::TooBroad(too_broad()));
    let message = stop.to_string();
    assert!(
        message.contains("also grants cluster-admin to Group/system:authenticated"),
        "{message}"
    );
    assert!(
        message.contains(r#""name":"system:authenticated""#),
        "{message}"
    );
    assert!(!stop.hint().contains("--offline"));
}

#[test]
fn preflight_admin_refused_super_admin_accepted_still_stops() {
    let refused = || reading(Err(failure(FailureKind::Unauthorized)));
    for answer in [
        Ok(Some(Binding::kubeadm())),
        Ok(None),
        Err(failure(FailureKind::Forbidden)),
    ] {
        let stop = preflight(
            vec![admin(refused()), super_admin(reading(answer.clone()))],
            Some("super-admin.conf"),
        )
        .unwrap_err();
        assert_eq!(
            stop,
            Stop::AdminRefused(SuperAdminAnswer::Accepted),
            "{answer:?}"
        );
        assert!(
            stop.to_string()
                .contains("does not accept admin.conf (401 Unauthorized"),
            "{stop}"
        );
        assert!(
            stop.to_string().contains("super-admin.conf is accepted"),
            "{stop}"
        );
        assert!(!stop.hint().contains("--offline"));
    }
}

#[test]
fn preflight_admin_refused_super_admin_refused_stops() {
    let refused = || reading(Err(failure(FailureKind::Unauthorized)));
    let stop = preflight(vec![admin(refused()), super_admin(refused())], None).unwrap_err();
    assert_eq!(stop, Stop::AdminRefused(SuperAdminAnswer::Refused));
    assert!(
        stop.to_string().starts_with(
            "the API server accepts neither admin.conf nor super-admin.conf (401 Unauthorized"
        ),
        "{stop}"
    );
}

#[test]
fn preflight_admin_refused_without_super_admin_stops() {
    let refused = reading(Err(failure(FailureKind::Unauthorized)));
    let stop = preflight(vec![admin(refused)], None).unwrap_err();
    assert_eq!(stop, Stop::AdminRefused(SuperAdminAnswer::Absent));
    assert!(
        stop.to_string()
            .ends_with("and there is no super-admin.conf to try"),
        "{stop}"
    );
}

#[test]
fn preflight_admin_refused_super_admin_failing_says_why() {
    let refused = reading(Err(failure(FailureKind::Unauthorized)));
    for kind in [
        FailureKind::Identity,
        FailureKind::Unreachable(Unreachable::Timeout),
    ] {
        let stop = preflight(
            vec![
                admin(reading(Err(failure(FailureKind::Unauthorized)))),
                super_admin(reading(Err(failure(kind)))),
            ],
            None,
        )
        .unwrap_err();
        assert_eq!(
            stop,
            Stop::AdminRefused(SuperAdminAnswer::Failed(failure(kind).message)),
            "{kind:?}"
        );
        assert!(
            stop.to_string()
                .contains("super-admin.conf could not ask either: ")
        );
        assert!(!stop.hint().contains("--offline"), "{kind:?}");
    }
    // A super-admin.conf that cannot even be made into a client.
    let unusable = ApiFailure::new(
        FailureKind::Other,
        "cannot use super-admin.conf for TLS: no client key",
    );
    let stop = preflight(
        vec![admin(refused), ("super-admin.conf", Err(unusable.clone()))],
        None,
    )
    .unwrap_err();
    assert_eq!(
        stop,
        Stop::AdminRefused(SuperAdminAnswer::Failed(unusable.message))
    );
}

#[test]
fn preflight_tls_failure_stops_without_suggesting_offline() {
    let tls = failure(FailureKind::Identity);
    let stop = preflight(
        only(vec![admin(reading(Err(tls.clone())))]),
        Some("admin.conf"),
    )
    .unwrap_err();
    assert_eq!(stop, Stop::Failed(tls.message.clone()));
    assert_eq!(
        stop.to_string(),
        format!("the API server could not be asked: {}", tls.message)
    );
    assert!(!stop.hint().contains("--offline"));
}

#[test]
fn preflight_only_unreachability_suggests_offline() {
    for reach in [Unreachable::Dns, Unreachable::Refused, Unreachable::Timeout] {
        let down = failure(FailureKind::Unreachable(reach));
        let stop = preflight(
            only(vec![admin(reading(Err(down.clone())))]),
            Some("admin.conf"),
        )
        .unwrap_err();
        assert_eq!(stop, Stop::Unreachable(down.message.clone()), "{reach:?}");
        assert_eq!(
            stop.to_string(),
            format!("cannot reach the API server: {}", down.message)
        );
        assert!(stop.hint().contains("--offline"), "{reach:?}");
    }
    for kind in [FailureKind::Other, FailureKind::Interrupted] {
        let stop =
            preflight(vec![admin(reading(Err(failure(kind))))], Some("admin.conf")).unwrap_err();
        assert!(matches!(stop, Stop::Failed(_)), "{kind:?}: {stop:?}");
        assert!(!stop.hint().contains("--offline"), "{kind:?}");
    }
}

#[test]
fn every_stop_says_something_different() {
    let stops = [
        Stop::AdminRefused(SuperAdminAnswer::Absent),
        Stop::AdminRefused(SuperAdminAnswer::Accepted),
        Stop::AdminRefused(SuperAdminAnswer::Failed("x".into())),
        Stop::AdminRefused(SuperAdminAnswer::Refused),
        Stop::Failed("x".into()),
        Stop::NoCreator,
        Stop::TooBroad(too_broad()),
        Stop::Unreachable("x".into()),
        Stop::Wrong(wrong()),
    ];
    let mut messages: Vec<String> = stops.iter().map(ToString::to_string).collect();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), stops.len(), "{messages:#?}");
    for stop in &stops {
        assert!(stop.hint().contains("nothing was changed"), "{stop:?}");
    }
}

// Step 3: the binding.

#[test]
fn bind_creates_and_reads_back_kubeadms_binding() {
    assert_eq!(bind(&reading(Ok(None))), Ok(Created::Created));
    let existing = FakeApi {
        create: Ok(Created::AlreadyExists),
        ..FakeApi::default()
    };
    assert_eq!(bind(&existing), Ok(Created::AlreadyExists));
}

#[test]
fn bind_a_failed_create_is_an_error() {
    let api = FakeApi {
        create: Err(failure(FailureKind::Forbidden)),
        ..FakeApi::default()
    };
    let err = bind(&api).unwrap_err();
    assert_eq!(err, StepError::Create(failure(FailureKind::Forbidden)));
    assert!(
        err.to_string()
            .starts_with("creating the kubeadm:cluster-admins binding failed: "),
        "{err}"
    );
}

#[test]
fn bind_a_read_back_that_differs_is_an_error() {
    for (read_back, expected) in [
        (too_broad(), StepError::Differs(too_broad())),
        (wrong(), StepError::Differs(wrong())),
    ] {
        let api = FakeApi {
            read_back: Ok(Some(read_back)),
            ..FakeApi::default()
        };
        let err = bind(&api).unwrap_err();
        assert_eq!(err, expected);
        assert!(
            err.to_string().starts_with(
                "the kubeadm:cluster-admins binding differs from kubeadm's after creation: {"
            ),
            "{err}"
        );
    }
}

#[test]
fn bind_a_read_back_that_is_missing_or_fails_is_an_error() {
    let api = FakeApi {
        read_back: Ok(None),
        ..FakeApi::default()
    };
    assert_eq!(bind(&api), Err(StepError::Vanished));
    assert_eq!(
        StepError::Vanished.to_string(),
        "the kubeadm:cluster-admins binding is not there after creation"
    );
    let down = failure(FailureKind::Unreachable(Unreachable::Timeout));
    let api = FakeApi {
        read_back: Err(down.clone()),
        ..FakeApi::default()
    };
    let err = bind(&api).unwrap_err();
    assert_eq!(err, StepError::ReadBack(down));
    assert!(
        err.to_string()
            .starts_with("reading the kubeadm:cluster-admins binding back failed: ")
    );
}

// Step 5: the proof of the new admin.conf.

#[test]
fn prove_returns_the_groups_the_api_server_sees() {
    let api = FakeApi::default();
    assert_eq!(
        prove(&api),
        Ok(vec![
            KUBEADM_CLUSTER_ADMINS.to_owned(),
            "system:authenticated".to_owned()
        ])
    );
    assert_eq!(api.access_reviews.get(), 1);
    assert!(api.waits.borrow().is_empty());
}

#[test]
fn prove_wrong_groups_fail_before_any_access_review() {
    for groups in [
        &["system:authenticated"][..],
        &[KUBEADM_CLUSTER_ADMINS, SYSTEM_MASTERS][..],
    ] {
        let api = FakeApi {
            review: Ok(user(groups)),
            ..FakeApi::default()
        };
        let err = prove(&api).unwrap_err();
        assert_eq!(err, StepError::Groups(user(groups).groups));
        assert_eq!(
            err.to_string(),
            format!(
                "the new admin.conf failed verification: the API server sees groups [{}]",
                groups.join(", ")
            )
        );
        assert_eq!(api.access_reviews.get(), 0, "{groups:?}");
    }
}

#[test]
fn prove_a_failed_review_is_an_error() {
    let api = FakeApi {
        review: Err(failure(FailureKind::Unauthorized)),
        ..FakeApi::default()
    };
    let err = prove(&api).unwrap_err();
    assert_eq!(err, StepError::Review(failure(FailureKind::Unauthorized)));
    assert!(
        err.to_string()
            .starts_with("the new admin.conf failed verification: SelfSubjectReview: "),
        "{err}"
    );
}

#[test]
fn prove_allowed_after_some_attempts_waits_between_them() {
    let api = FakeApi {
        allowed_from: Some(4),
        ..FakeApi::default()
    };
    assert!(prove(&api).is_ok());
    assert_eq!(api.access_reviews.get(), 4);
    assert_eq!(*api.waits.borrow(), [RETRY_EVERY; 3]);
}

#[test]
fn prove_denied_until_the_deadline_fails() {
    let api = FakeApi {
        allowed_from: None,
        deadline_at: Some(5),
        ..FakeApi::default()
    };
    let err = prove(&api).unwrap_err();
    assert_eq!(err, StepError::Denied);
    assert_eq!(
        err.to_string(),
        "the new admin.conf failed verification: it may not do `*` on `*` (is the binding effective?)"
    );
    assert_eq!(api.access_reviews.get(), 5);
    assert_eq!(api.waits.borrow().len(), 5);
}

#[test]
fn prove_interrupted_while_waiting_stops() {
    let api = FakeApi {
        allowed_from: None,
        interrupted_at: Some(2),
        deadline_at: Some(10),
        ..FakeApi::default()
    };
    let err = prove(&api).unwrap_err();
    assert_eq!(err, StepError::Interrupted);
    assert_eq!(err.to_string(), "interrupted (SIGINT or SIGTERM)");
    assert_eq!(api.access_reviews.get(), 2);
}

// The order of the steps.

#[test]
fn the_binding_comes_first_and_the_proof_right_before_admin_conf() {
    let super_admin = Path::new("/k/super-admin.conf");
    let admin = Path::new("/k/admin.conf");
    let copy = Path::new("/root/.kube/config");
    let writes = [super_admin, admin, copy];
    let order = |bind, prove_before| sequence(bind, prove_before, writes, |path| *path);
    assert_eq!(
        order(true, Some(admin)),
        [
            Step::Bind,
            Step::Write(super_admin),
            Step::Prove,
            Step::Write(admin),
            Step::Write(copy)
        ]
    );
    // A joined node: no credential to bind with, the binding exists.
    assert_eq!(
        order(false, Some(admin)),
        [
            Step::Write(super_admin),
            Step::Prove,
            Step::Write(admin),
            Step::Write(copy)
        ]
    );
    // Offline, or admin.conf kept: nothing to prove.
    assert_eq!(
        order(false, None),
        [
            Step::Write(super_admin),
            Step::Write(admin),
            Step::Write(copy)
        ]
    );
}
