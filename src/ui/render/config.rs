//! `kubecred config`: every effective setting, its value and where it came
//! from, as a table or JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value as Json, json};

use crate::domain::config::{Setting, Source, Value};
use crate::ui::render::json::{SCHEMA_VERSION, path};
use crate::ui::render::text::printable;

/// The settings as aligned columns: KEY, VALUE, SOURCE.
pub fn table(settings: &[Setting]) -> String {
    let rows: Vec<[String; 3]> = settings
        .iter()
        .map(|setting| {
            [
                setting.key.name().to_owned(),
                printable(&setting.value.text()).into_owned(),
                printable(&setting.source.to_string()).into_owned(),
            ]
        })
        .collect();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
            .chain([["KEY", "VALUE"].get(column).map_or(0, |head| head.len())])
            .max()
            .unwrap_or(0)
    };
    let (key, value) = (width(0), width(1));
    let mut out = format!("{:key$}  {:value$}  SOURCE\n", "KEY", "VALUE");
    for [name, text, source] in &rows {
        let _ = writeln!(out, "{name:key$}  {text:value$}  {source}");
    }
    out
}

/// The settings as JSON: each with its key, value (durations in seconds,
/// paths as paths, globs as a list), text as a flag takes it, and source.
pub fn json(settings: &[Setting], file: &Path, present: bool) -> String {
    let settings: Vec<Json> = settings
        .iter()
        .map(|setting| {
            let value = match &setting.value {
                Value::Path(value) => path(value),
                Value::Globs(globs) => json!(globs),
                Value::Duration(duration) => json!(duration.whole_seconds()),
                Value::Restart(policy) => json!(policy.as_str()),
            };
            let mut entry = json!({
                "key": setting.key.name(),
                "value": value,
                "text": setting.value.text(),
                "env": setting.key.env(),
                "flag": setting.key.flag(),
            });
            let source = match &setting.source {
                Source::Flag => json!({"kind": "flag"}),
                Source::Env(name) => json!({"kind": "env", "name": name}),
                Source::File(file) => json!({"kind": "file", "path": path(file)}),
                Source::Default => json!({"kind": "default"}),
            };
            if let Some(entry) = entry.as_object_mut() {
                entry.insert("source".into(), source);
            }
            entry
        })
        .collect();
    let doc = json!({
        "schemaVersion": SCHEMA_VERSION,
        "file": {"path": path(file), "present": present},
        "settings": settings,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
