#!/usr/bin/env bash
# packaging/check.sh: the packaging's CI checks.
#
# Installs what it needs when missing (packaging/install-tools.sh: apt, the
# musl target, a virtual environment with the pinned Python tools, pinned
# cargo-deb and cargo-generate-rpm), builds both packages with
# packaging/build.sh, then checks them: contents and modes, conffiles, lintian
# and rpmlint, maintainer scripts, systemd-analyze verify and security, the
# services' sandbox tried on the real binary, promtool check and test, the
# metrics the rules use against the real textfile, the playbooks (syntax,
# ansible-lint, migrate.yml on stub nodes, renew.yml and migrate.yml for real
# on three demo nodes), the .deb installed and purged for real in a throwaway
# Debian root made with debootstrap (never on this host), the .rpm unpacked
# into a temporary root.
#
# One line per check, then `N passed, N failed`; exits 1 if any check failed.
# Run as root on Debian or Ubuntu.
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
check "install: packaging/install-tools.sh (apt, musl target, venv, cargo-deb, cargo-generate-rpm)" \
	bash packaging/install-tools.sh
sed -n 's/^install: /        /p' "$work/check.log"
export PATH="$PWD/target/packaging-venv/bin:$PATH"

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
$(for page in kubecred kubecred-inspect kubecred-check kubecred-renew kubecred-migrate kubecred-rollback \
	kubecred-recover kubecred-wizard kubecred-demo kubecred-config kubecred-completions kubecred-man; do
	echo "usr/share/man/man1/$page.1.gz 0644"
done)
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
usr/share/doc/kubecred/README.packaging.md 0644"
expected_deb=$(printf '%s\n' "$common" "usr/share/zsh/vendor-completions/_kubecred 0644" \
	"usr/share/doc/kubecred/copyright 0644" \
	"usr/share/doc/kubecred/changelog.gz 0644" "usr/share/doc/kubecred/changelog.Debian.gz 0644" \
	"usr/share/lintian/overrides/kubecred 0644" | sed 's|$| root/root|' | sort)
expected_rpm=$(printf '%s\n' "$common" "usr/share/zsh/site-functions/_kubecred 0644" \
	"usr/share/doc/kubecred/CHANGELOG.md 0644" | sed 's|$| root/root|' | sort)
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
deb_md5sums() {
	local dir=$work/deb-md5
	mkdir -p "$dir" && dpkg-deb -x "$deb" "$dir" && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$dir.md5sums" &&
		[ "$(wc -l <"$dir.md5sums")" = "$(dpkg-deb -c "$deb" | grep -c '^-')" ] &&
		(cd "$dir" && md5sum --quiet -c "$dir.md5sums")
}
check "dpkg-deb: DEBIAN/md5sums lists every file, and md5sum -c agrees" deb_md5sums
lintian_clean() {
	local rc=0
	lintian --fail-on error,warning "$deb" >"$work/lintian.log" 2>&1 || rc=$?
	cat "$work/lintian.log"
	# As root, lintian adds a notice saying so; its verdict is the tags.
	[ "$rc" = 0 ] && ! grep -v '^running with root privileges' "$work/lintian.log" | grep -q .
}
check "lintian: no tag at the default level (overrides: packaging/debian/lintian-overrides, each justified)" lintian_clean
deb_docs() {
	local dir=$work/deb-md5/usr/share/doc/kubecred
	gzip -dc "$dir/changelog.Debian.gz" | dpkg-parsechangelog -l- -S Version | grep -qx "$(dpkg-deb -f "$deb" Version)" &&
		head -n 1 "$dir/copyright" | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' &&
		[ "$(dpkg-deb -f "$deb" Description | head -n 1 | wc -c)" -le 81 ]
}
check "deb: changelog.Debian names the package's version (dpkg-parsechangelog), DEP-5 copyright, one-line synopsis" deb_docs

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
		[ "$(echo "$dump" | grep -cE '^flags=d /usr/share/(doc/kubecred/|man/man1/)')" = 15 ] &&
		[ "$(echo "$dump" | grep -c '^flags=[^ ]')" = 16 ]
}
check "rpm: /etc/cron.d/kubecred %config(noreplace) (%post makes /etc/kubecred/config.toml); docs, man page %doc" rpm_flags
rpm_requires() {
	rpm -qpR "$rpm"
	! rpm -qpR "$rpm" | grep -E '\.so|libc'
}
check "rpm -qpR: no shared library required (static binary)" rpm_requires
rpmlint_clean() {
	rpmlint -c packaging/rpm/rpmlint.toml "$rpm" 2>&1 | tee "$work/rpmlint.log"
	grep -qE ' 0 errors, 0 warnings, 0 badness' "$work/rpmlint.log"
}
check "rpmlint: 0 errors, 0 warnings (filters: packaging/rpm/rpmlint.toml, each justified)" rpmlint_clean
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
check "shellcheck: build.sh, check.sh, install-tools.sh, tests/*.sh, .ci/run, .ci/fresh-debian" \
	shellcheck packaging/build.sh packaging/check.sh packaging/install-tools.sh \
	packaging/tests/migrate_playbook.sh packaging/tests/fleet_playbooks.sh .ci/run .ci/fresh-debian
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
	python3 packaging/tests/metrics_contract.py "$bin" packaging/prometheus/kubecred.rules.yml packaging/config/config.toml

echo "== Ansible"
check "ansible-playbook --syntax-check install.yml migrate.yml renew.yml (example inventory)" \
	ansible-playbook -i packaging/ansible/inventory.example.ini --syntax-check \
	packaging/ansible/install.yml packaging/ansible/migrate.yml packaging/ansible/renew.yml
check "ansible-lint --profile production: install.yml migrate.yml renew.yml" \
	sh -c 'cd packaging/ansible && ansible-lint --offline --profile production install.yml migrate.yml renew.yml'
check "migrate.yml run on stub nodes: one at a time, backups reported, stops at the first failure (tests/migrate_playbook.sh)" \
	packaging/tests/migrate_playbook.sh "$bin"
check "renew.yml and migrate.yml run for real on three demo nodes: serial order, stop at the failing node, backups reported, super-admin.conf where asked (tests/fleet_playbooks.sh)" \
	packaging/tests/fleet_playbooks.sh "$bin"

echo "== the .deb installed for real in a throwaway Debian root: dpkg -i, the cron job, dpkg --purge"
# A minimal Debian of this host's release, made with debootstrap from the
# mirror apt uses here; dpkg runs inside it (chroot), never on this host.
root=$work/debian-root
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
# shellcheck disable=SC2016 # apt's own $(...) placeholders
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null |
	awk -v s="$codename" '$2 == s { print $1; exit }')
make_root() {
	debootstrap --variant=minbase "$codename" "$root" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log"; return 1; }
	cp "$deb" "$root/tmp/kubecred.deb"
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# Every path of the root but dpkg's own records, logs and caches, and /tmp.
root_files() {
	(cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache -o -path ./tmp \
		-o -path ./proc -o -path ./dev -o -path ./run \) -prune -o -print) | LC_ALL=C sort
}
if check "install: debootstrap --variant=minbase $codename <temporary root>" make_root; then
	textdir=/var/lib/node_exporter/textfile_collector
	textfile=$textdir/kubecred.prom
	root_files >"$work/before"
	deb_install() {
		in_root dpkg -i /tmp/kubecred.deb &&
			[ -L "$root/etc/systemd/system/timers.target.wants/kubecred-check.timer" ] &&
			[ -L "$root/etc/systemd/system/multi-user.target.wants/kubecred-recover.service" ] &&
			[ ! -e "$root/etc/systemd/system/timers.target.wants/kubecred-renew.timer" ] &&
			[ -d "$root$textdir" ] &&
			in_root kubecred --version
	}
	check "dpkg -i: installs; postinst enables kubecred-check.timer and kubecred-recover.service, not the renew timer, creates the textfile folder" deb_install
	deb_installed() {
		# shellcheck disable=SC2016 # dpkg-query's own ${...} fields
		in_root dpkg-query -W -f='${Conffiles}\n' kubecred | grep /etc/cron.d/kubecred &&
			in_root dpkg --verify kubecred &&
			cmp "$root/usr/share/kubecred/config.toml" "$root/etc/kubecred/config.toml" &&
			[ "$(stat -c '%a %U' "$root/etc/kubecred" "$root/etc/kubecred/config.toml" | tr '\n' ' ')" = "755 root 644 root " ] &&
			MANPATH="$root/usr/share/man" man -w kubecred | grep -qx "$root/usr/share/man/man1/kubecred.1.gz" &&
			MANPATH="$root/usr/share/man" man -w kubecred-rollback | grep -qx "$root/usr/share/man/man1/kubecred-rollback.1.gz" &&
			in_root bash -c 'source /usr/share/bash-completion/completions/kubecred && complete -p kubecred'
	}
	check "dpkg: conffiles registered, /etc/kubecred/config.toml made from the template (root, 0644), dpkg --verify (md5sums) clean, man kubecred and kubecred-rollback found, bash completion loads" deb_installed
	# The hourly job as cron runs it: sh, cron's PATH, the installed
	# configuration file; a demo host instead of /etc/kubernetes (through the
	# variable, which beats the file's commented-out default).
	cron_run() {
		[ -d "$root/tmp/cron-host" ] || in_root kubecred demo /tmp/cron-host --key-algorithm ecdsa-p256 >/dev/null || return 1
		in_root KUBECRED_KUBERNETES_DIR=/tmp/cron-host sh -c "$(cron_jobs | head -n 1)"
		local rc=$? # check's status: the demo host is a WARNING (1)
		echo "exit $rc"
		[ $rc -le 2 ] && grep '^kubecred_check_status' "$root$1"
	}
	check "cron: the hourly job, run by sh in the root with the installed /etc/kubecred/config.toml, writes the textfile" \
		cron_run "$textfile"
	# Another exporter's file in the same folder, which purge must leave.
	printf '# HELP node_other_metric Not kubecred'"'"'s.\nnode_other_metric 1\n' >"$root$textdir/other.prom"
	deb_purge() {
		head -n 1 "$root$textfile" | grep '^# HELP kubecred_' || return 1
		in_root dpkg --purge kubecred &&
			[ ! -e "$root/usr/bin/kubecred" ] && [ ! -e "$root/etc/kubecred" ] && [ ! -e "$root/etc/cron.d/kubecred" ] &&
			[ ! -e "$root/etc/systemd/system/timers.target.wants/kubecred-check.timer" ] &&
			! in_root dpkg -s kubecred 2>/dev/null &&
			[ ! -e "$root$textfile" ] && grep -q node_other_metric "$root$textdir/other.prom"
	}
	check "dpkg --purge: files, conffiles, the timer's link and the textfile kubecred wrote are gone; another exporter's file there is kept" deb_purge
	left_behind() {
		root_files | diff "$work/before" - | sed -n 's/^> //p' |
			grep -vxE "\\./var/lib/node_exporter|\\./var/lib/node_exporter/textfile_collector|\\.$textdir/other\\.prom" |
			grep . && return 1
		return 0
	}
	check "dpkg --purge: nothing of kubecred's left in the root (but the textfile folder, node_exporter's)" left_behind
	# Again, with the textfile moved in /etc/kubecred/config.toml; a file at the
	# default path that kubecred did not write stays.
	moved=/var/lib/prometheus/node-exporter/kubecred.prom
	deb_purge_moved() {
		in_root dpkg -i /tmp/kubecred.deb >/dev/null &&
			sed -i "s|^#textfile = .*|textfile = \"$moved\"|" "$root/etc/kubecred/config.toml" &&
			grep -qx "textfile = \"$moved\"" "$root/etc/kubecred/config.toml" &&
			mkdir -p "$root${moved%/*}" &&
			printf '# HELP node_decoy Named like kubecred'"'"'s, written by something else.\n' >"$root$textfile" &&
			cron_run "$moved" &&
			in_root dpkg --purge kubecred &&
			[ ! -e "$root$moved" ] && grep -q node_decoy "$root$textfile" && grep -q node_other_metric "$root$textdir/other.prom"
	}
	check "dpkg --purge with [check] textfile moved: that textfile is gone; a foreign kubecred.prom at the default path is kept" deb_purge_moved
	# The rpm scriptlet, run by sh as rpm would (no RPM-based root here): an edited
	# /etc/sysconfig/kubecred survives an erase as .rpmsave and names the textfile.
	rpm_postun() {
		mkdir -p "$root/etc/sysconfig" "$root/srv/metrics" &&
			printf 'KUBECRED_TEXTFILE=/srv/metrics/kubecred.prom\n' >"$root/etc/sysconfig/kubecred.rpmsave" &&
			printf '# HELP kubecred_check_status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n' >"$root/srv/metrics/kubecred.prom" &&
			cp packaging/rpm/postun.sh "$root/tmp/postun.sh" &&
			in_root sh /tmp/postun.sh 1 && [ -e "$root/srv/metrics/kubecred.prom" ] &&
			in_root sh /tmp/postun.sh 0 && [ ! -e "$root/srv/metrics/kubecred.prom" ] &&
			grep -q node_decoy "$root$textfile"
	}
	check "rpm %postun (sh, in the root): an upgrade keeps the textfile; removal deletes the one the .rpmsave names, not a foreign file" rpm_postun
	# The path as postrm reads it: [check] textfile in config.toml first, then
	# KUBECRED_TEXTFILE, then the default.
	textfile_path() {
		local dir=$work/textfile-path out
		mkdir -p "$dir"
		# shellcheck disable=SC2016 # $configs is expanded by the sh below
		sed -n '/^\tkubecred_textfile() {/,/^\t}/p' packaging/debian/postrm |
			sed 's|/etc/kubecred/config.toml /etc/default/kubecred|$configs|' >"$dir/fn.sh"
		printf '[render]\ntextfile = "/not/this"\n[ check ]\nwarn = "30d"\ntextfile = %s # a comment\n' \
			"'/srv/a/kubecred.prom'" >"$dir/config.toml"
		printf 'KUBECRED_TEXTFILE="/srv/b/kubecred.prom"\n' >"$dir/default"
		out=$(configs="$dir/config.toml $dir/default" sh -c ". '$dir/fn.sh'; kubecred_textfile")
		[ "$out" = /srv/a/kubecred.prom ] || return 1
		out=$(configs="$dir/none.toml $dir/default" sh -c ". '$dir/fn.sh'; kubecred_textfile")
		[ "$out" = /srv/b/kubecred.prom ] || return 1
		out=$(configs="$dir/none.toml $dir/none" sh -c ". '$dir/fn.sh'; kubecred_textfile")
		[ "$out" = "$textfile" ]
	}
	check "postrm: the textfile is [check] textfile of config.toml, else KUBECRED_TEXTFILE, else the default" textfile_path
fi

echo "$(($(date +%s) - started))s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
