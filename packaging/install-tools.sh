#!/usr/bin/env bash
# Installs what packaging/check.sh and packaging/build.sh need, only what is
# missing, from the registries CI can reach:
#   - apt (Debian's packages): musl-tools rpm systemd prometheus (promtool)
#     strace shellcheck file man-db lintian rpmlint debootstrap openssl
#     python3-venv;
#   - rustup: the x86_64-unknown-linux-musl target;
#   - PyPI, into a virtual environment of its own (Debian's pip refuses to
#     install into the system, PEP 668): packaging/requirements.txt, pinned;
#   - crates.io: cargo install --locked of pinned cargo-deb and
#     cargo-generate-rpm, skipped when that version is already installed.
# Prints one line per step with its duration. Run as root on Debian or Ubuntu.
# The venv is target/packaging-venv (kept between runs; rebuilt when
# requirements.txt changes); put its bin/ first on PATH to use it.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
venv=target/packaging-venv

step() { # step NAME COMMAND...
	local name=$1 t0 rc=0
	shift
	t0=$(date +%s)
	"$@" || rc=$?
	echo "install: $name: $(($(date +%s) - t0))s$([ "$rc" = 0 ] || echo " (failed, exit $rc)")"
	return "$rc"
}

# apt-get install, with no service started meanwhile (prometheus would start
# its server where systemd runs): policy-rc.d for the time of the install.
apt_install() {
	local had_policy=yes rc=0
	[ -e /usr/sbin/policy-rc.d ] || had_policy=
	[ -n "$had_policy" ] || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } ||
		rc=$?
	[ -n "$had_policy" ] || rm -f /usr/sbin/policy-rc.d
	return "$rc"
}

need=()
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v rpm >/dev/null || need+=(rpm)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v promtool >/dev/null || need+=(prometheus)
command -v strace >/dev/null || need+=(strace)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v file >/dev/null || need+=(file)
command -v man >/dev/null || need+=(man-db)
command -v lintian >/dev/null || need+=(lintian)
command -v rpmlint >/dev/null || need+=(rpmlint)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v openssl >/dev/null || need+=(openssl)
command -v unshare >/dev/null || need+=(util-linux)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
	step "apt-get install ${need[*]}" apt_install "${need[@]}"
fi

if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
	step "rustup target add x86_64-unknown-linux-musl" rustup target add x86_64-unknown-linux-musl
fi

make_venv() {
	rm -rf "$venv" &&
		python3 -m venv "$venv" &&
		"$venv/bin/python3" -m pip install -q --disable-pip-version-check -r packaging/requirements.txt &&
		cp packaging/requirements.txt "$venv/requirements.txt"
}
if ! cmp -s packaging/requirements.txt "$venv/requirements.txt" || [ ! -x "$venv/bin/ansible-playbook" ]; then
	step "python3 -m venv $venv; pip install -r packaging/requirements.txt" make_venv
fi

# Built unoptimised (--debug): each runs for seconds per CI run, and an
# optimised build of both costs about ten minutes of a loaded 2-core machine.
cargo_tool() { # cargo_tool CRATE SUBCOMMAND VERSION
	if [ "$(cargo "$2" --version 2>/dev/null)" = "$1 $3" ]; then return 0; fi
	step "cargo install --locked --debug $1@$3" cargo install --locked --quiet --debug "$1@$3"
}
cargo_tool cargo-deb deb "$CARGO_DEB_VERSION"
cargo_tool cargo-generate-rpm generate-rpm "$CARGO_GENERATE_RPM_VERSION"
