//! JSON for machines: `schemaVersion` 1, RFC 3339 UTC times, durations in
//! seconds, lists sorted by credential name (then code). Fields are only ever added.
//! Every path goes through [`JsonPath`]: a string when it is UTF-8, otherwise
//! an object carrying its exact bytes. `inspect` and `check` are written
//! straight from typed records to the writer they are given.

mod records;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::cert::Fingerprint;
use crate::domain::model::Inventory;
use crate::domain::plan::{Action, Write};
use crate::domain::report::Judged;
use crate::domain::report::Report;
use records::{Document, StreamDocument};
use time::OffsetDateTime;

/// The wire format's version.
pub const SCHEMA_VERSION: u32 = 1;

pub use crate::domain::exact::{JsonPath, path_serde};

/// A path as a JSON value (see [`JsonPath`]).
pub fn path(path: &Path) -> Value {
    // Serializing a string or a map of two strings into a `Value` cannot fail.
    serde_json::to_value(JsonPath(path)).unwrap_or_default()
}

/// `inspect -o json`: every credential with everything known about it,
/// written to `out` record by record.
pub fn inspect(report: &Report<'_>, out: &mut impl io::Write) -> io::Result<()> {
    let doc = Document {
        report,
        check: false,
    };
    write_pretty(out, &doc)
}

/// `inspect PATH... -o json` from a stream: the credentials come a window
/// at a time (sorted by name and judged), each written to `out` and dropped.
/// The same bytes as [`inspect`] writes for the same credentials.
pub fn inspect_stream(
    head: &Inventory,
    now: OffsetDateTime,
    windows: impl Iterator<Item = Vec<Judged>>,
    out: &mut impl io::Write,
) -> io::Result<()> {
    let doc = StreamDocument {
        head,
        now,
        windows: std::cell::RefCell::new(Some(windows)),
    };
    write_pretty(out, &doc)
}

/// `check -o json`: the status, the findings and the credentials they are
/// about, written to `out` record by record.
pub fn check(report: &Report<'_>, out: &mut impl io::Write) -> io::Result<()> {
    let doc = Document {
        report,
        check: true,
    };
    write_pretty(out, &doc)
}

/// Writes `value` as serde_json's pretty form (two-space indent) and a newline.
fn write_pretty(out: &mut impl io::Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

/// The files a run wrote (with `applied: false`, the ones it would write):
/// each with its path, `action` (`written`, `removed`) and, for a file
/// written, `sha256`, the SHA-256 of its new bytes.
pub fn changes(writes: &[Write]) -> Vec<Value> {
    writes
        .iter()
        .map(|write| match &write.action {
            Action::Write(bytes, _) => json!({
                "path": path(&write.path),
                "action": "written",
                "sha256": Fingerprint::of(bytes).to_string(),
            }),
            Action::Remove => json!({"path": path(&write.path), "action": "removed"}),
        })
        .collect()
}

/// The files a plan would write whose bytes are made only when it runs (new
/// keys, new certificates): path and action, no `sha256`.
pub fn planned(paths: &[PathBuf]) -> Vec<Value> {
    paths
        .iter()
        .map(|file| json!({"path": path(file), "action": "written"}))
        .collect()
}
