//! The environment file the first packages shipped (`/etc/default/kubecred`,
//! `/etc/sysconfig/kubecred`: `KEY=value` lines and extra flags for the
//! units) turned into a configuration file: every value with a key is
//! carried over, anything else is kept as a comment and reported. Pure.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;

use crate::domain::config::{self, Key, Layer, Value};

/// The configuration file made from an environment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The TOML text.
    pub toml: String,
    /// What could not be carried over, one line each (also comments in `toml`).
    pub left_over: Vec<String>,
}

/// The variables whose value is extra flags, and the settings each may set.
const FLAG_VARS: [(&str, &[Key]); 3] = [
    (
        "KUBECRED_CHECK_FLAGS",
        &[
            Key::Warn,
            Key::Crit,
            Key::CaWarn,
            Key::CaCrit,
            Key::Textfile,
        ],
    ),
    (
        "KUBECRED_RENEW_FLAGS",
        &[
            Key::RenewWithin,
            Key::RenewValidity,
            Key::RenewRestart,
            Key::RenewRestartTimeout,
        ],
    ),
    ("KUBECRED_RECOVER_FLAGS", &[]),
];

/// The flags every command takes.
const GLOBAL_KEYS: [Key; 3] = [Key::KubernetesDir, Key::CertDir, Key::StateDir];

/// Turns the environment file's text into a configuration file; values equal
/// to `defaults` are written commented out, so a later default still applies.
pub fn migrate(text: &str, source: &str, defaults: &Layer) -> Migrated {
    let mut layer = Found::default();
    let mut left_over = Vec::new();
    let mut copies: Option<Vec<String>> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            left_over.push(format!(
                "line {}: not a KEY=value line: {line}",
                number.saturating_add(1)
            ));
            continue;
        };
        let (name, value) = (name.trim(), unquote(value.trim()));
        if let Some((_, keys)) = FLAG_VARS.iter().find(|(var, _)| *var == name) {
            flags(name, value, keys, &mut layer, &mut copies, &mut left_over);
        } else if let Some(key) = Key::ALL.into_iter().find(|key| key.env() == name) {
            one(key, name, value, &mut layer, &mut left_over);
        } else {
            left_over.push(format!("{name}={value}: no setting of this name"));
        }
    }
    if let Some(copies) = copies {
        layer.values.set(Key::Copies, Value::Globs(copies));
    }
    Migrated {
        toml: render(&layer, defaults, source, &left_over),
        left_over,
    }
}

/// The values found, and each one's text as the operator wrote it.
#[derive(Default)]
struct Found {
    values: Layer,
    texts: BTreeMap<Key, String>,
}

/// A quoted value's inside (the old file quoted values with spaces).
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// One `KUBECRED_<KEY>=value`: validated as the key's variable is, a path
/// made absolute only if it was.
fn one(key: Key, name: &str, value: &str, layer: &mut Found, left_over: &mut Vec<String>) {
    if value.is_empty() {
        return;
    }
    match config::parse_env(&[(key, Some(OsString::from(value)))]) {
        Ok(parsed) => match parsed.get(key) {
            Some(Value::Path(path)) if !path.is_absolute() => {
                left_over.push(format!("{name}={value}: not an absolute path"));
            }
            Some(parsed) => {
                layer.values.set(key, parsed.clone());
                layer.texts.insert(key, value.to_owned());
            }
            None => {}
        },
        Err(err) => left_over.push(format!("{name}={value}: {err}")),
    }
}

/// The extra flags of one unit: those with a setting are carried over.
fn flags(
    name: &str,
    value: &str,
    keys: &[Key],
    layer: &mut Found,
    copies: &mut Option<Vec<String>>,
    left_over: &mut Vec<String>,
) {
    let mut words = value.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, inline)) if flag.starts_with("--") => (flag, Some(inline)),
            _ => (word, None),
        };
        let mut take = || {
            inline.map(str::to_owned).or_else(|| {
                words
                    .next_if(|next| !next.starts_with('-'))
                    .map(str::to_owned)
            })
        };
        if flag == "--no-copies" && inline.is_none() {
            *copies = Some(Vec::new());
            continue;
        }
        if flag == "--copies" {
            match take() {
                Some(glob) if glob.starts_with('/') => {
                    copies.get_or_insert_with(Vec::new).push(glob);
                }
                Some(glob) => {
                    left_over.push(format!("{name}: `--copies {glob}`: not an absolute path"));
                }
                None => left_over.push(format!("{name}: `--copies` without a glob")),
            }
            continue;
        }
        let key = GLOBAL_KEYS
            .iter()
            .chain(keys)
            .copied()
            .find(|key| key.flag() == flag);
        match (key, take()) {
            (Some(key), Some(value)) => {
                one(key, &format!("{name}: {flag}"), &value, layer, left_over);
            }
            (Some(_), None) => left_over.push(format!("{name}: `{flag}` without a value")),
            (None, value) => {
                let what = match value {
                    Some(value) if inline.is_none() => format!("{flag} {value}"),
                    _ => word.to_owned(),
                };
                left_over.push(format!(
                    "{name}: `{what}` has no setting in the configuration file"
                ));
            }
        }
    }
}

/// The configuration file's text.
fn render(layer: &Found, defaults: &Layer, source: &str, left_over: &[String]) -> String {
    let mut out = format!(
        "# kubecred configuration, carried over from {source} by\n\
         # `kubecred config --from-env-file`. Every key, its default and what it\n\
         # means: /usr/share/kubecred/config.toml and `man kubecred`.\n\n"
    );
    let mut table = "";
    for key in Key::ALL {
        let Some(value) = layer.values.get(key) else {
            continue;
        };
        let (section, name) = key.name().split_once('.').unwrap_or(("", key.name()));
        if section != table {
            if !out.ends_with("\n\n") {
                out.push('\n');
            }
            let _ = writeln!(out, "[{section}]");
            table = section;
        }
        let commented = if defaults.get(key) == Some(value) {
            "# (the default) "
        } else {
            ""
        };
        let written = match (value, layer.texts.get(&key)) {
            (Value::Duration(_), Some(text)) => toml::Value::String(text.clone()).to_string(),
            _ => toml_value(value),
        };
        let _ = writeln!(out, "{commented}{name} = {written}");
    }
    if !left_over.is_empty() {
        out.push_str(
            "\n# Not carried over (no setting in this file; pass them on the command line):\n",
        );
        for line in left_over {
            let _ = writeln!(out, "#   {}", line.replace(['\n', '\r'], " "));
        }
    }
    out
}

fn toml_value(value: &Value) -> String {
    let string = |text: &str| toml::Value::String(text.to_owned()).to_string();
    match value {
        Value::Globs(globs) => format!(
            "[{}]",
            globs
                .iter()
                .map(|glob| string(glob))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => string(&other.text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::{RestartPolicy, parse_file};

    fn defaults() -> Layer {
        let mut layer = Layer::default();
        layer.set(Key::Warn, Value::Duration(time::Duration::days(30)));
        layer.set(Key::RenewRestart, Value::Restart(RestartPolicy::Never));
        layer
    }

    #[test]
    fn values_and_known_flags_are_carried_over_and_the_rest_reported() {
        let migrated = migrate(
            "KUBECRED_WARN=30d\nKUBECRED_CRIT=14d\n\
             KUBECRED_CHECK_FLAGS=\"--ca-warn 400d --ca-crit=100d --no-copies -o nagios --live\"\n\
             KUBECRED_RENEW_FLAGS=\"--reuse-key --validity 4380h\"\n\
             KUBECRED_RENEW_RESTART=auto\nKUBECRED_STATE_DIR=relative\nOTHER=1\n",
            "/etc/default/kubecred",
            &defaults(),
        );
        let layer = parse_file(&migrated.toml).unwrap();
        assert_eq!(
            layer.get(Key::Warn),
            None,
            "the default stays commented out"
        );
        assert!(migrated.toml.contains("# (the default) warn = \"30d\""));
        assert_eq!(
            layer.get(Key::Crit),
            Some(&Value::Duration(time::Duration::days(14)))
        );
        assert_eq!(
            layer.get(Key::CaWarn),
            Some(&Value::Duration(time::Duration::days(400)))
        );
        assert_eq!(
            layer.get(Key::CaCrit),
            Some(&Value::Duration(time::Duration::days(100)))
        );
        assert_eq!(layer.get(Key::Copies), Some(&Value::Globs(vec![])));
        assert_eq!(
            layer.get(Key::RenewValidity),
            Some(&Value::Duration(
                time::Duration::days(182) + time::Duration::hours(12)
            ))
        );
        assert_eq!(
            layer.get(Key::RenewRestart),
            Some(&Value::Restart(RestartPolicy::Auto))
        );
        assert_eq!(
            migrated.left_over,
            [
                "KUBECRED_CHECK_FLAGS: `-o nagios` has no setting in the configuration file",
                "KUBECRED_CHECK_FLAGS: `--live` has no setting in the configuration file",
                "KUBECRED_RENEW_FLAGS: `--reuse-key` has no setting in the configuration file",
                "KUBECRED_STATE_DIR=relative: not an absolute path",
                "OTHER=1: no setting of this name",
            ]
        );
        assert!(
            migrated
                .toml
                .contains("#   KUBECRED_CHECK_FLAGS: `-o nagios`")
        );
    }
}
