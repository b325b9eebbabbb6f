#!/usr/bin/env bash
# packaging/check.sh: the packaging's CI checks.
#
# Installs what it needs when missing (apt-get: musl-tools rpm systemd
# prometheus strace shellcheck file man-db; rustup: the musl target; pip, in a
# virtual environment under target/: ansible-core prometheus-client; cargo:
# cargo-deb cargo-generate-rpm), builds
# both packages with packaging/build.sh, then checks them: contents and modes,
# conffiles, maintainer scripts, systemd-analyze verify and security, the
# services' sandbox tried on the real binary, promtool check and test, the
# metrics the rules use against the real textfile, the playbooks (syntax, and
# migrate.yml run against stub nodes), the .deb installed and purged for real,
# the .rpm unpacked into a temporary root.
#
# One line per check, then `N passed, N failed`; exits 1 if any check failed.
# Run as root on Debian or Ubuntu. It installs the .deb for a moment and purges
# it (that check fails, rather than touch it, if kubecred is already installed).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
started=$(date +%s)
passed=0
failed=0
work=$(mktemp -d)
declare -a cleanups=()
cleanup() {
	local i
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# check NAME COMMAND...: runs COMMAND (a function or a program) with its output
# in a log; prints PASS or FAIL and the sub-checks of the Python tests (their
# `ok`/`FAILED` lines); on failure, the end of the log.
check() {
	local name=$1 log=$work/check.log t0 rc
	shift
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	case $name in install:* | packaging/build.sh*) name="$name ($(($(date +%s) - t0))s)" ;; esac
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		printf 'PASS  %s\n' "$name"
	else
		failed=$((failed + 1))
		printf 'FAIL  %s\n' "$name"
	fi
	grep -E '^(ok|FAILED)  ' "$log" | sed 's/^/        /'
	if [ $rc -ne 0 ] && ! grep -qE '^FAILED  ' "$log"; then tail -n 25 "$log" | sed 's/^/      | /'; fi
	return $rc
}

echo "== installs (only what is missing)"
apt_install() {
	# prometheus (for promtool) would start its server where systemd runs: no
	# service starts during this install (policy-rc.d), then as before.
	local had_policy=yes
	[ -e /usr/sbin/policy-rc.d ] || had_policy=
	[ -n "$had_policy" ] || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
	local rc=$?
	[ -n "$had_policy" ] || rm -f /usr/sbin/policy-rc.d
	return $rc
}
apt_needed=()
command -v musl-gcc >/dev/null || apt_needed+=(musl-tools)
command -v rpm >/dev/null || apt_needed+=(rpm)
command -v systemd-analyze >/dev/null || apt_needed+=(systemd)
command -v promtool >/dev/null || apt_needed+=(prometheus)
command -v strace >/dev/null || apt_needed+=(strace)
command -v shellcheck >/dev/null || apt_needed+=(shellcheck)
command -v file >/dev/null || apt_needed+=(file)
command -v man >/dev/null || apt_needed+=(man-db)
if [ ${#apt_needed[@]} -gt 0 ]; then
	check "install: apt-get install ${apt_needed[*]}" apt_install "${apt_needed[@]}"
else
	check "install: apt packages already there" true
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
	check "install: rustup target add x86_64-unknown-linux-musl" rustup target add x86_64-unknown-linux-musl
fi
# The Python tools live in a virtual environment of their own (Debian's system
# pip refuses to install, PEP 668), kept under target/ between runs.
venv=target/packaging/venv
make_venv() {
	python3 -m venv "$venv" 2>/dev/null ||
		{ rm -rf "$venv" && apt_install python3-venv && python3 -m venv "$venv"; }
}
[ -x "$venv/bin/python3" ] || check "install: python3 -m venv $venv" make_venv
export PATH="$PWD/$venv/bin:$PATH"
pip_needed=()
[ -x "$venv/bin/ansible-playbook" ] || pip_needed+=(ansible-core)
"$venv/bin/python3" -c 'import prometheus_client' 2>/dev/null || pip_needed+=(prometheus-client)
if [ ${#pip_needed[@]} -gt 0 ]; then
	check "install: pip install ${pip_needed[*]} (in $venv)" "$venv/bin/python3" -m pip install -q "${pip_needed[@]}"
else
	check "install: ansible-core and prometheus-client already there (in $venv)" true
fi
cargo_needed=()
cargo deb --version >/dev/null 2>&1 || cargo_needed+=(cargo-deb)
cargo generate-rpm --version >/dev/null 2>&1 || cargo_needed+=(cargo-generate-rpm)
if [ ${#cargo_needed[@]} -gt 0 ]; then
	check "install: cargo install --locked ${cargo_needed[*]}" cargo install --locked "${cargo_needed[@]}"
else
	check "install: cargo-deb and cargo-generate-rpm already there" true
fi

echo "== build"
if ! check "packaging/build.sh: static musl binary, man page, completions, .deb, .rpm" packaging/build.sh; then
	echo "$passed passed, $failed failed"
	exit 1
fi
bin=target/x86_64-unknown-linux-musl/release/kubecred
deb=$(ls target/packaging/kubecred_*_amd64.deb)
rpm=$(ls target/packaging/kubecred-*.x86_64.rpm)

static_binary() {
	local libs
	file -b "$bin"
	file -b "$bin" | grep -Eq 'static(-pie)? linked|statically linked' || return 1
	libs=$(ldd "$bin" 2>&1) # exits 0 on static-pie too: read what it says
	echo "ldd: $libs"
	echo "$libs" | grep -Eq 'statically linked|not a dynamic executable' && ! echo "$libs" | grep -q '=>'
}
check "binary is static ($(file -b "$bin" | grep -Eo "static(-pie)? linked|statically linked")); ldd lists no library" static_binary

# Expected contents, "path mode", for both packages, then each one's own.
common="usr/bin/kubecred 0755
usr/share/man/man1/kubecred.1.gz 0644
usr/share/bash-completion/completions/kubecred 0644
usr/share/fish/vendor_completions.d/kubecred.fish 0644
etc/cron.d/kubecred 0644
usr/lib/systemd/system/kubecred-check.service 0644
usr/lib/systemd/system/kubecred-check.timer 0644
usr/lib/systemd/system/kubecred-renew.service 0644
usr/lib/systemd/system/kubecred-renew.timer 0644
usr/lib/systemd/system/kubecred-recover.service 0644
usr/lib/systemd/system-preset/50-kubecred.preset 0644
usr/share/kubecred/prometheus/kubecred.rules.yml 0644
usr/share/kubecred/config.toml 0644
usr/share/doc/kubecred/README.md 0644
usr/share/doc/kubecred/README.packaging.md 0644
usr/share/doc/kubecred/CHANGELOG.md 0644"
expected_deb=$(printf '%s\n' "$common" "usr/share/zsh/vendor-completions/_kubecred 0644" \
	"usr/share/doc/kubecred/copyright 0644" | sed 's|$| root/root|' | sort)
expected_rpm=$(printf '%s\n' "$common" "usr/share/zsh/site-functions/_kubecred 0644" | sed 's|$| root/root|' | sort)
octal() { # -rwxr-xr-x -> 0755
	local p=$1 v=0 i bits=(256 128 64 32 16 8 4 2 1)
	for i in 0 1 2 3 4 5 6 7 8; do [ "${p:$((i + 1)):1}" != - ] && v=$((v + bits[i])); done
	printf '%04o' "$v"
}

echo "== .deb: $deb"
deb_files() {
	dpkg-deb -c "$deb" | while read -r perms owner _ _ _ path _; do
		[ "${perms:0:1}" = d ] || echo "${path#./} $(octal "$perms") ${owner/#0\/0/root/root}"
	done | sort | diff -u <(echo "$expected_deb") -
}
check "dpkg-deb -c: exactly the expected files, modes (binary 0755, units 0644), owner root" deb_files
deb_conffiles() {
	dpkg-deb -I "$deb" conffiles | sort | diff -u <(printf '/etc/cron.d/kubecred\n') -
}
check "dpkg-deb -I conffiles: only /etc/cron.d/kubecred (postinst makes /etc/kubecred/config.toml)" deb_conffiles
deb_control() {
	dpkg-deb -I "$deb"
	[ "$(dpkg-deb -I "$deb" | grep -cE '^ +[0-9]+ bytes, +[0-9]+ lines +\* +(preinst|postinst|prerm|postrm) ')" = 4 ] &&
		[ -z "$(dpkg-deb -f "$deb" Depends)" ] && [ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ]
}
check "dpkg-deb -I: preinst, postinst, prerm, postrm executable; no Depends (static); amd64" deb_control

echo "== .rpm: $rpm"
rpm_files() {
	local dump
	dump=$(rpm -qp --queryformat '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm") || return 1
	[ "$(rpm -qlp "$rpm" | wc -l)" = "$(echo "$dump" | wc -l)" ] || return 1
	echo "$dump" | while read -r perms owner path; do
		[ "${perms:0:1}" = d ] || echo "${path#/} $(octal "$perms") $owner"
	done | sort | diff -u <(echo "$expected_rpm") -
}
check "rpm -qlp / --queryformat: exactly the expected files, modes, owner root" rpm_files
rpm_flags() {
	local dump
	dump=$(rpm -qp --queryformat '[flags=%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm")
	echo "$dump"
	echo "$dump" | grep -qx 'flags=cn /etc/cron.d/kubecred' &&
		[ "$(rpm -qcp "$rpm" | wc -l)" = 1 ] &&
		[ "$(echo "$dump" | grep -cE '^flags=d /usr/share/(doc/kubecred/|man/man1/)')" = 4 ] &&
		[ "$(echo "$dump" | grep -c '^flags=[^ ]')" = 5 ]
}
check "rpm: /etc/cron.d/kubecred %config(noreplace) (%post makes /etc/kubecred/config.toml); docs, man page %doc" rpm_flags
rpm_requires() {
	rpm -qpR "$rpm"
	! rpm -qpR "$rpm" | grep -E '\.so|libc'
}
check "rpm -qpR: no shared library required (static binary)" rpm_requires
rpm_scripts() {
	rpm -qp --scripts "$rpm"
	[ "$(rpm -qp --scripts "$rpm" | grep -cE '^(postinstall|preuninstall|postuninstall) scriptlet')" = 3 ]
}
check "rpm --scripts: %post, %preun, %postun" rpm_scripts
rpm_unpack() {
	rpm --root "$work/rpm-root" --initdb &&
		rpm --root "$work/rpm-root" -i --nodeps --noscripts --ignorearch "$rpm" &&
		[ "$(stat -c %a "$work/rpm-root/usr/bin/kubecred")" = 755 ] &&
		"$work/rpm-root/usr/bin/kubecred" --version
}
check "rpm -i --root=<temp> --nodeps --noscripts: unpacks, the binary runs" rpm_unpack

echo "== scripts and cron"
check "shellcheck -s sh: deb maintainer scripts, rpm scriptlets" \
	shellcheck -s sh packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm \
	packaging/rpm/post.sh packaging/rpm/preun.sh packaging/rpm/postun.sh
check "shellcheck: build.sh, check.sh, tests/migrate_playbook.sh" \
	shellcheck packaging/build.sh packaging/check.sh packaging/tests/migrate_playbook.sh
# The jobs of /etc/cron.d/kubecred, active or commented: the command after "root".
cron_jobs() {
	sed -E -n 's/^#?[0-9*][0-9*\/,-]* +[0-9*\/,-]+ +[0-9*\/,-]+ +[0-9*\/,-]+ +[0-9*\/,-]+ +root +(.*)$/\1/p' \
		packaging/cron/kubecred
}
cron_file() {
	grep -E '^[0-9*]' packaging/cron/kubecred
	[ "$(grep -cE '^[0-9*]' packaging/cron/kubecred)" = 1 ] || return 1     # the hourly check
	[ "$(grep -cE '^#[0-9*]' packaging/cron/kubecred)" = 1 ] || return 1    # renew, commented out
	[ "$(cron_jobs | wc -l)" = 2 ] || return 1                                # both: 5 fields, user root
	local job
	while IFS= read -r job; do
		sh -n -c "$job" || return 1
		case $job in *%*) return 1 ;; esac # cron turns % into a newline
	done < <(cron_jobs)
	grep -E '^17 \* \* \* \* ' packaging/cron/kubecred >/dev/null # hourly
}
check "cron: installed as /etc/cron.d/kubecred (no dot); hourly check active, daily renew commented; 5 fields, root, sh -n, no %" cron_file

echo "== systemd units, as packaged"
# A root holding the distribution's units (sysinit.target, timers.target, ...)
# and the unpacked .deb.
mkdir -p "$work/deb-root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$work/deb-root/usr/lib/systemd/"
dpkg-deb -x "$deb" "$work/deb-root"
units=("$work"/deb-root/usr/lib/systemd/system/kubecred-*)
# --root resolves ExecStart= against the packaged binary and the units they
# name against the distribution's; --man checks Documentation=man:kubecred(1)
# against the packaged man page. Any output fails.
units_verify() {
	local out rc
	out=$(MANPATH="$work/deb-root/usr/share/man" systemd-analyze verify --man=yes --root="$work/deb-root" "${units[@]}" 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify --root=<unpacked .deb>: 5 units, not one warning" units_verify
units_security() {
	local unit line ok=0
	for unit in "${units[@]}"; do
		case $unit in *.service) ;; *) continue ;; esac
		line=$(systemd-analyze security --offline=yes --root="$work/deb-root" "$unit" 2>&1 | tail -n 1)
		if echo "$line" | grep -qE 'exposure level .*: ([01]\.[0-9]|2\.[0-5]) '; then
			ok=$((ok + 1))
			echo "ok      $(basename "$unit"): ${line#*: }"
		else
			echo "FAILED  $(basename "$unit"): ${line#*: }"
		fi
	done
	[ $ok = 3 ]
}
check "systemd-analyze security --offline: the three services' exposure 2.5 or lower" units_security
check "units: check's exits 1 and 2 (WARNING, CRITICAL) count as success" \
	grep -qx 'SuccessExitStatus=1 2' packaging/systemd/kubecred-check.service
check "units: preset enables the check timer and the boot-time recovery, not the renew timer" \
	sh -c "grep -qx 'enable kubecred-check.timer' packaging/systemd/50-kubecred.preset && grep -qx 'enable kubecred-recover.service' packaging/systemd/50-kubecred.preset && grep -qx 'disable kubecred-renew.timer' packaging/systemd/50-kubecred.preset"
check "units: recovery runs at boot before the kubelet, as a oneshot" \
	sh -c "grep -qx 'Type=oneshot' packaging/systemd/kubecred-recover.service && grep -qx 'Before=kubelet.service' packaging/systemd/kubecred-recover.service && grep -qx 'WantedBy=multi-user.target' packaging/systemd/kubecred-recover.service && grep -q '^ExecStart=/usr/bin/kubecred recover' packaging/systemd/kubecred-recover.service"
check "sandbox: both ExecStart lines under their units' capabilities, syscall filter, paths (tests/sandbox.py)" \
	python3 packaging/tests/sandbox.py "$bin" "$work/deb-root/usr/lib/systemd/system"

echo "== Prometheus"
check "promtool check rules" promtool check rules packaging/prometheus/kubecred.rules.yml
check "promtool test rules: each alert fires when it should, and only then" \
	promtool test rules packaging/prometheus/kubecred.rules.test.yml
check "metrics contract: every metric, label and value the rules use is in the real textfile (tests/metrics_contract.py)" \
	python3 packaging/tests/metrics_contract.py "$bin" packaging/prometheus/kubecred.rules.yml packaging/default/kubecred

echo "== Ansible"
check "ansible-playbook --syntax-check install.yml migrate.yml (example inventory)" \
	ansible-playbook -i packaging/ansible/inventory.example.ini --syntax-check \
	packaging/ansible/install.yml packaging/ansible/migrate.yml
check "migrate.yml run on stub nodes: one at a time, backups reported, stops at the first failure (tests/migrate_playbook.sh)" \
	packaging/tests/migrate_playbook.sh "$bin"

echo "== the .deb installed for real: dpkg -i, the cron job, dpkg --purge"
if dpkg -s kubecred >/dev/null 2>&1 || [ -e /usr/bin/kubecred ]; then
	check "dpkg -i: not tried, kubecred is already installed on this machine (use a clean one)" false
else
	if [ ! -d /var/lib/node_exporter ]; then cleanups+=("rm -rf /var/lib/node_exporter"); fi
	cleanups+=("dpkg --purge kubecred >/dev/null 2>&1")
	textfile=/var/lib/node_exporter/textfile_collector/kubecred.prom
	deb_install() {
		dpkg -i "$deb" &&
			[ -L /etc/systemd/system/timers.target.wants/kubecred-check.timer ] &&
			[ -L /etc/systemd/system/multi-user.target.wants/kubecred-recover.service ] &&
			[ ! -e /etc/systemd/system/timers.target.wants/kubecred-renew.timer ] &&
			[ -d /var/lib/node_exporter/textfile_collector ] &&
			kubecred --version
	}
	check "dpkg -i: installs; postinst enables kubecred-check.timer and kubecred-recover.service, not the renew timer, creates the textfile folder" deb_install
	deb_installed() {
		dpkg-query -W -f='${Conffiles}\n' kubecred | grep /etc/cron.d/kubecred &&
			cmp /usr/share/kubecred/config.toml /etc/kubecred/config.toml &&
			[ "$(stat -c '%a %U' /etc/kubecred /etc/kubecred/config.toml | tr '\n' ' ')" = "755 root 644 root " ] &&
			man -w kubecred | grep kubecred.1.gz &&
			bash -c 'source /usr/share/bash-completion/completions/kubecred && complete -p kubecred'
	}
	check "dpkg: conffiles registered, /etc/kubecred/config.toml made from the template (root, 0644), man kubecred found, bash completion loads" deb_installed
	# The hourly job as cron runs it: sh, cron's PATH, the installed
	# configuration file; a demo host instead of /etc/kubernetes (through the
	# variable, which beats the file's commented-out default).
	cron_run() {
		/usr/bin/kubecred demo "$work/cron-host" --key-algorithm ecdsa-p256 >/dev/null || return 1
		rm -f "$textfile"
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin KUBECRED_KUBERNETES_DIR="$work/cron-host" \
			sh -c "$(cron_jobs | head -n 1)"
		local rc=$? # check's status: the demo host is a WARNING (1)
		echo "exit $rc"
		[ $rc -le 2 ] && grep '^kubecred_check_status' "$textfile"
	}
	check "cron: the hourly job, run by sh with the installed /etc/kubecred/config.toml, writes the textfile" cron_run
	deb_purge() {
		rm -f "$textfile"
		dpkg --purge kubecred &&
			[ ! -e /usr/bin/kubecred ] && [ ! -e /etc/kubecred ] && [ ! -e /etc/cron.d/kubecred ] &&
			[ ! -e /etc/systemd/system/timers.target.wants/kubecred-check.timer ] &&
			! dpkg -s kubecred 2>/dev/null
	}
	check "dpkg --purge: files, conffiles and the timer's link gone" deb_purge
fi

echo "$(($(date +%s) - started))s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
