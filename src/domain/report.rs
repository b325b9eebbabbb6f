//! The result of a check: an inventory, its findings, the clock and thresholds
//! used. The single input of every renderer.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::domain::findings::{self, Finding, Severity, Thresholds};
use crate::domain::live::{self, Live};
use crate::domain::model::Inventory;

/// A monitoring-plugin status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing needs attention (exit 0).
    Ok,
    /// Something needs attention soon (exit 1).
    Warning,
    /// Something needs attention now (exit 2).
    Critical,
    /// kubecred could not judge (exit 3).
    Unknown,
}

impl Status {
    /// The monitoring-plugin exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }

    /// Upper-case name, as Nagios prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// One credential of a streamed `inspect`, judged: its findings, sorted by code.
#[derive(Debug)]
pub struct Judged {
    /// The credential, its chain verified.
    pub credential: crate::domain::model::Credential,
    /// What is wrong with it.
    pub findings: Vec<Finding>,
}

/// An evaluated inventory.
#[derive(Debug)]
pub struct Report<'a> {
    /// What was found.
    pub inventory: &'a Inventory,
    /// What is wrong, sorted by credential then code.
    pub findings: Vec<Finding>,
    /// The time the findings were computed for.
    pub now: OffsetDateTime,
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// What the running components use (`--live` only).
    pub live: Option<Live>,
    /// Finding positions by credential name.
    by_credential: HashMap<String, Vec<usize>>,
}

impl<'a> Report<'a> {
    /// Evaluates `inventory` at `now`.
    pub fn new(inventory: &'a Inventory, now: OffsetDateTime, thresholds: Thresholds) -> Self {
        let mut report = Self {
            findings: findings::evaluate(inventory, now, &thresholds),
            inventory,
            now,
            thresholds,
            live: None,
            by_credential: HashMap::new(),
        };
        report.index();
        report
    }

    fn index(&mut self) {
        self.by_credential.clear();
        for (position, finding) in self.findings.iter().enumerate() {
            self.by_credential
                .entry(finding.credential.clone())
                .or_default()
                .push(position);
        }
    }

    /// Adds findings from outside the host (the API server) and keeps the order.
    pub fn extend(&mut self, findings: Vec<Finding>) {
        self.findings.extend(findings);
        self.findings.sort_by(|a, b| {
            (&a.credential, a.code, &a.path).cmp(&(&b.credential, b.code, &b.path))
        });
        self.index();
    }

    /// Adds what the running components use, and its findings.
    pub fn with_live(&mut self, live: Live) {
        let found = live::findings(&live, self.now, &self.thresholds);
        self.live = Some(live);
        self.extend(found);
    }

    /// The overall status: UNKNOWN when files could not be read (the check
    /// did not judge everything), else the worst finding's.
    pub fn status(&self) -> Status {
        if self.is_incomplete() {
            return Status::Unknown;
        }
        match findings::worst(&self.findings) {
            Some(Severity::Critical) => Status::Critical,
            Some(Severity::Warning) => Status::Warning,
            Some(Severity::Info) | None => Status::Ok,
        }
    }

    /// Whether the check could not judge everything (files it may not read).
    pub fn is_incomplete(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.code == findings::Code::Unreadable)
    }

    /// Why the check is incomplete, in one short sentence with what to do
    /// (the `unreadable` finding names every file).
    pub fn incomplete_summary(&self) -> Option<String> {
        if !self.is_incomplete() {
            return None;
        }
        let count = self.inventory.unreadable().len();
        let uid = self.inventory.reader_uid;
        let files = if count == 1 { "file" } else { "files" };
        Some(if uid == 0 {
            format!(
                "cannot read {count} {files} as uid 0 without CAP_DAC_READ_SEARCH (permission denied): give kubecred that capability back"
            )
        } else {
            format!(
                "cannot read {count} {files} as uid {uid} (permission denied): run kubecred as root, or with CAP_DAC_READ_SEARCH for a read-only check"
            )
        })
    }

    /// The findings about one credential.
    pub fn findings_for<'b>(
        &'b self,
        credential: &'b str,
    ) -> impl Iterator<Item = &'b Finding> + 'b {
        self.by_credential
            .get(credential)
            .into_iter()
            .flatten()
            .filter_map(|position| self.findings.get(*position))
    }
}
