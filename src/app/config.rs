//! Settings resolved once, in one order: a flag beats its environment
//! variable, which beats the configuration file, which beats the built-in
//! default. And `kubecred config`, which shows the result and where each
//! value came from, or turns an old environment file into a configuration.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::app::options::Format;
use crate::app::{PathError, print};
use crate::domain::config::{
    DEFAULT_TEXTFILE, DEFAULT_WITHIN, Key, Layer, RestartPolicy, Setting, Source, Value,
};
use crate::domain::{env_file, span};
use crate::edge::config::{LoadError, Loaded};
use crate::edge::context::Context;
use crate::ui::cli::{
    self, CheckArgs, Cli, Command, ConfigArgs, DEFAULT_COPIES, Global, RenewArgs, RestartArg,
};
use crate::ui::render;

/// Reads the configuration and applies it to the parsed command line: every
/// setting no flag gave takes the environment's value, else the file's.
/// Returns the settings of this command with their sources.
pub(crate) fn apply(
    cli: &mut Cli,
    matches: &ArgMatches,
    ctx: &Context,
) -> Result<(Loaded, Vec<Setting>), PathError> {
    let loaded =
        crate::edge::config::load(ctx).map_err(|err| refused(err, exit_for(&cli.command)))?;
    let settings = resolve(cli, matches, &loaded)?;
    Ok((loaded, settings))
}

/// How a bad setting exits: as a bad argument does (UNKNOWN for `check`).
fn exit_for(command: &Command) -> u8 {
    if matches!(command, Command::Check(_)) {
        3
    } else {
        2
    }
}

/// Applies what was read to the parsed command line.
fn resolve(
    cli: &mut Cli,
    matches: &ArgMatches,
    loaded: &Loaded,
) -> Result<Vec<Setting>, PathError> {
    let exit = exit_for(&cli.command);
    let mut resolver = Resolver {
        loaded,
        settings: Vec::new(),
    };
    resolver.global(&mut cli.global, matches);
    let sub = matches.subcommand().map(|(_, sub)| sub);
    match &mut cli.command {
        Command::Check(args) => resolver.check(args, sub, exit)?,
        Command::Renew(args) => resolver.renew(args, sub),
        Command::Config(_) => {
            let mut check: CheckArgs =
                cli::defaults().map_err(|err| usage(err.to_string(), exit))?;
            let mut renew: RenewArgs =
                cli::defaults().map_err(|err| usage(err.to_string(), exit))?;
            resolver.check(&mut check, None, exit)?;
            resolver.renew(&mut renew, None);
        }
        // The wizard judges the node as `check` would.
        Command::Wizard(args) => {
            let mut check: CheckArgs =
                cli::defaults().map_err(|err| usage(err.to_string(), exit))?;
            resolver.check(&mut check, None, exit)?;
            args.thresholds = Some(crate::domain::findings::Thresholds {
                warn: check.warn,
                crit: check.crit,
                ca_warn: check.ca_warn,
                ca_crit: check.ca_crit,
            });
            let mut renew: RenewArgs =
                cli::defaults().map_err(|err| usage(err.to_string(), exit))?;
            renew.within = Some(None);
            resolver.renew(&mut renew, None);
            args.renew = Some((
                renew.within.flatten().unwrap_or(DEFAULT_WITHIN),
                renew.validity,
            ));
        }
        _ => {}
    }
    Ok(resolver.settings)
}

/// `kubecred config`: the effective settings, or `--from-env-file`'s migration.
pub(crate) fn run(
    args: &ConfigArgs,
    format: Format,
    loaded: &Loaded,
    settings: &[Setting],
) -> Result<u8> {
    if let Some(source) = &args.from_env_file {
        return from_env_file(source);
    }
    let text = match format {
        Format::Json => render::config::json(settings, &loaded.path, loaded.present),
        Format::Table => render::config::table(settings),
        Format::Nagios | Format::Prometheus => {
            let message = "config prints table or json; nagios and prometheus are for `check`";
            return Err(usage(message.into(), 2).into());
        }
    };
    print(&text)?;
    Ok(0)
}

/// Prints the configuration file made from an old environment file; what
/// could not be carried over is also said on stderr.
pub(crate) fn from_env_file(source: &Path) -> Result<u8> {
    let text = crate::edge::config::read_env_file(source).map_err(|message| PathError {
        message,
        path: source.to_path_buf(),
        hint: None,
        exit: 1,
    })?;
    let migrated = env_file::migrate(&text, &source.to_string_lossy(), &defaults()?);
    for line in &migrated.left_over {
        eprintln!(
            "kubecred: not carried over: {}",
            render::text::printable(line)
        );
    }
    print(&migrated.toml)?;
    Ok(0)
}

/// Every setting's built-in default.
fn defaults() -> Result<Layer> {
    let global: Global = cli::defaults()?;
    let check: CheckArgs = cli::defaults()?;
    let renew: RenewArgs = cli::defaults()?;
    let mut layer = Layer::default();
    layer.set(Key::KubernetesDir, Value::Path(global.kubernetes_dir));
    layer.set(Key::StateDir, Value::Path(global.state_dir));
    layer.set(Key::Copies, Value::Globs(default_copies()));
    layer.set(Key::Warn, Value::Duration(check.warn));
    layer.set(Key::Crit, Value::Duration(check.crit));
    layer.set(Key::CaWarn, Value::Duration(check.ca_warn));
    layer.set(Key::CaCrit, Value::Duration(check.ca_crit));
    layer.set(Key::Textfile, Value::Path(DEFAULT_TEXTFILE.into()));
    layer.set(Key::RenewWithin, Value::Duration(DEFAULT_WITHIN));
    layer.set(Key::RenewValidity, Value::Duration(renew.validity));
    layer.set(Key::RenewRestart, Value::Restart(policy(renew.restart)));
    layer.set(
        Key::RenewRestartTimeout,
        Value::Duration(renew.restart_timeout),
    );
    Ok(layer)
}

fn default_copies() -> Vec<String> {
    DEFAULT_COPIES
        .iter()
        .map(|glob| (*glob).to_owned())
        .collect()
}

fn refused(err: LoadError, exit: u8) -> PathError {
    PathError {
        message: err.message,
        path: err.path,
        hint: Some(format!(
            "fix it, or name another file with {}",
            crate::domain::config::CONFIG_VAR
        )),
        exit,
    }
}

fn usage(message: String, exit: u8) -> PathError {
    PathError {
        message,
        path: PathBuf::new(),
        hint: None,
        exit,
    }
}

/// Whether the command line itself gave `id`.
fn given(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_some_and(|matches| matches.value_source(id) == Some(ValueSource::CommandLine))
}

fn policy(restart: RestartArg) -> RestartPolicy {
    match restart {
        RestartArg::Auto => RestartPolicy::Auto,
        RestartArg::Never => RestartPolicy::Never,
    }
}

/// Picks each setting's value by the layers' order and records its source.
struct Resolver<'a> {
    loaded: &'a Loaded,
    settings: Vec<Setting>,
}

impl Resolver<'_> {
    fn pick(&mut self, key: Key, flag: Option<Value>, default: Value) -> (Value, bool) {
        let (value, source) = if let Some(value) = flag {
            (value, Source::Flag)
        } else if let Some(value) = self.loaded.env.get(key) {
            (value.clone(), Source::Env(key.env()))
        } else if let Some(value) = self.loaded.file.get(key) {
            (value.clone(), Source::File(self.loaded.path.clone()))
        } else {
            (default, Source::Default)
        };
        let defaulted = source == Source::Default;
        self.settings.push(Setting {
            key,
            value: value.clone(),
            source,
        });
        (value, defaulted)
    }

    fn path(&mut self, key: Key, flag: Option<PathBuf>, default: PathBuf) -> (PathBuf, bool) {
        match self.pick(key, flag.map(Value::Path), Value::Path(default.clone())) {
            (Value::Path(path), defaulted) => (path, defaulted),
            (_, defaulted) => (default, defaulted),
        }
    }

    fn duration(
        &mut self,
        key: Key,
        flag: Option<time::Duration>,
        default: time::Duration,
    ) -> time::Duration {
        match self.pick(key, flag.map(Value::Duration), Value::Duration(default)) {
            (Value::Duration(duration), _) => duration,
            _ => default,
        }
    }

    fn global(&mut self, global: &mut Global, matches: &ArgMatches) {
        let matches = Some(matches);
        let flag = given(matches, "kubernetes_dir").then(|| global.kubernetes_dir.clone());
        global.kubernetes_dir = self
            .path(Key::KubernetesDir, flag, global.kubernetes_dir.clone())
            .0;
        let (cert_dir, defaulted) = self.path(
            Key::CertDir,
            global.cert_dir.clone(),
            global.kubernetes_dir.join("pki"),
        );
        if !defaulted {
            global.cert_dir = Some(cert_dir);
        }
        let flag = given(matches, "state_dir").then(|| global.state_dir.clone());
        global.state_dir = self.path(Key::StateDir, flag, global.state_dir.clone()).0;
        let flag = if global.no_copies {
            Some(Value::Globs(Vec::new()))
        } else if global.copies.is_empty() {
            None
        } else {
            Some(Value::Globs(global.copies.clone()))
        };
        if let (Value::Globs(globs), _) =
            self.pick(Key::Copies, flag, Value::Globs(default_copies()))
        {
            if globs.is_empty() {
                global.no_copies = true;
            } else {
                global.copies = globs;
            }
        }
    }

    fn check(
        &mut self,
        args: &mut CheckArgs,
        matches: Option<&ArgMatches>,
        exit: u8,
    ) -> Result<(), PathError> {
        let first = self.settings.len();
        for (key, id, field) in [
            (Key::Warn, "warn", &mut args.warn),
            (Key::Crit, "crit", &mut args.crit),
            (Key::CaWarn, "ca_warn", &mut args.ca_warn),
            (Key::CaCrit, "ca_crit", &mut args.ca_crit),
        ] {
            *field = self.duration(key, given(matches, id).then_some(*field), *field);
        }
        let flag = args.textfile.clone().flatten();
        let (configured, _) = self.path(Key::Textfile, flag, DEFAULT_TEXTFILE.into());
        if args.textfile == Some(None) {
            args.textfile = Some(Some(configured));
        }
        // A critical threshold longer than its warning one, named by where each came from.
        let settings = self.settings.get(first..).unwrap_or_default();
        let find = |key: Key| settings.iter().find(|setting| setting.key == key);
        for (crit, warn) in [(Key::Crit, Key::Warn), (Key::CaCrit, Key::CaWarn)] {
            if let (Some(crit), Some(warn)) = (find(crit), find(warn))
                && let (Value::Duration(long), Value::Duration(short)) = (&crit.value, &warn.value)
                && long > short
            {
                return Err(usage(
                    format!(
                        "{} {} must not be longer than {} {}",
                        named(crit),
                        span::exact(*long),
                        named(warn),
                        span::exact(*short)
                    ),
                    exit,
                ));
            }
        }
        Ok(())
    }

    fn renew(&mut self, args: &mut RenewArgs, matches: Option<&ArgMatches>) {
        let flag = args.within.flatten();
        let within = self.duration(Key::RenewWithin, flag, DEFAULT_WITHIN);
        if args.within == Some(None) {
            args.within = Some(Some(within));
        }
        args.validity = self.duration(
            Key::RenewValidity,
            given(matches, "validity").then_some(args.validity),
            args.validity,
        );
        let flag = given(matches, "restart").then(|| Value::Restart(policy(args.restart)));
        if let (Value::Restart(restart), _) = self.pick(
            Key::RenewRestart,
            flag,
            Value::Restart(policy(args.restart)),
        ) {
            args.restart = match restart {
                RestartPolicy::Auto => RestartArg::Auto,
                RestartPolicy::Never => RestartArg::Never,
            };
        }
        args.restart_timeout = self.duration(
            Key::RenewRestartTimeout,
            given(matches, "restart_timeout").then_some(args.restart_timeout),
            args.restart_timeout,
        );
    }
}

/// A setting as the operator set it: `--crit`, `KUBECRED_CRIT`, `check.crit in FILE`.
fn named(setting: &Setting) -> String {
    match &setting.source {
        Source::Flag | Source::Default => setting.key.flag().to_owned(),
        Source::Env(name) => (*name).to_owned(),
        Source::File(file) => format!("{} in {}", setting.key.name(), render::text::path(file)),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, FromArgMatches as _};

    use super::*;

    fn loaded(file: &str, env: &[(Key, &str)]) -> Loaded {
        let vars: Vec<_> = env
            .iter()
            .map(|(key, value)| (*key, Some((*value).into())))
            .collect();
        Loaded {
            path: "/etc/kubecred/config.toml".into(),
            present: true,
            file: crate::domain::config::parse_file(file).unwrap(),
            env: crate::domain::config::parse_env(&vars).unwrap(),
        }
    }

    fn resolved(args: &[&str], loaded: &Loaded) -> Result<(Cli, Vec<Setting>), PathError> {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        let settings = resolve(&mut cli, &matches, loaded)?;
        Ok((cli, settings))
    }

    fn source(settings: &[Setting], key: Key) -> &Source {
        &settings
            .iter()
            .find(|setting| setting.key == key)
            .unwrap()
            .source
    }

    #[test]
    fn each_layer_beats_the_one_below() {
        let loaded = loaded(
            "[check]\nwarn = \"45d\"\ncrit = \"20d\"\nca_warn = \"2y\"\n",
            &[(Key::Crit, "10d"), (Key::CaWarn, "500d")],
        );
        let (cli, settings) =
            resolved(&["kubecred", "check", "--ca-warn", "400d"], &loaded).unwrap();
        let Command::Check(check) = cli.command else {
            panic!("check parses as check");
        };
        assert_eq!(
            check.warn,
            time::Duration::days(45),
            "the file beats the default"
        );
        assert_eq!(
            check.crit,
            time::Duration::days(10),
            "the environment beats the file"
        );
        assert_eq!(
            check.ca_warn,
            time::Duration::days(400),
            "the flag beats the environment"
        );
        assert_eq!(
            check.ca_crit,
            time::Duration::days(90),
            "nothing set: the default"
        );
        assert_eq!(check.textfile, None, "a plain check writes no textfile");
        assert_eq!(
            source(&settings, Key::Warn),
            &Source::File("/etc/kubecred/config.toml".into())
        );
        assert_eq!(source(&settings, Key::Crit), &Source::Env("KUBECRED_CRIT"));
        assert_eq!(source(&settings, Key::CaWarn), &Source::Flag);
        assert_eq!(source(&settings, Key::CaCrit), &Source::Default);
    }

    #[test]
    fn globals_take_the_file_unless_a_flag_is_given() {
        let loaded = loaded(
            "kubernetes_dir = \"/srv/k8s\"\nstate_dir = \"/srv/state\"\ncopies = []\n",
            &[],
        );
        let (cli, settings) =
            resolved(&["kubecred", "--state-dir", "/flag", "inspect"], &loaded).unwrap();
        assert_eq!(cli.global.kubernetes_dir, Path::new("/srv/k8s"));
        assert_eq!(cli.global.cert_dir, None, "follows the kubernetes dir");
        assert_eq!(cli.global.state_dir, Path::new("/flag"));
        assert!(cli.global.no_copies, "`copies = []` looks nowhere");
        assert_eq!(source(&settings, Key::CertDir), &Source::Default);
        let (cli, _) =
            resolved(&["kubecred", "inspect", "--copies", "/x/config"], &loaded).unwrap();
        assert!(!cli.global.no_copies);
        assert_eq!(cli.global.copies, ["/x/config"]);
    }

    #[test]
    fn a_bare_flag_takes_the_configured_value() {
        let loaded = loaded(
            "[check]\ntextfile = \"/srv/m.prom\"\n[renew]\nwithin = \"60d\"\nrestart = \"auto\"\n",
            &[],
        );
        let (cli, _) = resolved(&["kubecred", "check", "--textfile"], &loaded).unwrap();
        let Command::Check(check) = cli.command else {
            panic!("check parses as check");
        };
        assert_eq!(check.textfile, Some(Some("/srv/m.prom".into())));
        let (cli, _) = resolved(&["kubecred", "renew", "--within", "--yes"], &loaded).unwrap();
        let Command::Renew(renew) = cli.command else {
            panic!("renew parses as renew");
        };
        assert_eq!(renew.within, Some(Some(time::Duration::days(60))));
        assert_eq!(renew.restart, RestartArg::Auto);
        let (cli, _) = resolved(&["kubecred", "renew", "--restart", "never"], &loaded).unwrap();
        let Command::Renew(renew) = cli.command else {
            panic!("renew parses as renew");
        };
        assert_eq!(renew.within, None, "a plain renew renews what it names");
        assert_eq!(renew.restart, RestartArg::Never);
    }

    #[test]
    fn a_critical_threshold_past_its_warning_names_where_each_came_from() {
        let loaded = loaded("[check]\nwarn = \"7d\"\n", &[]);
        let err = resolved(&["kubecred", "check", "--crit", "14d"], &loaded).unwrap_err();
        assert_eq!(
            err.message,
            "--crit 14d must not be longer than check.warn in /etc/kubecred/config.toml 7d"
        );
        assert_eq!(err.exit, 3);
    }
}
