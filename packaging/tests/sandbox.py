#!/usr/bin/env python3
"""The systemd sandbox of kubecred-check.service and kubecred-renew.service,
tried on the real binary without systemd as PID 1.

For each service, reads the unit file and runs its own ExecStart line (with its
Environment= lines, expanded as systemd does: ${VAR} one word, $VAR split at
whitespace) on a demo host, the way the unit would, its settings coming from a
configuration file (KUBECRED_CONFIG) as on a node from /etc/kubecred/config.toml:
  - under the unit's CapabilityBoundingSet (setpriv: bounding, inheritable and
    ambient sets), with no_new_privs (NoNewPrivileges=yes), its UMask and in a
    new network namespace (PrivateNetwork=yes);
  - traced with strace, then checks that
    * every system call is in the unit's SystemCallFilter (expanded with
      systemd-analyze syscall-filter),
    * no mapping is writable and executable (MemoryDenyWriteExecute=yes),
    * no socket outside the unit's RestrictAddressFamilies is opened,
    * every file written, created, renamed or removed lies in what the unit may
      write (ReadWritePaths=, StateDirectory=; ProtectSystem=strict);
  - and that the exit status is a success for the unit (0 or SuccessExitStatus).
It also shows that check needs its one capability: without CAP_DAC_READ_SEARCH
it cannot read a user's 0600 copy of admin.conf in a 0700 home folder.

The demo host stands in for /etc/kubernetes, a temporary folder for the
textfile folder and /var/lib/kubecred: writes are mapped back to the unit's
paths before being judged.

Usage: sandbox.py KUBECRED_BINARY UNITS_DIR
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = 0


def report(ok, what, detail=""):
    global failures
    print(("ok      " if ok else "FAILED  ") + what)
    if not ok:
        failures += 1
        if detail:
            print("        " + detail.replace("\n", "\n        "))


def unit_service_section(path):
    """[Service] directives: name -> list of values, in order."""
    values, section = {}, None
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                values.setdefault(key.strip(), []).append(value.strip())
    return values


def environment(service):
    env = {}
    for line in service.get("Environment", []):
        for item in line.split():
            key, _, value = item.partition("=")
            env[key] = value
    return env


def expand(command, env):
    """systemd's expansion of an ExecStart line (no quoting in ours)."""
    words = []
    for word in command.split():
        if re.fullmatch(r"\$\{\w+\}", word):
            words.append(env.get(word[2:-1], ""))
        elif re.fullmatch(r"\$\w+", word):
            words.extend(env.get(word[1:], "").split())
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def syscall_group(name, groups):
    out = set()
    for item in groups.get(name, []):
        out |= syscall_group(item, groups) if item.startswith("@") else {item}
    return out


def syscall_groups():
    text = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                          text=True, check=True).stdout
    groups, current = {}, None
    for line in text.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def write_config(tmp, name, text):
    """A root-owned configuration file in a root-owned 0755 folder, as the package makes it."""
    folder = f"{tmp}/etc/kubecred"
    os.makedirs(folder, mode=0o755, exist_ok=True)
    path = f"{folder}/{name}"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o644)
    return path


def toml_string(text):
    return json.dumps(text)  # a JSON string of plain paths is a TOML basic string


def run_traced(binary, argv, caps, umask, env, log):
    bounding = "-all" + "".join(",+" + c.lower().removeprefix("cap_") for c in caps)
    command = ["unshare", "--net", "setpriv", f"--bounding-set={bounding}", "--inh-caps=-all",
               "--ambient-caps=-all", "--no-new-privs", "strace", "-f", "-qq", "-y", "-s", "256", "-o", log, binary] + argv
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                          preexec_fn=lambda: os.umask(umask))


WRITE_CALLS = {"open", "openat", "openat2", "creat", "mkdir", "mkdirat", "rename", "renameat",
               "renameat2", "unlink", "unlinkat", "rmdir", "link", "linkat", "symlink",
               "symlinkat", "chmod", "fchmodat", "chown", "lchown", "fchownat", "truncate",
               "utimensat"}


def analyse(log):
    """(syscalls, written paths, w+x mappings, socket families) from an strace -y log."""
    calls, written, wx, families = set(), set(), [], set()
    with open(log, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(\(| resumed>)", line)
            if not m:
                continue
            name = m.group(1)
            calls.add(name)
            if name in ("mmap", "mprotect", "pkey_mprotect") and "PROT_WRITE" in line and "PROT_EXEC" in line:
                wx.append(line.strip())
            if name == "socket":
                fam = re.search(r"socket\((AF_\w+|\d+)", line)
                families.add(fam.group(1) if fam else "?")
            if name not in WRITE_CALLS or line.rstrip().endswith("= -1") or " = -1 " in line:
                continue
            if name in ("open", "openat", "openat2") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", line):
                continue
            # Paths: "name" arguments, resolved against a dirfd shown as 3</dir>.
            dirfd = re.search(r"\(\d+<([^>]*)>,\s*\"", line)
            for path in re.findall(r"\"([^\"]*)\"", line.split(") = ")[0]):
                if not path.startswith("/") and dirfd:
                    path = os.path.join(dirfd.group(1), path)
                written.add(os.path.normpath(path))
    return calls, written, wx, families


def judge(name, service, result, log, allowed_calls, writable, mapping):
    success = {0} | {int(x) for v in service.get("SuccessExitStatus", []) for x in v.split()}
    report(result.returncode in success,
           f"{name}: ExecStart under the sandbox exits {result.returncode} (a success: {sorted(success)})",
           result.stderr.strip())
    calls, written, wx, families = analyse(log)
    extra = sorted(calls - allowed_calls)
    report(not extra, f"{name}: all {len(calls)} system calls are in SystemCallFilter="
                      f"{' '.join(service['SystemCallFilter'])}", f"outside: {extra}")
    report(not wx, f"{name}: no writable+executable mapping (MemoryDenyWriteExecute=yes)", "\n".join(wx[:3]))
    restrict = {f for v in service.get("RestrictAddressFamilies", []) for f in v.split()}
    report(families <= restrict, f"{name}: sockets opened: {sorted(families) or 'none'} "
                                 f"(RestrictAddressFamilies={' '.join(sorted(restrict))}, PrivateNetwork=yes)")

    def real(path):
        for test_dir, unit_dir in mapping.items():
            if path == test_dir or path.startswith(test_dir + "/"):
                return unit_dir + path[len(test_dir):]
        return path

    outside = sorted(p for p in map(real, written)
                     if not any(p == w or p.startswith(w + "/") for w in writable))
    report(not outside, f"{name}: {len(written)} paths written, all inside {' '.join(sorted(writable))} "
                        "(ProtectSystem=strict)", f"outside: {outside}")


def main():
    binary, units = os.path.abspath(sys.argv[1]), sys.argv[2]
    groups = syscall_groups()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECRED_")}
    with tempfile.TemporaryDirectory() as tmp:
        kdir, state, textdir = f"{tmp}/etc/kubernetes", f"{tmp}/state", f"{tmp}/textfile"
        home = f"{tmp}/home/alice"
        subprocess.run([binary, "demo", kdir, "--key-algorithm", "ecdsa-p256"], check=True, capture_output=True)
        os.makedirs(textdir)
        # A user's stale copy of admin.conf, as `cp /etc/kubernetes/admin.conf ~/.kube/config` leaves it.
        os.makedirs(f"{home}/.kube")
        shutil.copy(f"{kdir}/admin.conf", f"{home}/.kube/config")
        for path, mode in [(home, 0o700), (f"{home}/.kube", 0o700), (f"{home}/.kube/config", 0o600)]:
            os.chown(path, 1000, 1000)
            os.chmod(path, mode)

        # kubecred-check.service
        check = unit_service_section(os.path.join(units, "kubecred-check.service"))
        env = environment(check)
        textfile = f"{textdir}/kubecred.prom"
        config = write_config(tmp, "check.toml", f"kubernetes_dir = {toml_string(kdir)}\n"
                              f"copies = [{toml_string(tmp + '/home/*/.kube/config')}]\n"
                              f"[check]\ntextfile = {toml_string(textfile)}\n")
        argv = expand(check["ExecStart"][0], env)[1:]
        caps = check["CapabilityBoundingSet"][0].split()
        umask = int(check["UMask"][0], 8)
        log = f"{tmp}/check.strace"
        result = run_traced(binary, argv, caps, umask, dict(base_env, KUBECRED_CONFIG=config), log)
        allowed = {c for f in check["SystemCallFilter"] for g in f.split() for c in syscall_group(g, groups)}
        textfile_dirs = {w.lstrip("-") for v in check["ReadWritePaths"] for w in v.split()}
        judge("kubecred-check.service", check, result, log, allowed, textfile_dirs,
              {textdir: "/var/lib/node_exporter/textfile_collector"})
        mode = oct(os.stat(textfile).st_mode & 0o777) if os.path.exists(textfile) else None
        report(mode == "0o644", f"kubecred-check.service: textfile written with mode {mode} under UMask={check['UMask'][0]} "
                                "(node_exporter must read it)")

        # The copy in alice's home: read with the unit's capability, not without.
        def copies(cap_list):
            out = subprocess.run(
                ["setpriv", "--bounding-set=-all" + "".join(",+" + c.lower().removeprefix("cap_") for c in cap_list),
                 "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs", binary,
                 "--kubernetes-dir", kdir, "--copies", f"{tmp}/home/*/.kube/config", "-o", "json", "check"],
                capture_output=True, text=True, check=False)
            try:
                return [c["path"] for c in json.loads(out.stdout)["copies"]], out
            except (ValueError, KeyError):
                return None, out
        with_caps, out = copies(caps)
        report(with_caps == [f"{home}/.kube/config"],
               f"kubecred-check.service: with {' '.join(caps)} check reads the 0600 copy in a 0700 home folder",
               f"copies: {with_caps}; stderr: {out.stderr.strip()}")
        without, out = copies([])
        report(not without, "kubecred-check.service: without it, check cannot (the capability is needed)",
               f"copies: {without}")

        # kubecred-renew.service. As an operator could set in the configuration
        # file, renew what expires within 400 days: every certificate, the
        # kubeconfigs in /etc/kubernetes too, so every kind of write is traced.
        # The window must be shorter than the new validity, so that is 2y.
        renew = unit_service_section(os.path.join(units, "kubecred-renew.service"))
        env = environment(renew)
        config = write_config(tmp, "renew.toml", f"kubernetes_dir = {toml_string(kdir)}\n"
                              f"state_dir = {toml_string(state)}\n"
                              "[renew]\nwithin = \"400d\"\nvalidity = \"2y\"\n")
        argv = expand(renew["ExecStart"][0], env)[1:]
        caps = renew["CapabilityBoundingSet"][0].split()
        umask = int(renew["UMask"][0], 8)
        log = f"{tmp}/renew.strace"
        result = run_traced(binary, argv, caps, umask, dict(base_env, KUBECRED_CONFIG=config), log)
        allowed = {c for f in renew["SystemCallFilter"] for g in f.split() for c in syscall_group(g, groups)}
        writable = {w.lstrip("-") for v in renew.get("ReadWritePaths", []) for w in v.split()}
        writable |= {"/var/lib/" + d for v in renew.get("StateDirectory", []) for d in v.split()}
        writable |= {"/run/" + d for v in renew.get("RuntimeDirectory", []) for d in v.split()}
        judge("kubecred-renew.service", renew, result, log, allowed, writable,
              {kdir: "/etc/kubernetes", state: "/var/lib/kubecred"})
        report("restart" in result.stderr and "backup" in result.stderr,
               "kubecred-renew.service: stderr (the journal) names the backup and the static pods to restart",
               result.stderr.strip())
        after = subprocess.run([binary, "--kubernetes-dir", kdir, "--no-copies", "-o", "json", "check"],
                               capture_output=True, text=True, check=False)
        codes = [f["code"] for f in json.loads(after.stdout)["findings"]]
        report("expires-soon" not in codes, f"kubecred-renew.service: nothing expires soon afterwards (findings: {sorted(set(codes))})")

    print(f"sandbox: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
