//! The component processes, from the proc filesystem: each one's command line
//! and start time (the boot time of `stat` plus the process's start in clock
//! ticks, field 22 of `<pid>/stat`).

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use time::{Duration, OffsetDateTime};

use crate::domain::live::Process;

/// The most kubecred reads of one proc file: command lines are short.
const MAX_PROC_BYTES: u64 = 256 * 1024;

/// The processes whose program (the base name of `argv[0]`) is one of `programs`.
pub(super) fn list(root: &Path, programs: &[&str]) -> Result<Vec<Process>, String> {
    let entries = std::fs::read_dir(root).map_err(|err| {
        format!(
            "cannot list the processes in {} ({})",
            root.display(),
            err.kind()
        )
    })?;
    let boot = boot_time(root);
    let ticks = rustix::param::clock_ticks_per_second();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        // A process can end at any moment: one whose files are gone is skipped.
        let Ok(cmdline) = small(&dir.join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|byte| *byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .skip_while(String::is_empty)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let program = argv
            .first()
            .and_then(|arg0| Path::new(arg0).file_name())
            .and_then(|name| name.to_str());
        if !program.is_some_and(|program| programs.contains(&program)) {
            continue;
        }
        let started = boot.clone().and_then(|boot| {
            let fields = small(&dir.join("stat")).map_err(|why| format!("{pid}/stat: {why}"))?;
            let start =
                start_ticks(&fields).ok_or_else(|| format!("{pid}/stat has no start time"))?;
            since_boot(boot, start, ticks)
        });
        found.push(Process { pid, argv, started });
    }
    found.sort_by_key(|process| process.pid);
    Ok(found)
}

/// The boot time from `<root>/stat` (`btime`, whole seconds).
fn boot_time(root: &Path) -> Result<OffsetDateTime, String> {
    let stat = small(&root.join("stat")).map_err(|why| format!("stat: {why}"))?;
    let text = String::from_utf8_lossy(&stat);
    let seconds = text
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse::<i64>().ok())
        .ok_or("stat has no boot time")?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| "the boot time is out of range".into())
}

/// Field 22 of `<pid>/stat`, counted after the command name in parentheses
/// (which may itself hold spaces and parentheses).
fn start_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|byte| *byte == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // After `)`, field 3 (state) comes first: field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn since_boot(boot: OffsetDateTime, start: u64, ticks: u64) -> Result<OffsetDateTime, String> {
    let ticks = ticks.max(1);
    let whole = i64::try_from(start / ticks).map_err(|_| "the start time is out of range")?;
    let part = i64::try_from((start % ticks) * 1_000_000_000 / ticks)
        .map_err(|_| "the start time is out of range")?;
    boot.checked_add(Duration::seconds(whole))
        .and_then(|at| at.checked_add(Duration::nanoseconds(part)))
        .ok_or_else(|| "the start time is out of range".into())
}

fn small(path: &Path) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|err| format!("cannot read ({})", err.kind()))?;
    let mut bytes = Vec::new();
    file.take(MAX_PROC_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read ({})", err.kind()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_is_field_22_whatever_the_command_name_holds() {
        let stat = b"4242 (kube (api) server) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 100000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(start_ticks(stat), Some(987_654));
        assert_eq!(start_ticks(b"1 (x) S 1"), None);
        let boot = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        assert_eq!(
            since_boot(boot, 12_345, 100).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_123_450_000_000).unwrap()
        );
    }

    #[test]
    fn this_process_is_found_with_its_start() {
        let own = std::env::current_exe().unwrap();
        let name = own.file_name().unwrap().to_str().unwrap().to_owned();
        let found = list(Path::new("/proc"), &[name.as_str()]).unwrap();
        let me = found
            .iter()
            .find(|process| process.pid == std::process::id())
            .unwrap();
        let started = me.started.clone().unwrap();
        // The kernel's clock, as a new file's time gives it: the process's own
        // clock may be a faked one (CI moves it 400 days ahead).
        let file = tempfile::NamedTempFile::new().unwrap();
        let now = OffsetDateTime::from(file.as_file().metadata().unwrap().modified().unwrap());
        assert!(started <= now + Duration::seconds(2), "{started} > {now}");
        assert!(started > now - Duration::days(1), "{started}");
    }
}
