//! Shell completions: clap's static scripts, which complete every option, the
//! commands and `renew`'s certificate names, plus a small function per shell
//! that completes `rollback`'s backup ids with the ids `kubecred rollback
//! --list` shows (of the `--state-dir` on the line, when one is given). No I/O.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::ui::cli::Cli;

/// The ids of `kubecred rollback --list`'s table: the first column of each
/// row after the header, unreadable sets left out. `$state` holds the
/// `--state-dir` words of the line being completed.
const LIST_IDS: &str = r#"kubecred $state rollback --list --color never 2>/dev/null | awk 'NR > 1 && NF == 4 && $3 != "UNREADABLE" { print $1 }'"#;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "kubecred", &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    match shell {
        Shell::Bash => bash(&text),
        Shell::Zsh => zsh(&text),
        Shell::Fish => fish(&text),
        _ => text,
    }
}

fn bash(text: &str) -> String {
    let list = LIST_IDS.replace("$state", "\"${state[@]}\"");
    format!(
        r#"{text}
# Backup ids for `kubecred rollback ID`: those `kubecred rollback --list` shows.
_kubecred_with_backups() {{
    _kubecred "$@"
    local i word seen= state=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case $word in
        rollback) seen=yes ;;
        --state-dir) state=(--state-dir "${{COMP_WORDS[i + 1]}}") ;;
        --state-dir=*) state=("$word") ;;
        esac
    done
    [[ -n $seen && $2 != -* ]] || return 0
    case $3 in
    --kubernetes-dir | --cert-dir | --state-dir | -o | --output | --color | --copies | --wait) return 0 ;;
    esac
    local ids
    ids=$({list})
    [[ -n $ids ]] && COMPREPLY=($(compgen -W "$ids" -- "$2"))
    return 0
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _kubecred_with_backups -o nosort -o bashdefault -o default kubecred
else
    complete -F _kubecred_with_backups -o bashdefault -o default kubecred
fi
"#
    )
}

fn zsh(text: &str) -> String {
    let list = LIST_IDS.replace("$state", "${state[@]}");
    let hooked = text.replace(
        ":id -- The backup to restore (see --list):_default",
        ":id -- The backup to restore (see --list):_kubecred_backup_ids",
    );
    let function = format!(
        r#"
# Backup ids for `kubecred rollback ID`: those `kubecred rollback --list` shows.
(( $+functions[_kubecred_backup_ids] )) ||
_kubecred_backup_ids() {{
    local -a ids state expl line
    local i
    # The whole line: _arguments has cut the words before the command off.
    line=(${{(z)LBUFFER}})
    for ((i = 1; i <= $#line; i++)); do
        case ${{line[i]}} in
        --state-dir) state=(--state-dir "${{(Q)line[i + 1]}}") ;;
        --state-dir=*) state=("${{(Q)line[i]}}") ;;
        esac
    done
    ids=(${{(f)"$({list})"}})
    _wanted backups expl 'backup id' compadd -a ids
}}
"#
    );
    // Functions must exist before the last line, which runs the completion.
    match hooked.rfind("\nif [ \"$funcstack[1]\" = \"_kubecred\" ]") {
        Some(at) => format!("{}{function}{}", &hooked[..at], &hooked[at..]),
        None => format!("{hooked}{function}"),
    }
}

fn fish(text: &str) -> String {
    let list = LIST_IDS.replace("$state", "(__kubecred_state_dir)");
    // fish's generator leaves positional arguments out: renew's names here.
    let names = std::iter::once("all")
        .chain(crate::domain::renew::renewable())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        r#"{text}
# Certificate names for `kubecred renew NAME...`.
complete -c kubecred -n "__fish_kubecred_using_subcommand renew" -f -a "{names}" -d 'certificate'
# Backup ids for `kubecred rollback ID`: those `kubecred rollback --list` shows.
function __kubecred_state_dir
    set -l words (commandline -opc)
    for i in (seq (count $words))
        switch $words[$i]
            case --state-dir
                set -l next (math $i + 1)
                if test $next -le (count $words)
                    printf '%s\n' --state-dir $words[$next]
                end
            case '--state-dir=*'
                printf '%s\n' $words[$i]
        end
    end
end
function __kubecred_backup_ids
    {list}
end
complete -c kubecred -n "__fish_kubecred_using_subcommand rollback; and not __fish_seen_argument -l list" -f -a "(__kubecred_backup_ids)" -d 'backup id'
"#
    )
}
