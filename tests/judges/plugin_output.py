#!/usr/bin/env python3
"""Judges kubecred's monitoring-plugin output read on stdin with nagiosplugin
(PyPI, pinned in requirements.txt), a library that plugins are written with,
rather than with kubecred's own idea of the format.

    plugin_output.py --exit N < output

Checks:
- stdout holds exactly one status line, the first: `KUBECRED STATUS - text`,
  whose STATUS names the nagiosplugin state whose code is the exit status N
  (UNKNOWN included: a plugin that exits 3 still says why);
- every performance datum, split by the guidelines' quoting rules, becomes a
  nagiosplugin `Performance` with `Range` thresholds that prints back exactly
  as written (so nagiosplugin reads the same label, value, unit and ranges);
  the unit is `s` and the value whole seconds, min is 0, no max;
- warning and critical are ranges that alert exactly when the value is below
  their threshold (`Range.match` at the threshold, above and below it), the
  critical threshold is not above the warning one, and the exit status is at
  least as bad as the worst datum's state by those ranges;
- each line after the first is long output: `SEVERITY: credential code:
  message` or `hint: ...`, without `|`, and no finding is worse than the
  status (unless the status is UNKNOWN).

Prints one line per problem and a last `judged:` line; exits 1 if there is any
problem, 0 otherwise.
"""

import argparse
import math
import re
import sys

import nagiosplugin
from nagiosplugin import Performance, Range

STATES = {
    state.text.upper(): state
    for state in (nagiosplugin.Ok, nagiosplugin.Warn, nagiosplugin.Critical, nagiosplugin.Unknown)
}
FINDING = re.compile(r"^(CRITICAL|WARNING|INFO): \S+ [a-z][a-z-]*: \S.*$")
STATUS = re.compile(r"^KUBECRED (OK|WARNING|CRITICAL|UNKNOWN) - (\S.*?)(?: \| (.*))?$")
VALUE = re.compile(r"^(-?[0-9]+)([a-zA-Z%]*)$")
SEVERITY_CODE = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}


def split_perfdata(text, problems):
    """(label, rest) pairs by the guidelines: a quoted label may hold spaces
    and a doubled `''`; the rest runs to the next space."""
    items, i, n = [], 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        if text[i] != "'":
            problems.append(f"label not quoted at {text[i:i + 30]!r}")
            return items
        j, label = i + 1, ""
        while True:
            if j >= n:
                problems.append(f"unterminated label at {text[i:i + 30]!r}")
                return items
            if text[j] == "'":
                if j + 1 < n and text[j + 1] == "'":
                    label, j = label + "'", j + 2
                    continue
                break
            label, j = label + text[j], j + 1
        if j + 1 >= n or text[j + 1] != "=":
            problems.append(f"label {label!r} is not followed by `=`")
            return items
        end = text.find(" ", j + 2)
        end = n if end < 0 else end
        items.append((label, text[j + 2:end]))
        i = end
    return items


def below_threshold_alert(name, label, spec, problems):
    """The threshold of a range that alerts exactly below it, or None."""
    try:
        rng = Range(spec)
    except ValueError as err:
        problems.append(f"{label!r}: nagiosplugin refuses {name} range {spec!r}: {err}")
        return None
    if rng.invert or not math.isinf(rng.end) or math.isinf(rng.start):
        problems.append(f"{label!r}: {name} {spec!r} is not a `threshold:` range")
        return None
    threshold = rng.start
    if not (rng.match(threshold) and rng.match(threshold + 1) and not rng.match(threshold - 1)):
        problems.append(f"{label!r}: {name} {spec!r} does not alert exactly below {threshold}")
    if str(rng) != spec:
        problems.append(f"{label!r}: {name} {spec!r} reads back as {str(rng)!r}")
    return threshold


def judge_item(label, rest, problems):
    """The datum's state code by its own ranges (0, 1, 2), or None."""
    fields = rest.split(";")
    if len(fields) != 4:
        problems.append(f"{label!r}: expected value;warn;crit;min, got {rest!r}")
        return None
    value_text, warn, crit, minimum = fields
    match = VALUE.match(value_text)
    if not match:
        problems.append(f"{label!r}: value {value_text!r} is not whole seconds")
        return None
    value, uom = int(match.group(1)), match.group(2)
    if uom != "s":
        problems.append(f"{label!r}: unit {uom!r}, expected s")
    if minimum != "0":
        problems.append(f"{label!r}: min {minimum!r}, expected 0")
    try:
        perf = Performance(label, value, uom, Range(warn), Range(crit), int(minimum), "")
    except (RuntimeError, ValueError) as err:
        problems.append(f"{label!r}: nagiosplugin refuses it: {err}")
        return None
    # nagiosplugin writes a label quoted unless it is a word; the rest must match.
    printed = str(perf).split("=", 1)[1]
    if printed != rest:
        problems.append(f"{label!r}: nagiosplugin reads {rest!r} as {printed!r}")
    warn_at = below_threshold_alert("warn", label, warn, problems)
    crit_at = below_threshold_alert("crit", label, crit, problems)
    if warn_at is None or crit_at is None:
        return None
    if crit_at > warn_at:
        problems.append(f"{label!r}: critical threshold {crit_at} is above warning {warn_at}")
    if not perf.crit.match(value):
        return 2
    if not perf.warn.match(value):
        return 1
    return 0


def judge(text, exit_status):
    problems = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return ["no output on stdout"], 0
    match = STATUS.match(lines[0])
    if not match:
        return [f"line 1 is not `KUBECRED STATUS - text`: {lines[0][:80]!r}"], 0
    word, summary, perfdata = match.groups()
    state = STATES[word]
    if state.code != exit_status:
        problems.append(f"status {word} is nagiosplugin's {state.text} ({state.code}), exit {exit_status}")
    if "|" in summary:
        problems.append("`|` in the status text")
    worst = 0
    items = split_perfdata(perfdata, problems) if perfdata is not None else []
    labels = set()
    for label, rest in items:
        if label in labels:
            problems.append(f"label {label!r} appears twice")
        labels.add(label)
        found = judge_item(label, rest, problems)
        worst = max(worst, found or 0)
    if exit_status != 3 and worst > exit_status:
        problems.append(f"a datum is {worst} by its own ranges, the status only {exit_status}")
    for number, line in enumerate(lines[1:], 2):
        if line.startswith("KUBECRED "):
            problems.append(f"line {number}: a second status line")
        elif "|" in line:
            problems.append(f"line {number}: `|` in long output")
        elif line.startswith("hint: "):
            continue
        elif not FINDING.match(line):
            problems.append(f"line {number}: not `SEVERITY: credential code: message`: {line[:80]!r}")
        elif exit_status != 3 and SEVERITY_CODE[line.split(":", 1)[0]] > exit_status:
            problems.append(f"line {number}: a finding worse than the status")
    return problems, len(items)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exit", type=int, required=True, dest="exit_status")
    args = parser.parse_args()
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    problems, items = judge(text, args.exit_status)
    for problem in problems:
        print(problem)
    print(f"judged: {items} performance data, {len(problems)} problem(s), "
          f"nagiosplugin {nagiosplugin.__version__ if hasattr(nagiosplugin, '__version__') else '?'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
