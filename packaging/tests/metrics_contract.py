#!/usr/bin/env python3
"""The alert rules against the real metrics.

Runs the real `kubecred check --textfile` on a demo host (`kubecred demo DIR
--key-algorithm ecdsa-p256`) at several clock readings (now, then readings
taken from the first run's expiry metrics, at which leaves are expiring and
expired, and CAs are expiring), and once where it cannot judge anything (a
folder without a kubeadm layout: UNKNOWN), parses each textfile with
prometheus_client's parser, and checks that every metric name, label and
label value that packaging/prometheus/kubecred.rules.yml uses (in
expressions and in annotation templates) exists in that output. Names come
from the rules file, not from a second list here; a label the rules add
themselves (`label_replace`) is one they may use.

Usage: metrics_contract.py KUBECRED_BINARY RULES_FILE ENV_FILE
Prints one line per check; exits 1 if any failed.
"""

import datetime
import os
import re
import subprocess
import sys
import tempfile

import yaml
from prometheus_client.parser import text_string_to_metric_families

# Labels that Prometheus adds to every scraped series (the scrape target).
TARGET_LABELS = {"instance", "job"}
# Metrics the rules take from elsewhere, with the labels they are used with:
# node_exporter's textfile collector and Prometheus' own `up`.
EXTERNAL = {"node_textfile_mtime_seconds": {"file"}, "up": set()}
# PromQL words that look like identifiers.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan",
}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"

failures = 0
reported = set()


def report(ok, what):
    """Prints a check's line once (rules that share an alert name repeat checks)."""
    global failures
    if (ok, what) in reported:
        return
    reported.add((ok, what))
    print(("ok      " if ok else "FAILED  ") + what)
    if not ok:
        failures += 1


def scrape(binary, host, now, textfile, keep_text=False):
    """Runs check at `now` (None: the real clock); returns (exit, families),
    and the textfile's text too with keep_text."""
    env = dict(os.environ)
    env.pop("KUBECRED_TEST_NOW", None)
    if now is not None:
        env["KUBECRED_TEST_NOW"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = subprocess.run(
        [binary, "--kubernetes-dir", host, "--no-copies", "check", "-q",
         "--textfile", textfile],
        env=env, capture_output=True, text=True, check=False,
    )
    with open(textfile, encoding="utf-8") as handle:
        text = handle.read()
    os.remove(textfile)
    families = list(text_string_to_metric_families(text))
    if keep_text:
        return result.returncode, families, text
    return result.returncode, families


# The label and value arguments of `label_replace(v, "dst", "replacement", "src", "regex")`.
LABEL_REPLACE_ARGS = re.compile(r',\s*"([^"]*)"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*\)')


def added_labels(expr):
    """Labels an expression adds itself, with label_replace."""
    return set(LABEL_REPLACE_ARGS.findall(expr)) if "label_replace" in expr else set()


def selectors(expr):
    """(metric, [(label, op, value)]) for every selector in a PromQL expr."""
    found = []
    # label_replace's string arguments are no selectors.
    expr = LABEL_REPLACE_ARGS.sub(")", expr)
    # Drop `by (...)`-style label lists and range selectors (`[1d]`) first:
    # their names are not metrics.
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    for match in re.finditer(rf"({IDENT})\s*(\{{[^}}]*\}})?\s*(\()?", bare):
        name, matchers, call = match.group(1), match.group(2), match.group(3)
        if call or name in KEYWORDS or re.fullmatch(r"\d.*", name):
            continue  # a function (time(), absent(...)) or a keyword
        pairs = re.findall(rf'({IDENT})\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers or "")
        found.append((name, pairs))
    return found


def grouping_labels(expr):
    labels = set()
    for match in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        labels.update(l.strip() for l in match.group(2).split(",") if l.strip())
    return labels


def main():
    binary, rules_path, config_path = sys.argv[1:4]
    with open(rules_path, encoding="utf-8") as handle:
        rules = [r for g in yaml.safe_load(handle)["groups"] for r in g["rules"]]

    # The real output, at several clock readings.
    with tempfile.TemporaryDirectory() as tmp:
        host = os.path.join(tmp, "node")
        subprocess.run([binary, "demo", host, "--key-algorithm", "ecdsa-p256"],
                       check=True, capture_output=True)
        textfile = os.path.join(tmp, "kubecred.prom")
        runs = {"now": scrape(binary, host, None, textfile)}
        expiry = {}
        for family in runs["now"][1]:
            for sample in family.samples:
                if sample.name == "kubecred_certificate_expiry_timestamp_seconds":
                    kind = "ca" if sample.labels.get("kind") == "ca" else "leaf"
                    expiry.setdefault(kind, []).append(sample.value)
        day = datetime.timedelta(days=1)
        at = lambda seconds: datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        if "leaf" in expiry and "ca" in expiry:
            leaf, ca = max(expiry["leaf"]), min(expiry["ca"])
            for label, when in [("every leaf expiring in 3 days", at(leaf) - 3 * day),
                                ("leaves expired", at(leaf) + day),
                                ("CAs expiring in 200 days", at(ca) - 200 * day),
                                ("CAs expiring in 30 days", at(ca) - 30 * day)]:
                runs[label] = scrape(binary, host, when, textfile)
        report(len(runs) == 5, f"check ran at {len(runs)} clock readings: {', '.join(runs)}")
        # A check that cannot judge anything still writes its textfile.
        empty = os.path.join(tmp, "no-layout")
        os.mkdir(empty)
        with open(textfile, "w", encoding="utf-8") as handle:
            handle.write("# HELP kubecred_stale a textfile an earlier check left\nkubecred_stale 1\n")
        with_text = scrape(binary, empty, None, textfile, keep_text=True)
        runs["unknown"] = with_text[:2]
        unknown_text = with_text[2]

    # metric -> label -> set of values, over every run.
    seen = {}
    for code, families in runs.values():
        for family in families:
            for sample in family.samples:
                labels = seen.setdefault(sample.name, {})
                for key, value in sample.labels.items():
                    labels.setdefault(key, set()).add(value)
    status_now, families_now = runs["now"]
    report(bool(families_now) and status_now in (0, 1, 2),
           f"kubecred check --textfile on the demo host: exit {status_now}, "
           f"{len(families_now)} metric families, parsed by prometheus_client")

    for rule in rules:
        alert = rule.get("alert") or rule.get("record")
        expr = rule["expr"]
        used = selectors(expr)
        metrics = {name for name, _ in used}
        available = set(TARGET_LABELS) | added_labels(expr)
        for name, pairs in used:
            if name in EXTERNAL:
                bad = {l for l, _, _ in pairs} - EXTERNAL[name]
                report(not bad, f"{alert}: {name} (node_exporter/Prometheus) used with its labels "
                                f"{sorted(EXTERNAL[name]) or '(none)'}")
                available |= EXTERNAL[name]
                continue
            report(name in seen, f"{alert}: metric {name} is in kubecred's output")
            labels = seen.get(name, {})
            available |= set(labels)
            for label, op, value in pairs:
                report(label in labels, f"{alert}: {name} has label {label}")
                values = labels.get(label, set())
                if op in ("=", "!="):
                    wanted = [value]
                elif re.fullmatch(r"[A-Za-z0-9_\-|]+", value):
                    wanted = value.split("|")  # a plain alternation of values
                else:
                    wanted = []  # a real pattern: the label is enough
                for item in wanted:
                    report(item in values, f"{alert}: {name}{{{label}=\"{item}\"}} occurs "
                                          f"(seen: {', '.join(sorted(values)) or 'none'})")
        for label in sorted(grouping_labels(expr)):
            report(label in available, f"{alert}: grouping label {label} exists")
        templates = " ".join(str(v) for v in rule.get("annotations", {}).values())
        for label in sorted(set(re.findall(r"\$labels\.(\w+)", templates))):
            report(label in available,
                   f"{alert}: annotation label {label} exists on {', '.join(sorted(metrics))}")

    # The textfile the packaged configuration names by default is the one the rules watch.
    with open(config_path, encoding="utf-8") as handle:
        default = re.search(r'^#?textfile = "(.*)"$', handle.read(), re.M).group(1)
    patterns = {v for r in rules for n, pairs in selectors(r["expr"]) if n == "node_textfile_mtime_seconds"
                for l, op, v in pairs if l == "file" and op == "=~"}
    for pattern in sorted(patterns):
        report(re.fullmatch(pattern, default) is not None,
               f'file=~"{pattern}" matches the default KUBECRED_TEXTFILE {default}')

    # The demo is a kubeadm 1.28 node: admin.conf is in system:masters.
    admin = [s.value for f in families_now for s in f.samples if s.name == "kubecred_admin_in_system_masters"]
    report(admin == [1.0], f"kubecred_admin_in_system_masters is 1 on the demo host (got {admin})")
    status = [s.value for f in families_now for s in f.samples if s.name == "kubecred_check_status"]
    report(status == [float(status_now)], f"kubecred_check_status equals check's exit status {status_now}")

    # UNKNOWN: status 3 and success 0 replace whatever was there, and the
    # textfile still starts as every kubecred textfile does (packaging's purge
    # tells kubecred's textfile by that first line).
    code_unknown, families_unknown = runs["unknown"]
    value = lambda families, name: [s.value for f in families for s in f.samples if s.name == name]
    report(code_unknown == 3, f"check on a folder without a kubeadm layout exits 3 (got {code_unknown})")
    report(value(families_unknown, "kubecred_check_status") == [3.0],
           f"its textfile says kubecred_check_status 3 (got {value(families_unknown, 'kubecred_check_status')})")
    report(value(families_unknown, "kubecred_check_success") == [0.0],
           f"its textfile says kubecred_check_success 0 (got {value(families_unknown, 'kubecred_check_success')})")
    report(not value(families_unknown, "kubecred_stale"), "it replaced the textfile an earlier check left")
    report(unknown_text.startswith("# HELP kubecred_"), "its first line is a `# HELP kubecred_` line")
    success = value(families_now, "kubecred_check_success")
    report(success == [1.0], f"kubecred_check_success is 1 on the demo host (got {success})")

    print(f"metrics contract: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
