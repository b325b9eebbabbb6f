#!/usr/bin/env python3
"""Judges monitoring-plugin output read on stdin against the Monitoring Plugins
development guidelines (output, performance data), independently of kubecred.

    python3 nagios.py --exit N [--allow-uom UOM ...] < output

Checks:
- the first line is `SERVICE STATUS - text`, STATUS is OK, WARNING, CRITICAL or
  UNKNOWN and agrees with the exit status N (0, 1, 2, 3);
- `|` appears at most once per line, only to start performance data;
- performance data is space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`:
  a label with a space, `=` or `'` is single-quoted, a `'` inside doubled, `=`
  never unquoted; value and min/max are numbers; warn/crit are ranges
  (`[@][start:][end]`, start may be `~`); UOM is one the guidelines list (none,
  s, ms, us, %, B, KB, MB, TB, GB, c) or one given by --allow-uom; a label
  appears once;
- the whole output fits the 4 KiB a Nagios 3 core reads from a plugin.

Prints one line per problem; exits 1 if there is any, 0 otherwise.
"""

import argparse
import re
import sys

STATUSES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
UOMS = {"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}
NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
RANGE = re.compile(rf"^@?(?:(?:{NUMBER}|~):)?(?:{NUMBER})?$")
NUMBER_ONLY = re.compile(rf"^{NUMBER}$")
VALUE = re.compile(rf"^({NUMBER})([a-zA-Z%]*)$")


def labels_and_rest(perfdata, problems):
    """Splits performance data into (label, rest) pairs, by the quoting rules."""
    items = []
    i = 0
    n = len(perfdata)
    while i < n:
        if perfdata[i] == " ":
            i += 1
            continue
        if perfdata[i] == "'":
            j = i + 1
            label = ""
            while True:
                if j >= n:
                    problems.append(f"unterminated quoted label at {perfdata[i:i + 30]!r}")
                    return items
                if perfdata[j] == "'":
                    if j + 1 < n and perfdata[j + 1] == "'":
                        label += "'"
                        j += 2
                        continue
                    break
                label += perfdata[j]
                j += 1
            if j + 1 >= n or perfdata[j + 1] != "=":
                problems.append(f"quoted label {label!r} is not followed by `=`")
                return items
            i = j + 2
            quoted = True
        else:
            eq = perfdata.find("=", i)
            space = perfdata.find(" ", i)
            if eq < 0 or (0 <= space < eq):
                end = space if space >= 0 else n
                problems.append(f"no `=` in performance datum {perfdata[i:end]!r}")
                i = end
                continue
            label = perfdata[i:eq]
            if "'" in label:
                problems.append(f"unquoted label {label!r} holds a single quote")
            i = eq + 1
            quoted = False
        end = perfdata.find(" ", i)
        end = n if end < 0 else end
        items.append((label, quoted, perfdata[i:end]))
        i = end
    return items


def judge_perfdata(perfdata, allowed_uoms, seen, problems):
    for label, quoted, rest in labels_and_rest(perfdata, problems):
        if label == "":
            problems.append("empty label")
        if not quoted and (" " in label or "=" in label):
            problems.append(f"label {label!r} must be quoted")
        if label in seen:
            problems.append(f"label {label!r} appears twice")
        seen.add(label)
        fields = rest.split(";")
        if len(fields) > 5:
            problems.append(f"{label!r}: more than 5 fields in {rest!r}")
            continue
        match = VALUE.match(fields[0])
        if not match:
            problems.append(f"{label!r}: value {fields[0]!r} is not a number with a unit")
            continue
        uom = match.group(2)
        if uom not in UOMS and uom not in allowed_uoms:
            problems.append(f"{label!r}: unit {uom!r} is not one of the guidelines' units")
        for name, field in zip(("warn", "crit"), fields[1:3]):
            if field and not RANGE.match(field):
                problems.append(f"{label!r}: {name} {field!r} is not a range")
        for name, field in zip(("min", "max"), fields[3:5]):
            if field and not NUMBER_ONLY.match(field):
                problems.append(f"{label!r}: {name} {field!r} is not a number")


def judge(text, exit_status, allowed_uoms):
    problems = []
    if len(text.encode()) > 4096:
        problems.append(f"output is {len(text.encode())} bytes, over 4096")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return ["no output"]
    seen = set()
    in_long_perfdata = False
    for number, line in enumerate(lines, 1):
        if any(ord(c) < 0x20 and c != "\t" for c in line):
            problems.append(f"line {number}: control character")
        if line.count("|") > 1:
            problems.append(f"line {number}: more than one `|`")
        text_part, bar, perf = line.partition("|")
        if number == 1:
            match = re.match(r"^(\S+) (OK|WARNING|CRITICAL|UNKNOWN) - \S", text_part)
            if not match:
                problems.append(f"line 1 is not `SERVICE STATUS - text`: {line[:60]!r}")
            elif STATUSES[match.group(2)] != exit_status:
                problems.append(
                    f"status {match.group(2)} does not match exit status {exit_status}"
                )
        elif in_long_perfdata:
            perf, text_part, bar = line, "", "|"
        if bar:
            if number > 1 and not in_long_perfdata:
                in_long_perfdata = True
            judge_perfdata(perf.strip(), allowed_uoms, seen, problems)
            if number == 1 and not perf.strip():
                problems.append("`|` without performance data")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exit", type=int, required=True, dest="exit_status")
    parser.add_argument("--allow-uom", action="append", default=[])
    args = parser.parse_args()
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    problems = judge(text, args.exit_status, set(args.allow_uom))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
