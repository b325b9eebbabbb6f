//! The command line, declared once: parsing, help, completions and the man
//! page all come from here. No I/O.

use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::domain::span;

/// Inspect, check and repair the credentials of a kubeadm control-plane node.
#[derive(Debug, Parser)]
#[command(name = "kubecred", version, about, long_about = None, after_help = EXIT_HELP)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_HELP: &str = "\
Exit status of `check`: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
Exit status of other commands: 0 success, 1 failed (nothing changed), 2 usage,
4 failed and the host could not be restored (the message names the backup).";

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Where the kubeconfigs live [env: KUBECRED_KUBERNETES_DIR] [config: kubernetes_dir]
    #[arg(
        long,
        global = true,
        default_value = "/etc/kubernetes",
        value_name = "DIR"
    )]
    pub kubernetes_dir: PathBuf,
    /// kubeadm's certificatesDir [default: <kubernetes-dir>/pki] [env: KUBECRED_CERT_DIR] [config: cert_dir]
    #[arg(long, global = true, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Where backups, the journal and the lock live [env: KUBECRED_STATE_DIR] [config: state_dir]
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/kubecred",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,
    /// Output format (`check` also takes nagios and prometheus)
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table, value_name = "FORMAT")]
    pub output: Output,
    /// When to colour tables (`NO_COLOR` is honoured)
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Say less on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Where stale copies of the admin credential are looked for (repeatable)
    /// [default: /root/.kube/config, /home/*/.kube/config] [env: KUBECRED_COPIES, globs
    /// separated by `:`] [config: copies]
    #[arg(long = "copies", global = true, value_name = "GLOB")]
    pub copies: Vec<String>,
    /// Do not look for stale copies of the admin credential
    #[arg(long, global = true, conflicts_with = "copies")]
    pub no_copies: bool,
}

/// The default places of admin.conf copies.
pub const DEFAULT_COPIES: &[&str] = &["/root/.kube/config", "/home/*/.kube/config"];

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people
    Table,
    /// JSON (schemaVersion 1)
    Json,
    /// A monitoring-plugin status line with perfdata (check only)
    Nagios,
    /// Prometheus text exposition (check only)
    Prometheus,
}

/// When to use colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stdout is a terminal and `NO_COLOR` is unset
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every credential of the node (or of the files and folders named)
    Inspect(InspectArgs),
    /// Judge the node's credentials against what kubeadm expects
    Check(CheckArgs),
    /// Renew certificates as `kubeadm certs renew` does: planned, backed up, verified, atomic
    Renew(RenewArgs),
    /// Move this node to the admin.conf / super-admin.conf split, verified against the API server
    Migrate(MigrateArgs),
    /// List backups, or restore one (after backing up the current state)
    Rollback(RollbackArgs),
    /// Repair what an interrupted run left half-done (at boot, before the kubelet)
    Recover(RecoverArgs),
    /// Walk through the node's state and what to do about it, at a terminal
    Wizard(WizardArgs),
    /// Write a realistic kubeadm 1.28-style node into DIR to try kubecred on
    Demo(DemoArgs),
    /// Print the effective configuration and where each value came from (flag, environment, file, default)
    Config(ConfigArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print a man page (roff): kubecred(1), or kubecred-COMMAND(1)
    Man(ManArgs),
}

/// `inspect` arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Files (kubeconfig, PEM certificate or bundle) or folders to read instead of the node
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also show what the running components use: TLS handshakes to their ports, their start times
    #[arg(long, conflicts_with = "paths")]
    pub live: bool,
}

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Warn when a certificate expires within this (30d, 720h, 1y) [env: KUBECRED_WARN] [config: check.warn]
    #[arg(long, default_value = "30d", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub warn: time::Duration,
    /// Critical when a certificate expires within this [env: KUBECRED_CRIT] [config: check.crit]
    #[arg(long, default_value = "7d", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub crit: time::Duration,
    /// Warn when a CA expires within this [env: KUBECRED_CA_WARN] [config: check.ca_warn]
    #[arg(long, default_value = "365d", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub ca_warn: time::Duration,
    /// Critical when a CA expires within this [env: KUBECRED_CA_CRIT] [config: check.ca_crit]
    #[arg(long, default_value = "90d", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub ca_crit: time::Duration,
    /// Also write Prometheus metrics to this file, atomically (`node_exporter` textfile collector);
    /// bare: to the configured one [default: /var/lib/node_exporter/textfile_collector/kubecred.prom]
    /// [env: KUBECRED_TEXTFILE] [config: check.textfile]
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub textfile: Option<Option<PathBuf>>,
    /// Also ask the API server whether the kubeadm:cluster-admins binding exists
    #[arg(long)]
    pub online: bool,
    /// API server URL [default: the kubeconfig's]
    #[arg(long, value_name = "URL", requires = "online")]
    pub server: Option<String>,
    /// How long to keep retrying the API server
    #[arg(long, default_value = "60s", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub api_timeout: time::Duration,
    /// Also judge whether each running component uses the credential on disk (TLS handshakes to its ports, its start time)
    #[arg(long)]
    pub live: bool,
}

/// `migrate` arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// How to write: plan only, confirmation, lock.
    #[command(flatten)]
    pub write: WriteArgs,
    /// Make no API calls: write the binding manifest next to the backup and leave the new admin.conf unverified
    #[arg(long)]
    pub offline: bool,
    /// Write super-admin.conf here instead of the kubernetes dir (removable media, a vault drop folder)
    #[arg(long, value_name = "PATH", conflicts_with = "no_super_admin")]
    pub super_admin_out: Option<PathBuf>,
    /// Write no super-admin.conf (normal on joined nodes: break-glass access then needs another node's)
    #[arg(long)]
    pub no_super_admin: bool,
    /// With --offline --no-super-admin: you hold a system:masters credential to apply the binding with
    #[arg(long, requires = "no_super_admin")]
    pub i_have_another_break_glass_credential: bool,
    /// Rewrite the stale copies found (root's and users' ~/.kube/config) with the new admin credential
    #[arg(long)]
    pub update_copies: bool,
    /// API server URL [default: admin.conf's]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// How long to keep retrying the API server [default: 60s]
    #[arg(long, value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub api_timeout: Option<time::Duration>,
    /// Lifetime of the new certificates, capped at the CA's [default: 8760h]
    #[arg(long, value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub validity: Option<time::Duration>,
    /// Issue although the node clock disagrees with the certificates' dates (it is right: the node was off that long); never past the CA
    #[arg(long)]
    pub trust_clock: bool,
}

/// The switches every writing command takes, defined once.
#[derive(Clone, Copy, Debug, Default, Args)]
pub struct WriteArgs {
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// Wait up to DUR (bare: 10m) for another kubecred run to finish instead of failing at once
    #[arg(long, value_parser = duration, value_name = "DUR", num_args = 0..=1, default_missing_value = "10m")]
    pub wait: Option<time::Duration>,
}

/// `renew` arguments.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// `all`, or kubeadm names: admin.conf, apiserver, apiserver-etcd-client,
    /// apiserver-kubelet-client, controller-manager.conf, etcd-healthcheck-client,
    /// etcd-peer, etcd-server, front-proxy-client, scheduler.conf, super-admin.conf
    #[arg(value_name = "NAME", default_value = "all", value_parser = RenewableName, hide_possible_values = true)]
    pub names: Vec<String>,
    /// Renew only what expires within this (30d, 720h); nothing due exits 0; bare: within the
    /// configured one [default: 30d] [env: KUBECRED_RENEW_WITHIN] [config: renew.within]
    #[arg(long, value_parser = duration, value_name = "DUR", num_args = 0..=1)]
    pub within: Option<Option<time::Duration>>,
    /// Lifetime of the new certificates, capped at the CA's [env: KUBECRED_RENEW_VALIDITY] [config: renew.validity]
    #[arg(long, default_value = RENEW_VALIDITY, value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub validity: time::Duration,
    /// Algorithm of the new keys (auto: the one of the key being replaced)
    #[arg(long, value_enum, default_value_t = KeyAlgorithmArg::Auto, value_name = "ALG")]
    pub key_algorithm: KeyAlgorithmArg,
    /// Keep each certificate's existing private key
    #[arg(long, conflicts_with = "key_algorithm")]
    pub reuse_key: bool,
    /// Renew although the node clock disagrees with the certificates' dates (it is right: the node was off that long); never past a CA
    #[arg(long)]
    pub trust_clock: bool,
    /// With `all`: renew nothing when one credential cannot be renewed (default: renew the others, exit 1)
    #[arg(long)]
    pub all_or_nothing: bool,
    /// After the renewal, restart the static pods that do not reload what was renewed, one at a time, each until it uses the new credentials (never: only name them) [env: KUBECRED_RENEW_RESTART] [config: renew.restart]
    #[arg(long, value_enum, default_value_t = RestartArg::Never, value_name = "WHEN")]
    pub restart: RestartArg,
    /// How long each restart may take; past it the manifest is put back and the run fails [env: KUBECRED_RENEW_RESTART_TIMEOUT] [config: renew.restart_timeout]
    #[arg(long, default_value = "120s", value_parser = duration, value_name = "DUR")]
    pub restart_timeout: time::Duration,
    /// Restart etcd even when its quorum gate refuses (a two-member cluster, another member not known healthy)
    #[arg(long)]
    pub force_etcd_restart: bool,
    /// Also rewrite the copies of admin.conf's credential (~/.kube/config, see --copies) with the one admin.conf holds after the run, in the same transaction (nothing due: the stale copies alone)
    #[arg(long)]
    pub update_copies: bool,
    /// How to write: plan only, confirmation, lock.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// A `renew` argument: any word (renew itself names what it cannot renew),
/// with `all` and the renewable kubeadm names as the values completions offer.
#[derive(Clone, Copy, Debug)]
struct RenewableName;

impl clap::builder::TypedValueParser for RenewableName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            std::iter::once("all")
                .chain(crate::domain::renew::renewable())
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// The lifetime `renew` gives new certificates by default: kubeadm's
/// `certificateValidityPeriod` default.
pub const RENEW_VALIDITY: &str = "8760h";

/// Whether `renew` restarts the components that must load what it renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestartArg {
    /// Restart them: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, in that order, one at a time
    Auto,
    /// Name them; restart nothing
    Never,
}

/// Key algorithms `renew` can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithmArg {
    /// The algorithm of the key being replaced
    Auto,
    /// RSA-2048
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// RSA-3072
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// RSA-4096
    #[value(name = "rsa-4096")]
    Rsa4096,
    /// ECDSA P-256
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA P-384
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
}

/// `rollback` arguments.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// List the backups
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    /// The backup to restore (see --list)
    #[arg(value_name = "ID", required_unless_present = "list")]
    pub id: Option<String>,
    /// Restore a backup taken of another kubernetes dir into that dir, not into --kubernetes-dir
    #[arg(long, conflicts_with = "list")]
    pub into_original: bool,
    /// How to write: plan only, confirmation, lock.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `recover` arguments.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Wait up to DUR (bare: 10m) for another kubecred run to finish instead of failing at once
    #[arg(long, value_parser = duration, value_name = "DUR", num_args = 0..=1, default_missing_value = "10m")]
    pub wait: Option<time::Duration>,
}

/// `wizard` arguments.
#[derive(Debug, Args)]
pub struct WizardArgs {
    /// API server URL [default: admin.conf's]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// How long to wait for the API server before calling it unreachable
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "DUR", allow_hyphen_values = true)]
    pub api_timeout: time::Duration,
    /// The thresholds the node is judged by: the configuration's (set when
    /// it is applied), else the defaults.
    #[arg(skip)]
    pub thresholds: Option<crate::domain::findings::Thresholds>,
    /// The renewal window and validity offered: the configuration's (set
    /// when it is applied), else the defaults.
    #[arg(skip)]
    pub renew: Option<(time::Duration, time::Duration)>,
}

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to create (must not exist, or be empty)
    #[arg(default_value = "kubecred-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Key algorithm of every key, as kubeadm's encryptionAlgorithm
    #[arg(long, value_enum, default_value_t = DemoKeys::Rsa2048, value_name = "ALG")]
    pub key_algorithm: DemoKeys,
}

/// Key algorithms the demo can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoKeys {
    /// RSA-2048 (kubeadm's default)
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// ECDSA P-256
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

/// `config` arguments.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print, instead, the configuration file made from an environment file of
    /// the first packages (`/etc/default/kubecred`, `/etc/sysconfig/kubecred`)
    #[arg(long, value_name = "PATH")]
    pub from_env_file: Option<PathBuf>,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page: kubecred (the default) or kubecred-COMMAND
    #[arg(
        value_name = "PAGE",
        default_value = "kubecred",
        conflicts_with = "list"
    )]
    pub page: String,
    /// Print the names of all pages, one per line
    #[arg(long)]
    pub list: bool,
}

/// The arguments of a command line that names none: every flag at its
/// declared default, a required one left unset. What the wizard starts from,
/// so that no default is written twice.
pub fn defaults<T: Args + FromArgMatches>() -> Result<T, clap::Error> {
    let command = T::augment_args(
        clap::Command::new("defaults")
            .no_binary_name(true)
            .ignore_errors(true),
    );
    T::from_arg_matches(&command.try_get_matches_from(std::iter::empty::<&str>())?)
}

fn duration(text: &str) -> Result<time::Duration, String> {
    span::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_declared_ones() {
        let renew: RenewArgs = defaults().unwrap();
        assert_eq!(renew.names, ["all"]);
        assert_eq!(renew.within, None);
        assert_eq!(renew.restart, RestartArg::Never);
        assert_eq!(renew.validity, time::Duration::hours(8760));
        assert_eq!(renew.key_algorithm, KeyAlgorithmArg::Auto);
        assert!(!renew.reuse_key && !renew.trust_clock && !renew.all_or_nothing);
        assert_eq!(renew.restart_timeout, time::Duration::seconds(120));
        assert!(!renew.write.dry_run && !renew.write.yes && renew.write.wait.is_none());
        let rollback: RollbackArgs = defaults().unwrap();
        assert!(!rollback.list && rollback.id.is_none() && !rollback.into_original);
        let parsed = Cli::try_parse_from(["kubecred", "renew"]).unwrap();
        let Command::Renew(parsed) = parsed.command else {
            panic!("renew parses as renew");
        };
        assert_eq!(format!("{parsed:?}"), format!("{renew:?}"));
    }

    #[test]
    fn a_bare_within_or_textfile_asks_for_the_configured_value() {
        let parsed =
            Cli::try_parse_from(["kubecred", "renew", "all", "--within", "--yes"]).unwrap();
        let Command::Renew(renew) = parsed.command else {
            panic!("renew parses as renew");
        };
        assert_eq!(renew.within, Some(None));
        assert!(renew.write.yes);
        let parsed = Cli::try_parse_from(["kubecred", "check", "--textfile", "-q"]).unwrap();
        let Command::Check(check) = parsed.command else {
            panic!("check parses as check");
        };
        assert_eq!(check.textfile, Some(None));
        assert!(parsed.global.quiet);
        let parsed = Cli::try_parse_from(["kubecred", "check", "--textfile", "/m.prom"]).unwrap();
        let Command::Check(check) = parsed.command else {
            panic!("check parses as check");
        };
        assert_eq!(check.textfile, Some(Some(PathBuf::from("/m.prom"))));
    }
}
