//! The manual pages, rendered from the command line's own definition:
//! `kubecred(1)` with FILES, ENVIRONMENT, EXIT STATUS, EXAMPLES and SEE ALSO,
//! and one `kubecred-COMMAND(1)` page per subcommand. No I/O.

use clap::CommandFactory as _;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, roman};

use crate::ui::cli::Cli;

/// The names of every page, `kubecred` first, then `kubecred-COMMAND` in the
/// order of the commands.
pub fn names() -> Vec<String> {
    let command = built();
    std::iter::once("kubecred".to_owned())
        .chain(command.get_subcommands().map(page_name))
        .collect()
}

/// The roff source of one page (`kubecred`, `kubecred-COMMAND` or just
/// `COMMAND`), or `None` for a name that is not a page.
pub fn page(name: &str) -> Option<Vec<u8>> {
    let command = built();
    if name == "kubecred" {
        return Some(main_page(command));
    }
    let sub = command
        .get_subcommands()
        .find(|sub| page_name(sub) == name || sub.get_name() == name)?
        .clone();
    Some(command_page(sub))
}

/// The command line as clap builds it: display names such as
/// `kubecred-check`, global options copied into every command.
fn built() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

fn page_name(sub: &clap::Command) -> String {
    sub.get_display_name()
        .map_or_else(|| format!("kubecred-{}", sub.get_name()), str::to_owned)
}

fn main_page(command: clap::Command) -> Vec<u8> {
    let see_also: Vec<String> = command.get_subcommands().map(page_name).collect();
    // EXIT STATUS replaces the help's exit-status note (clap's EXTRA section).
    let command = command
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    let mut roff = Roff::new();
    exit_status(&mut roff, true, true);
    files(&mut roff);
    environment(&mut roff);
    examples(&mut roff);
    references(&mut roff, &see_also);
    splice(&Man::new(command).source(source()), &roff)
}

fn command_page(command: clap::Command) -> Vec<u8> {
    let is_check = command.get_name() == "check";
    let mut roff = Roff::new();
    exit_status(&mut roff, is_check, !is_check);
    references(&mut roff, &["kubecred".to_owned()]);
    splice(&Man::new(command).source(source()), &roff)
}

/// The footer's source: the package and its version.
fn source() -> String {
    format!("kubecred {}", env!("CARGO_PKG_VERSION"))
}

/// clap's page (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS, VERSION) with
/// `sections` before VERSION.
fn splice(man: &Man, sections: &Roff) -> Vec<u8> {
    let mut page = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render(&mut page);
    let page = String::from_utf8_lossy(&page).into_owned();
    let rendered = sections.render();
    // Every rendering starts with the same definition of \*(Aq: keep one.
    let body = rendered
        .find("\n.SH ")
        .map_or(rendered.as_str(), |at| &rendered[at + 1..]);
    let at = page.find("\n.SH VERSION").map_or(page.len(), |at| at + 1);
    let mut out = String::with_capacity(page.len() + body.len());
    out.push_str(&page[..at]);
    out.push_str(body);
    out.push_str(&page[at..]);
    out.into_bytes()
}

/// A `.TP` entry: a bold term, then its text.
fn entry(roff: &mut Roff, term: &str, text: &str) {
    roff.control("TP", [] as [&str; 0]);
    roff.text([bold(term)]);
    roff.text([roman(text)]);
}

fn exit_status(roff: &mut Roff, check: bool, others: bool) {
    roff.control("SH", ["EXIT STATUS"]);
    if check {
        if others {
            roff.text([bold("check"), roman(", as a monitoring plugin:")]);
        }
        for (code, text) in [
            ("0", "OK: nothing to report."),
            (
                "1",
                "WARNING: something expires within --warn, or needs attention.",
            ),
            (
                "2",
                "CRITICAL: something expired, expires within --crit, or is broken.",
            ),
            (
                "3",
                "UNKNOWN: the check could not be made (no kubeadm layout, a bad option or setting, the textfile not writable).",
            ),
        ] {
            entry(roff, code, text);
        }
    }
    if others {
        if check {
            roff.control("PP", [] as [&str; 0]);
            roff.text([roman("Every other command:")]);
        }
        for (code, text) in [
            (
                "0",
                "Success; renew --within with nothing due is a success too.",
            ),
            ("1", "Failed; nothing was changed."),
            ("2", "Usage error: an unknown option or a bad value."),
            (
                "4",
                "Failed, and the host could not be restored; the message names the backup to restore with kubecred rollback.",
            ),
        ] {
            entry(roff, code, text);
        }
    }
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    for (path, text) in [
        (
            "/etc/kubernetes",
            "kubeadm's kubeconfigs (admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf, kubelet.conf) and static pod manifests; --kubernetes-dir.",
        ),
        (
            "/etc/kubernetes/pki",
            "kubeadm's certificatesDir: the CAs, the leaf certificates and their keys; --cert-dir.",
        ),
        (
            "/var/lib/kubecred",
            "kubecred's state: backups/ (one folder per backup, holding private keys), the journal of a change in progress, the lock; --state-dir. Kept when the package is removed.",
        ),
        (
            "/root/.kube/config, /home/*/.kube/config",
            "where copies of admin.conf are looked for; --copies, --no-copies.",
        ),
        (
            "/var/lib/node_exporter/textfile_collector/kubecred.prom",
            "the metrics the packaged hourly check writes for node_exporter's textfile collector (check --textfile).",
        ),
        (
            crate::domain::config::DEFAULT_PATH,
            "the configuration (TOML): directories, copies, check's thresholds and textfile, renew's window, validity and restart policy; read by every command, so a hand-run check judges as the timer does (kubecred config shows each value and its source). Made by the package from /usr/share/kubecred/config.toml; KUBECRED_CONFIG names another file.",
        ),
    ] {
        entry(roff, path, text);
    }
}

fn environment(roff: &mut Roff) {
    use crate::domain::config::{CONFIG_VAR, DEFAULT_PATH, Key};
    roff.control("SH", ["ENVIRONMENT"]);
    entry(
        roff,
        CONFIG_VAR,
        &format!("the configuration file to read instead of {DEFAULT_PATH}; it must exist."),
    );
    for key in Key::ALL {
        entry(
            roff,
            key.env(),
            &format!(
                "the setting {} of the configuration file, for this run; {} overrides it.",
                key.name(),
                key.flag()
            ),
        );
    }
    entry(
        roff,
        "NO_COLOR",
        "when set, tables are not coloured (--color auto).",
    );
}

fn examples(roff: &mut Roff) {
    roff.control("SH", ["EXAMPLES"]);
    for (what, command) in [
        ("Show every credential of this node:", "kubecred inspect"),
        (
            "Check it as a monitoring plugin would:",
            "kubecred check --warn 30d --crit 7d -o nagios",
        ),
        (
            "Write the metrics for node_exporter:",
            "kubecred check -q --textfile /var/lib/node_exporter/textfile_collector/kubecred.prom",
        ),
        (
            "See what would be renewed, then renew what expires within 30 days:",
            "kubecred renew all --within 30d --dry-run",
        ),
        ("", "kubecred renew all --within 30d --yes"),
        (
            "List the backups and restore one:",
            "kubecred rollback --list",
        ),
        ("", "kubecred rollback ID"),
        (
            "Try kubecred on a made-up node:",
            "kubecred demo /tmp/node && kubecred --kubernetes-dir /tmp/node check",
        ),
    ] {
        if !what.is_empty() {
            roff.control("PP", [] as [&str; 0]);
            roff.text([roman(what)]);
        }
        roff.control("RS", ["4"]);
        roff.text([bold(command)]);
        roff.control("RE", [] as [&str; 0]);
    }
}

fn references(roff: &mut Roff, pages: &[String]) {
    roff.control("SH", ["SEE ALSO"]);
    // Page names are not hyphenated.
    roff.control("nh", [] as [&str; 0]);
    let mut inlines: Vec<Inline> = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        if index > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(page.as_str()));
        inlines.push(roman("(1)"));
    }
    roff.text(inlines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_command_and_every_reference_has_a_page() {
        let names = names();
        assert_eq!(names[0], "kubecred");
        assert!(names.contains(&"kubecred-check".to_owned()), "{names:?}");
        assert!(!names.iter().any(|n| n == "kubecred-help"), "{names:?}");
        for name in &names {
            let page = String::from_utf8(page(name).unwrap()).unwrap();
            assert!(page.contains(&format!("\n.TH {name} 1 ")), "{name}");
            assert!(page.contains(".SH \"EXIT STATUS\""), "{name}");
        }
        assert!(page("kubecred-nosuch").is_none());
    }
}
