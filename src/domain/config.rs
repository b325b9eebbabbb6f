//! kubecred's settings, one list: each key of `/etc/kubecred/config.toml`
//! with its environment variable and flag, a layer of values (the file's,
//! the environment's) parsed and validated, and where an effective value came
//! from. Pure: the text and the variables arrive as values.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Duration;

use crate::domain::span;

/// The configuration file read when `KUBECRED_CONFIG` names none.
pub const DEFAULT_PATH: &str = "/etc/kubecred/config.toml";

/// The environment variable that names another configuration file.
pub const CONFIG_VAR: &str = "KUBECRED_CONFIG";

/// The metrics file a bare `check --textfile` writes by default.
pub const DEFAULT_TEXTFILE: &str = "/var/lib/node_exporter/textfile_collector/kubecred.prom";

/// What a bare `renew --within` renews by default: what expires within 30 days.
pub const DEFAULT_WITHIN: Duration = Duration::days(30);

/// The largest configuration file read.
pub const MAX_BYTES: u64 = 64 * 1024;

/// One setting: its key in the file, its environment variable, its flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// `kubernetes_dir`.
    KubernetesDir,
    /// `cert_dir`.
    CertDir,
    /// `state_dir`.
    StateDir,
    /// `copies`.
    Copies,
    /// `[check] warn`.
    Warn,
    /// `[check] crit`.
    Crit,
    /// `[check] ca_warn`.
    CaWarn,
    /// `[check] ca_crit`.
    CaCrit,
    /// `[check] textfile`.
    Textfile,
    /// `[renew] within`.
    RenewWithin,
    /// `[renew] validity`.
    RenewValidity,
    /// `[renew] restart`.
    RenewRestart,
    /// `[renew] restart_timeout`.
    RenewRestartTimeout,
}

impl Key {
    /// Every setting, in the order `kubecred config` shows them.
    pub const ALL: [Self; 13] = [
        Self::KubernetesDir,
        Self::CertDir,
        Self::StateDir,
        Self::Copies,
        Self::Warn,
        Self::Crit,
        Self::CaWarn,
        Self::CaCrit,
        Self::Textfile,
        Self::RenewWithin,
        Self::RenewValidity,
        Self::RenewRestart,
        Self::RenewRestartTimeout,
    ];

    /// The key as written in the file, with its table: `check.warn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::KubernetesDir => "kubernetes_dir",
            Self::CertDir => "cert_dir",
            Self::StateDir => "state_dir",
            Self::Copies => "copies",
            Self::Warn => "check.warn",
            Self::Crit => "check.crit",
            Self::CaWarn => "check.ca_warn",
            Self::CaCrit => "check.ca_crit",
            Self::Textfile => "check.textfile",
            Self::RenewWithin => "renew.within",
            Self::RenewValidity => "renew.validity",
            Self::RenewRestart => "renew.restart",
            Self::RenewRestartTimeout => "renew.restart_timeout",
        }
    }

    /// The environment variable that sets it.
    pub fn env(self) -> &'static str {
        match self {
            Self::KubernetesDir => "KUBECRED_KUBERNETES_DIR",
            Self::CertDir => "KUBECRED_CERT_DIR",
            Self::StateDir => "KUBECRED_STATE_DIR",
            Self::Copies => "KUBECRED_COPIES",
            Self::Warn => "KUBECRED_WARN",
            Self::Crit => "KUBECRED_CRIT",
            Self::CaWarn => "KUBECRED_CA_WARN",
            Self::CaCrit => "KUBECRED_CA_CRIT",
            Self::Textfile => "KUBECRED_TEXTFILE",
            Self::RenewWithin => "KUBECRED_RENEW_WITHIN",
            Self::RenewValidity => "KUBECRED_RENEW_VALIDITY",
            Self::RenewRestart => "KUBECRED_RENEW_RESTART",
            Self::RenewRestartTimeout => "KUBECRED_RENEW_RESTART_TIMEOUT",
        }
    }

    /// The flag that sets it for one run.
    pub fn flag(self) -> &'static str {
        match self {
            Self::KubernetesDir => "--kubernetes-dir",
            Self::CertDir => "--cert-dir",
            Self::StateDir => "--state-dir",
            Self::Copies => "--copies",
            Self::Warn => "--warn",
            Self::Crit => "--crit",
            Self::CaWarn => "--ca-warn",
            Self::CaCrit => "--ca-crit",
            Self::Textfile => "--textfile",
            Self::RenewWithin => "--within",
            Self::RenewValidity => "--validity",
            Self::RenewRestart => "--restart",
            Self::RenewRestartTimeout => "--restart-timeout",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Self::KubernetesDir | Self::CertDir | Self::StateDir | Self::Textfile => Kind::Path,
            Self::Copies => Kind::Globs,
            Self::RenewRestart => Kind::Restart,
            Self::Warn
            | Self::Crit
            | Self::CaWarn
            | Self::CaCrit
            | Self::RenewWithin
            | Self::RenewValidity
            | Self::RenewRestartTimeout => Kind::Duration,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Path,
    Globs,
    Duration,
    Restart,
}

/// Whether `renew` restarts what must load what it renewed (the `--restart` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart them, one at a time.
    Auto,
    /// Only name them.
    Never,
}

impl RestartPolicy {
    /// As the flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Never => "never",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "never" => Ok(Self::Never),
            other => Err(format!("`{other}` is not `auto` or `never`")),
        }
    }
}

/// A setting's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A file or folder.
    Path(PathBuf),
    /// Glob patterns (an empty list: none).
    Globs(Vec<String>),
    /// A duration.
    Duration(Duration),
    /// A restart policy.
    Restart(RestartPolicy),
}

impl Value {
    /// The value as a flag or the file would take it: `30d`, a path, globs
    /// joined by `, ` (`none` when there are none).
    pub fn text(&self) -> String {
        match self {
            Self::Path(path) => path.to_string_lossy().into_owned(),
            Self::Globs(globs) if globs.is_empty() => "none".into(),
            Self::Globs(globs) => globs.join(", "),
            Self::Duration(duration) => span::exact(*duration),
            Self::Restart(policy) => policy.as_str().into(),
        }
    }
}

/// The values one layer (the file, the environment) sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layer {
    values: BTreeMap<Key, Value>,
}

impl Layer {
    /// The value this layer sets for `key`, if any.
    pub fn get(&self, key: Key) -> Option<&Value> {
        self.values.get(&key)
    }

    /// Sets `key` (tests and the migration of the old environment file).
    pub fn set(&mut self, key: Key, value: Value) {
        self.values.insert(key, value);
    }

    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A flag on the command line.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The configuration file.
    File(PathBuf),
    /// kubecred's built-in default.
    Default,
}

/// One effective setting, for `kubecred config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Which.
    pub key: Key,
    /// Its value (`cert_dir` unset is `<kubernetes_dir>/pki`).
    pub value: Value,
    /// Where it came from.
    pub source: Source,
}

/// A configuration that cannot be used: one line saying where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    kubernetes_dir: Option<String>,
    cert_dir: Option<String>,
    state_dir: Option<String>,
    copies: Option<Vec<String>>,
    check: Option<RawCheck>,
    renew: Option<RawRenew>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    warn: Option<String>,
    crit: Option<String>,
    ca_warn: Option<String>,
    ca_crit: Option<String>,
    textfile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRenew {
    within: Option<String>,
    validity: Option<String>,
    restart: Option<String>,
    restart_timeout: Option<String>,
}

/// Parses a configuration file's text: unknown keys, wrong types and values
/// that do not parse are errors naming the key (and the line, where TOML
/// knows it).
pub fn parse_file(text: &str) -> Result<Layer, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|err| syntax(text, &err))?;
    let mut layer = Layer::default();
    let check = raw.check.unwrap_or(RawCheck {
        warn: None,
        crit: None,
        ca_warn: None,
        ca_crit: None,
        textfile: None,
    });
    let renew = raw.renew.unwrap_or(RawRenew {
        within: None,
        validity: None,
        restart: None,
        restart_timeout: None,
    });
    let texts = [
        (Key::KubernetesDir, raw.kubernetes_dir),
        (Key::CertDir, raw.cert_dir),
        (Key::StateDir, raw.state_dir),
        (Key::Warn, check.warn),
        (Key::Crit, check.crit),
        (Key::CaWarn, check.ca_warn),
        (Key::CaCrit, check.ca_crit),
        (Key::Textfile, check.textfile),
        (Key::RenewWithin, renew.within),
        (Key::RenewValidity, renew.validity),
        (Key::RenewRestart, renew.restart),
        (Key::RenewRestartTimeout, renew.restart_timeout),
    ];
    for (key, text) in texts {
        if let Some(text) = text {
            let value = file_value(key, &text)
                .map_err(|what| ConfigError(format!("`{}`: {what}", key.name())))?;
            layer.set(key, value);
        }
    }
    if let Some(globs) = raw.copies {
        for glob in &globs {
            absolute(glob).map_err(|what| ConfigError(format!("`copies`: {what}")))?;
        }
        layer.set(Key::Copies, Value::Globs(globs));
    }
    Ok(layer)
}

/// One value from the file: paths must be absolute (relative to what?).
fn file_value(key: Key, text: &str) -> Result<Value, String> {
    match key.kind() {
        Kind::Path => absolute(text).map(|()| Value::Path(PathBuf::from(text))),
        kind => typed(kind, text),
    }
}

fn typed(kind: Kind, text: &str) -> Result<Value, String> {
    match kind {
        Kind::Duration => span::parse_duration(text).map(Value::Duration),
        Kind::Restart => RestartPolicy::parse(text).map(Value::Restart),
        Kind::Path => {
            if text.is_empty() {
                Err("empty path".into())
            } else {
                Ok(Value::Path(PathBuf::from(text)))
            }
        }
        Kind::Globs => Ok(Value::Globs(
            text.split(':')
                .filter(|glob| !glob.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
    }
}

fn absolute(text: &str) -> Result<(), String> {
    if text.contains('\0') {
        Err("a path cannot hold a NUL character".into())
    } else if !Path::new(text).is_absolute() {
        Err(format!("`{text}` is not an absolute path"))
    } else {
        Ok(())
    }
}

/// A TOML error in one line: where, which key, what.
fn syntax(text: &str, err: &toml::de::Error) -> ConfigError {
    let message = err
        .message()
        .trim()
        .replace('\n', "; ")
        .replace("unknown field", "unknown key");
    let Some(span) = err.span() else {
        return ConfigError(message);
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count().saturating_add(1);
    let start = before.rfind('\n').map_or(0, |at| at.saturating_add(1));
    let key = text
        .get(start..)
        .and_then(|rest| rest.lines().next())
        .and_then(|line| line.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        });
    match key {
        Some(key) if !message.contains(&format!("`{key}`")) => {
            ConfigError(format!("line {line}: `{key}`: {message}"))
        }
        _ => ConfigError(format!("line {line}: {message}")),
    }
}

/// The environment's layer, from each key's variable (`None`: unset). An
/// empty variable is unset; `KUBECRED_COPIES` is globs separated by `:`.
pub fn parse_env(vars: &[(Key, Option<OsString>)]) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for (key, value) in vars {
        let Some(value) = value.as_ref().filter(|value| !value.is_empty()) else {
            continue;
        };
        let value = if key.kind() == Kind::Path {
            Value::Path(PathBuf::from(value))
        } else {
            let text = value
                .to_str()
                .ok_or_else(|| ConfigError(format!("{}: not UTF-8", key.env())))?;
            typed(key.kind(), text).map_err(|what| ConfigError(format!("{}: {what}", key.env())))?
        };
        layer.set(*key, value);
    }
    Ok(layer)
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("flag"),
            Self::Env(name) => write!(f, "environment {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Default => f.write_str("default"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duration(layer: &Layer, key: Key) -> Option<Duration> {
        match layer.get(key) {
            Some(Value::Duration(duration)) => Some(*duration),
            _ => None,
        }
    }

    #[test]
    fn every_key_of_the_file_is_read() {
        let layer = parse_file(
            r#"
kubernetes_dir = "/srv/k8s"
cert_dir = "/srv/pki"
state_dir = "/srv/state"
copies = ["/root/.kube/config", "/srv/*/kubeconfig"]

[check]
warn = "45d"
crit = "336h"
ca_warn = "2y"
ca_crit = "1d12h"
textfile = "/srv/metrics/kubecred.prom"

[renew]
within = "60d"
validity = "4380h"
restart = "auto"
restart_timeout = "5m"
"#,
        )
        .unwrap();
        assert_eq!(
            layer.get(Key::KubernetesDir),
            Some(&Value::Path("/srv/k8s".into()))
        );
        assert_eq!(
            layer.get(Key::CertDir),
            Some(&Value::Path("/srv/pki".into()))
        );
        assert_eq!(
            layer.get(Key::StateDir),
            Some(&Value::Path("/srv/state".into()))
        );
        assert_eq!(
            layer.get(Key::Copies),
            Some(&Value::Globs(vec![
                "/root/.kube/config".into(),
                "/srv/*/kubeconfig".into()
            ]))
        );
        assert_eq!(duration(&layer, Key::Warn), Some(Duration::days(45)));
        assert_eq!(duration(&layer, Key::Crit), Some(Duration::days(14)));
        assert_eq!(duration(&layer, Key::CaWarn), Some(Duration::days(730)));
        assert_eq!(duration(&layer, Key::CaCrit), Some(Duration::hours(36)));
        assert_eq!(
            layer.get(Key::Textfile),
            Some(&Value::Path("/srv/metrics/kubecred.prom".into()))
        );
        assert_eq!(duration(&layer, Key::RenewWithin), Some(Duration::days(60)));
        assert_eq!(
            duration(&layer, Key::RenewValidity),
            Some(Duration::hours(4380))
        );
        assert_eq!(
            layer.get(Key::RenewRestart),
            Some(&Value::Restart(RestartPolicy::Auto))
        );
        assert_eq!(
            duration(&layer, Key::RenewRestartTimeout),
            Some(Duration::minutes(5))
        );
        assert_eq!(Key::ALL.map(|key| layer.get(key).is_some()), [true; 13]);
    }

    #[test]
    fn an_empty_file_and_empty_tables_set_nothing() {
        assert!(parse_file("").unwrap().is_empty());
        assert!(
            parse_file("# only a comment\n[check]\n[renew]\n")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parse_file("copies = []").unwrap().get(Key::Copies),
            Some(&Value::Globs(vec![]))
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let err = parse_file("[check]\nwarn = \"30d\"\nwarning = \"45d\"\n").unwrap_err();
        assert!(err.0.starts_with("line 3: "), "{err}");
        assert!(err.0.contains("unknown key `warning`"), "{err}");
        let err = parse_file("textfile = \"/x\"\n").unwrap_err();
        assert!(err.0.contains("`textfile`"), "{err}");
        let err = parse_file("[checks]\n").unwrap_err();
        assert!(err.0.contains("`checks`"), "{err}");
        assert!(!err.0.contains('\n'));
    }

    #[test]
    fn a_bad_value_names_the_key_and_what_is_wrong() {
        let cases = [
            (
                "[check]\nwarn = \"30x\"\n",
                "`check.warn`: `30x`: unknown unit `x` (use s, m, h, d, w or y)",
            ),
            (
                "[check]\ncrit = \"-7d\"\n",
                "`check.crit`: `-7d`: a duration cannot be negative",
            ),
            (
                "[renew]\nrestart = \"ask\"\n",
                "`renew.restart`: `ask` is not `auto` or `never`",
            ),
            (
                "state_dir = \"state\"\n",
                "`state_dir`: `state` is not an absolute path",
            ),
            (
                "copies = [\"~/.kube/config\"]\n",
                "`copies`: `~/.kube/config` is not an absolute path",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse_file(text).unwrap_err().0, message, "{text}");
        }
        let err = parse_file("[check]\nwarn = 30\n").unwrap_err();
        assert!(err.0.starts_with("line 2: `warn`: invalid type"), "{err}");
        let err = parse_file("kubernetes_dir = \"/a\"\nkubernetes_dir = \"/b\"\n").unwrap_err();
        assert!(err.0.starts_with("line 2"), "{err}");
        let err = parse_file("[check\n").unwrap_err();
        assert!(err.0.starts_with("line 1"), "{err}");
    }

    #[test]
    fn the_environment_is_a_layer_of_its_own() {
        let layer = parse_env(&[
            (Key::Warn, Some("45d".into())),
            (Key::Crit, Some(OsString::new())),
            (Key::StateDir, Some("relative/state".into())),
            (Key::Copies, Some("/a/config:/b/*/config".into())),
            (Key::RenewRestart, Some("auto".into())),
            (Key::CaWarn, None),
        ])
        .unwrap();
        assert_eq!(duration(&layer, Key::Warn), Some(Duration::days(45)));
        assert_eq!(layer.get(Key::Crit), None, "empty is unset");
        assert_eq!(layer.get(Key::CaWarn), None);
        assert_eq!(
            layer.get(Key::StateDir),
            Some(&Value::Path("relative/state".into())),
            "resolved against the working folder later, as the flag is"
        );
        assert_eq!(
            layer.get(Key::Copies),
            Some(&Value::Globs(vec![
                "/a/config".into(),
                "/b/*/config".into()
            ]))
        );
        assert_eq!(
            parse_env(&[(Key::Crit, Some("7".into()))]).unwrap_err().0,
            "KUBECRED_CRIT: `7`: missing unit after `7` (e.g. 30d, 720h, 1y)"
        );
        assert_eq!(
            parse_env(&[(Key::RenewRestart, Some("always".into()))])
                .unwrap_err()
                .0,
            "KUBECRED_RENEW_RESTART: `always` is not `auto` or `never`"
        );
    }

    #[test]
    fn values_read_back_as_written() {
        assert_eq!(Value::Duration(Duration::hours(720)).text(), "30d");
        assert_eq!(Value::Globs(vec![]).text(), "none");
        assert_eq!(Value::Restart(RestartPolicy::Never).text(), "never");
        for key in Key::ALL {
            assert!(key.env().starts_with("KUBECRED_") && key.flag().starts_with("--"));
        }
    }
}
