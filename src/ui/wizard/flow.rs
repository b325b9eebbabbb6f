//! The wizard as a pure state machine: (step, answer) → next step. No
//! terminal, no files: the facts come in, an intent comes out.

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::domain::span::{self, date};

/// What the wizard knows of the node, gathered before the first screen.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The kubernetes dir.
    pub kubernetes_dir: PathBuf,
    /// admin.conf's groups, if readable.
    pub admin_groups: Option<Vec<String>>,
    /// super-admin.conf's path, if present.
    pub super_admin: Option<PathBuf>,
    /// Renewable certificates and their not-after, soonest first.
    pub expiries: Vec<(String, OffsetDateTime)>,
    /// The time the facts were gathered at.
    pub now: Option<OffsetDateTime>,
    /// Stale admin copies found.
    pub stale_copies: Vec<PathBuf>,
    /// The copies of admin.conf's credential (current or stale): what a
    /// renewal of admin.conf leaves stale unless it updates them.
    pub admin_copies: Vec<PathBuf>,
    /// What the API server said of the binding (`None`: not asked).
    pub binding: Option<Binding>,
    /// Backup ids, oldest first.
    pub backups: Vec<String>,
    /// What the running components use (`None`: not probed, or no static pod manifests).
    pub running: Option<Running>,
    /// `check`'s warning threshold, the window the opening screen counts
    /// expiries in (`None`: the default, 30 days).
    pub warn: Option<Duration>,
    /// The renewal window offered (`None`: the default, 30 days).
    pub renew_within: Option<Duration>,
    /// The new certificates' validity offered (`None`: kubeadm's, 1 year).
    pub renew_validity: Option<Duration>,
}

/// What the running control-plane components use, as far as the wizard tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Running {
    /// How many credentials a component uses as they are on disk.
    pub in_use: usize,
    /// Credentials a component must restart to load: (credential, component).
    pub stale: Vec<(String, String)>,
    /// Components whose manifest is there but that do not run.
    pub not_running: Vec<String>,
    /// How many credentials kubecred cannot tell about.
    pub unknown: usize,
}

/// What arrives after the node's files are shown: the API server's answer
/// about the binding and the running components' (both may take a while).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// The binding (`None`: not asked).
    pub binding: Option<Binding>,
    /// The running components (`None`: not probed).
    pub running: Option<Running>,
}

/// The binding, as far as the wizard needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Present and granting cluster-admin.
    Bound,
    /// Missing (or Forbidden without a system:masters credential).
    Missing,
    /// Present but granting something else, or more subjects than kubeadm's group.
    Wrong,
    /// The API server could not be reached: the only case for an offline migration.
    Unreachable(String),
    /// The API server answered but could not be asked (TLS verification
    /// failed, admin.conf was refused): migrating offline would not help.
    Failed(String),
}

impl Facts {
    /// The renewal window the prompt offers: the configured one, else 30d.
    pub fn renew_window(&self) -> String {
        self.renew_within
            .map_or_else(|| DEFAULT_WINDOW.to_owned(), span::exact)
    }

    /// The validity the prompt offers: the configured one, else kubeadm's.
    pub fn renew_validity(&self) -> String {
        self.renew_validity
            .map_or_else(|| DEFAULT_VALIDITY.to_owned(), span::exact)
    }

    /// Whether admin.conf is still in `system:masters`.
    pub fn admin_in_masters(&self) -> bool {
        self.admin_groups.as_ref().is_some_and(|groups| {
            groups
                .iter()
                .any(|g| g == crate::domain::layout::SYSTEM_MASTERS)
        })
    }

    /// Whether the API server answered.
    pub fn api_reachable(&self) -> bool {
        matches!(
            self.binding,
            Some(Binding::Bound | Binding::Missing | Binding::Wrong)
        )
    }

    /// Renewable certificates expiring within `window`.
    pub fn due_within(&self, window: Duration) -> Vec<&(String, OffsetDateTime)> {
        let Some(now) = self.now else {
            return Vec::new();
        };
        self.expiries
            .iter()
            .filter(|(_, not_after)| now.checked_add(window).is_none_or(|due| *not_after <= due))
            .collect()
    }

    /// The opening screen: the node in plain words, one line of meaning each.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = self.describe_node();
        lines.push(self.describe_binding());
        lines
    }

    /// The opening screen but the binding's line: what the node's files say.
    pub fn describe_node(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let in_masters = self.admin_in_masters();
        lines.push(match (&self.super_admin, in_masters) {
            (Some(_), _) => "Role: likely the node where `kubeadm init` ran — it has super-admin.conf, which `kubeadm join` never writes.".into(),
            (None, false) => "Role: likely a node joined with `kubeadm join --control-plane` — admin.conf is split and there is no super-admin.conf.".into(),
            (None, true) => "Role: a pre-1.29 layout (init or joined cannot be told apart): admin.conf in system:masters, no super-admin.conf.".into(),
        });
        lines.push(match &self.admin_groups {
            Some(groups) if in_masters => format!(
                "admin.conf: group {} — it bypasses RBAC and can never be revoked; migrating moves it to kubeadm:cluster-admins.",
                groups.join(",")
            ),
            Some(groups) => format!("admin.conf: group {} — revocable, through the kubeadm:cluster-admins binding.", crate::ui::render::text::printable(&groups.join(","))),
            None => "admin.conf: unreadable — run `kubecred check` to see why.".into(),
        });
        lines.push(match &self.super_admin {
            Some(path) => format!("super-admin.conf: present at {} — the break-glass credential (system:masters); keep it out of daily use, ideally off the node.", crate::ui::render::text::path(path)),
            None => "super-admin.conf: absent — break-glass access then needs a system:masters credential from elsewhere.".into(),
        });
        let warn = self.warn.unwrap_or(Duration::days(30));
        let window = within(warn);
        let due = self.due_within(warn);
        lines.push(match (due.first(), self.expiries.first()) {
            (Some((name, not_after)), _) => format!(
                "Certificates: {} expire within {window}, first {name} on {} — renew before then, or the control plane stops.",
                due.len(),
                date(*not_after)
            ),
            (None, Some((name, not_after))) => format!("Certificates: none expire within {window}; the first is {name}, on {}.", date(*not_after)),
            (None, None) => "Certificates: none renewable found.".into(),
        });
        if self.stale_copies.is_empty() {
            lines.push("Copies: no stale admin credential in ~/.kube/config files.".into());
        } else {
            let list: Vec<String> = self
                .stale_copies
                .iter()
                .map(|p| crate::ui::render::text::path(p))
                .collect();
            lines.push(format!(
                "Copies: {} hold an old or system:masters admin credential — it stays valid until it expires.",
                list.join(", ")
            ));
        }
        lines
    }

    /// The running components' line, when they were probed.
    pub fn describe_running(&self) -> Option<String> {
        let running = self.running.as_ref()?;
        let mut parts = vec![format!(
            "Running components: {} credential(s) in use as on disk",
            running.in_use
        )];
        if !running.stale.is_empty() {
            let stale: Vec<String> = running
                .stale
                .iter()
                .map(|(credential, component)| format!("{credential} ({component})"))
                .collect();
            parts.push(format!(
                "stale: {} — restart the component to load the file on disk",
                stale.join(", ")
            ));
        }
        if !running.not_running.is_empty() {
            parts.push(format!("not running: {}", running.not_running.join(", ")));
        }
        if running.unknown > 0 {
            parts.push(format!(
                "{} unknown (`kubecred check --live` says why)",
                running.unknown
            ));
        }
        let line = format!("{}.", parts.join("; "));
        Some(crate::ui::render::text::printable(&line).into_owned())
    }

    /// The binding's line: what the API server said.
    pub fn describe_binding(&self) -> String {
        match &self.binding {
            Some(Binding::Bound) => "Binding kubeadm:cluster-admins: present, grants cluster-admin.".into(),
            Some(Binding::Missing) => "Binding kubeadm:cluster-admins: missing — a split admin.conf is Forbidden until it exists.".into(),
            Some(Binding::Wrong) => "Binding kubeadm:cluster-admins: present but not kubeadm's (another role, or more subjects than the group) — fix it by hand first.".into(),
            Some(Binding::Unreachable(why)) => format!("Binding kubeadm:cluster-admins: unknown, the API server could not be reached ({why})."),
            Some(Binding::Failed(why)) => format!("Binding kubeadm:cluster-admins: unknown, the API server could not be asked ({why}) — fix that first; migrating offline would not help."),
            None => "Binding kubeadm:cluster-admins: not asked.".into(),
        }
    }
}

/// An action the wizard offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Migrate, verified against the API server.
    Migrate,
    /// Migrate offline.
    MigrateOffline,
    /// Renew what is due.
    Renew,
    /// Rewrite stale copies with admin.conf's credential.
    UpdateCopies,
    /// Move super-admin.conf off the node.
    MoveSuperAdmin,
    /// Restore an earlier backup.
    Rollback,
    /// Leave.
    Quit,
}

impl Offer {
    /// The menu line.
    pub fn label(self) -> &'static str {
        match self {
            Self::Migrate => {
                "Migrate to the admin.conf / super-admin.conf split (verified against the API server)"
            }
            Self::MigrateOffline => {
                "Migrate offline (the API server does not answer: the new admin.conf stays unverified until the binding is applied)"
            }
            Self::Renew => "Renew the certificates that are due",
            Self::UpdateCopies => "Update the stale copies with admin.conf's current credential",
            Self::MoveSuperAdmin => "Move super-admin.conf off the node",
            Self::Rollback => "Roll back an earlier backup",
            Self::Quit => "Quit (change nothing)",
        }
    }
}

/// What applies to this node, Quit last.
pub fn offers(facts: &Facts) -> Vec<Offer> {
    let mut offers = Vec::new();
    let needs_migration = facts.admin_in_masters() || facts.binding == Some(Binding::Missing);
    match &facts.binding {
        _ if !needs_migration => {}
        Some(Binding::Bound | Binding::Missing) => offers.push(Offer::Migrate),
        Some(Binding::Unreachable(_)) | None => offers.push(Offer::MigrateOffline),
        Some(Binding::Wrong | Binding::Failed(_)) => {}
    }
    if !facts.due_within(Duration::days(30)).is_empty() {
        offers.push(Offer::Renew);
    }
    if !facts.stale_copies.is_empty() && !facts.admin_in_masters() {
        offers.push(Offer::UpdateCopies);
    }
    if facts
        .super_admin
        .as_ref()
        .is_some_and(|path| path.starts_with(&facts.kubernetes_dir))
    {
        offers.push(Offer::MoveSuperAdmin);
    }
    if !facts.backups.is_empty() {
        offers.push(Offer::Rollback);
    }
    offers.push(Offer::Quit);
    offers
}

/// What the operator chose, fully specified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// `kubecred migrate`.
    Migrate {
        /// `--offline`.
        offline: bool,
        /// `--update-copies`.
        update_copies: bool,
    },
    /// `kubecred renew all --within W --validity V [--update-copies]`.
    Renew {
        /// The window.
        within: Duration,
        /// The new lifetime.
        validity: Duration,
        /// `--update-copies`.
        update_copies: bool,
    },
    /// `kubecred renew admin.conf --within 0s --update-copies` on a migrated
    /// node: the stale copies of admin.conf's credential, and nothing else.
    UpdateCopies,
    /// Copy super-admin.conf to `to`, verify, remove it from the node.
    MoveSuperAdmin {
        /// The new place.
        to: PathBuf,
    },
    /// `kubecred rollback ID`.
    Rollback {
        /// The backup.
        id: String,
    },
}

/// Where the wizard is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Choosing among the offers.
    Menu,
    /// Asking whether migrate should also rewrite the stale copies.
    MigrateCopies {
        /// `--offline`.
        offline: bool,
    },
    /// Asking for the renewal window.
    RenewWindow,
    /// Asking for the new certificates' lifetime.
    RenewValidity {
        /// The window already chosen.
        within: Duration,
    },
    /// Asking whether the renewal, which renews admin.conf, also rewrites its copies.
    RenewCopies {
        /// The window already chosen.
        within: Duration,
        /// The lifetime already chosen.
        validity: Duration,
    },
    /// Asking where super-admin.conf goes.
    MovePath,
    /// Choosing a backup.
    PickBackup,
    /// Showing the plan, asking for the final confirmation.
    Confirm(Intent),
    /// Confirmed: carry it out.
    Run(Intent),
    /// The operator left without choosing anything: exit 0.
    Quit,
    /// Cancelled (Ctrl-C, Esc, the terminal went away): exit 130, nothing changed.
    Cancelled,
}

/// An answer to the current step's prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A menu choice.
    Offer(Offer),
    /// A list choice by index.
    Index(usize),
    /// Text typed.
    Text(String),
    /// Yes to a confirmation.
    Yes,
    /// No to a confirmation.
    No,
    /// Ctrl-C, Esc, or no terminal any more.
    Cancel,
}

/// The wizard's default answers: kubeadm's defaults, and "no" to every change.
pub const DEFAULT_WINDOW: &str = "30d";

/// A window in words: `30 days` for whole days, else as the flags take it (`36h`).
fn within(window: Duration) -> String {
    if window.whole_seconds() % 86_400 == 0 {
        match window.whole_days() {
            1 => "1 day".into(),
            days => format!("{days} days"),
        }
    } else {
        span::exact(window)
    }
}

/// The new certificates' lifetime: `renew`'s default, kubeadm's.
pub const DEFAULT_VALIDITY: &str = crate::ui::cli::RENEW_VALIDITY;

/// The next step, or why the answer is not acceptable (the prompt is asked again).
pub fn next(step: &Step, answer: Answer, facts: &Facts) -> Result<Step, String> {
    if answer == Answer::Cancel {
        return Ok(Step::Cancelled);
    }
    match (step, answer) {
        (Step::Menu, Answer::Offer(offer)) => Ok(match offer {
            Offer::Migrate | Offer::MigrateOffline => {
                let offline = offer == Offer::MigrateOffline;
                if facts.stale_copies.is_empty() {
                    Step::Confirm(Intent::Migrate {
                        offline,
                        update_copies: false,
                    })
                } else {
                    Step::MigrateCopies { offline }
                }
            }
            Offer::Renew => Step::RenewWindow,
            Offer::UpdateCopies => Step::Confirm(Intent::UpdateCopies),
            Offer::MoveSuperAdmin => Step::MovePath,
            Offer::Rollback => Step::PickBackup,
            Offer::Quit => Step::Quit,
        }),
        (Step::MigrateCopies { offline }, answer @ (Answer::Yes | Answer::No)) => {
            Ok(Step::Confirm(Intent::Migrate {
                offline: *offline,
                update_copies: answer == Answer::Yes,
            }))
        }
        (Step::RenewWindow, Answer::Text(text)) => {
            let within = span::parse_duration(&text)?;
            if within <= Duration::ZERO {
                return Err("the window must be longer than zero".into());
            }
            Ok(Step::RenewValidity { within })
        }
        (Step::RenewValidity { within }, Answer::Text(text)) => {
            let validity = span::parse_duration(&text)?;
            if validity < Duration::days(1) {
                return Err(
                    "a certificate valid for less than a day would expire before the next check"
                        .into(),
                );
            }
            if validity <= *within {
                return Err(format!(
                    "a validity not longer than the window ({}) would make every new certificate due again at once",
                    span::exact(*within)
                ));
            }
            let renews_admin = facts
                .due_within(*within)
                .iter()
                .any(|(name, _)| name == "admin.conf");
            Ok(if renews_admin && !facts.admin_copies.is_empty() {
                Step::RenewCopies {
                    within: *within,
                    validity,
                }
            } else {
                Step::Confirm(Intent::Renew {
                    within: *within,
                    validity,
                    update_copies: false,
                })
            })
        }
        (Step::RenewCopies { within, validity }, answer @ (Answer::Yes | Answer::No)) => {
            Ok(Step::Confirm(Intent::Renew {
                within: *within,
                validity: *validity,
                update_copies: answer == Answer::Yes,
            }))
        }
        (Step::MovePath, Answer::Text(text)) => Ok(Step::Confirm(Intent::MoveSuperAdmin {
            to: check_destination(text.trim(), &facts.kubernetes_dir)?,
        })),
        (Step::PickBackup, Answer::Index(index)) => facts
            .backups
            .get(index)
            .map(|id| Step::Confirm(Intent::Rollback { id: id.clone() }))
            .ok_or_else(|| "no such backup".into()),
        (Step::Confirm(intent), Answer::Yes) => Ok(Step::Run(intent.clone())),
        (Step::Confirm(_), Answer::No) => Ok(Step::Menu),
        (step, answer) => Err(format!("{answer:?} does not answer {step:?}")),
    }
}

/// Where super-admin.conf may go: an absolute path outside the kubernetes dir.
/// (Whether it is free and its folder exists, the executor checks on disk.)
fn check_destination(text: &str, kubernetes_dir: &Path) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if text.is_empty() || !path.is_absolute() {
        return Err("type an absolute path, e.g. /media/usb/cluster-super-admin.conf".into());
    }
    if path.starts_with(kubernetes_dir) {
        return Err(format!(
            "that is inside {}: the point is to move it off",
            kubernetes_dir.display()
        ));
    }
    Ok(path)
}
