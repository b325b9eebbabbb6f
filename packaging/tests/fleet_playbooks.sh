#!/usr/bin/env bash
# Runs packaging/ansible/renew.yml and migrate.yml for real (ansible-playbook
# -c local) against three "nodes" on this machine: three demo trees written by
# `kubecred demo`, one host alias each, with its own kubecred_kubernetes_dir
# and kubecred_state_dir. No stub: the real kubecred, through a wrapper that
# only logs each call (to see the order). Judged with openssl (dates, subjects
# of what was written) and sha256sum (what was not touched):
#   1. renew.yml on three due nodes: one node at a time (every call of cp1,
#      then cp2, then cp3), each node renewed (openssl: no certificate expires
#      within 400 days any more), the report names each node's backup, which is
#      the one `rollback --list -o json` shows on that node;
#   2. renew.yml with cp2 made to fail (its CA key destroyed: what that CA
#      signs cannot be renewed, the rest is, and renew exits 1): the run fails,
#      stops at cp2 naming it and its backup, cp1 was renewed, and cp3 was
#      never called, its files and state untouched;
#   3. migrate.yml by default: every node migrated (offline), none has a
#      super-admin.conf, and admin.conf's certificate left system:masters
#      (openssl: subject O=kubeadm:cluster-admins);
#   4. migrate.yml with kubecred_super_admin=init-node: only the init node
#      (the first host) has a super-admin.conf, in system:masters.
# Usage: fleet_playbooks.sh KUBECRED_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
report() { # report ok|FAILED TEXT
	if [ "$1" = ok ]; then echo "ok      $2"; else
		echo "FAILED  $2"
		failures=$((failures + 1))
	fi
}
expect() { # expect TEXT COMMAND...
	local text=$1
	shift
	if "$@"; then report ok "$text"; else report FAILED "$text"; fi
}

mkdir -p "$tmp/bin"
cat >"$tmp/bin/kubecred" <<EOF
#!/bin/sh
# The real kubecred; each call logged as "NODE SUBCOMMAND" (NODE from --kubernetes-dir).
node=\$(printf '%s\n' "\$*" | sed -n 's|.*--kubernetes-dir [^ ]*/\(cp[0-9]\)/kubernetes.*|\1|p')
sub=\$(printf '%s\n' "\$*" | sed -E 's/.*--state-dir [^ ]+ ([a-z]+).*/\1/')
echo "\$node \$sub \$*" >>"$tmp/calls"
exec "$bin" "\$@"
EOF
chmod +x "$tmp/bin/kubecred"

# nodes: three fresh demo trees and an inventory naming them.
nodes() {
	rm -rf "$tmp/run" "$tmp/calls"
	mkdir -p "$tmp/run"
	touch "$tmp/calls"
	echo '[control_plane]' >"$tmp/run/hosts.ini"
	local n
	for n in cp1 cp2 cp3; do
		"$bin" demo "$tmp/run/$n/kubernetes" --key-algorithm ecdsa-p256 >/dev/null 2>&1
		printf '%s kubecred_kubernetes_dir=%s kubecred_state_dir=%s\n' \
			"$n" "$tmp/run/$n/kubernetes" "$tmp/run/$n/state" >>"$tmp/run/hosts.ini"
	done
	printf '[control_plane:vars]\nansible_connection=local\nansible_become=false\nansible_python_interpreter=%s\nkubecred_path=%s\n' \
		"$(command -v python3)" "$tmp/bin/kubecred" >>"$tmp/run/hosts.ini"
}
# play PLAYBOOK ARGS...: runs it; output in $tmp/out, exit status in $status.
play() {
	local playbook=$here/../ansible/$1
	shift
	set +e
	ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_STDOUT_CALLBACK=default \
		ansible-playbook -i "$tmp/run/hosts.ini" "$playbook" "$@" >"$tmp/out" 2>&1
	status=$?
	set -e
}
# The nodes in the order of their calls, each once: "cp1 cp2 cp3".
order() { awk '$1 != "" && !seen[$1]++ { printf "%s ", $1 }' "$tmp/calls" | sed 's/ $//'; }
# Calls of one node, in order, comma-separated.
calls_of() { awk -v n="$1" '$1 == n { printf "%s,", $2 }' "$tmp/calls"; }
# Every certificate of a node still valid in 400 days, by openssl's clock.
renewed() {
	local crt
	for crt in "$tmp/run/$1"/kubernetes/pki/*.crt "$tmp/run/$1"/kubernetes/pki/etcd/*.crt; do
		case $crt in */ca.crt | */front-proxy-ca.crt) continue ;; esac
		openssl x509 -noout -checkend $((400 * 86400)) -in "$crt" >/dev/null || return 1
	done
}
# The backup ids `rollback --list -o json` shows on a node.
backups_of() {
	"$bin" --state-dir "$tmp/run/$1/state" rollback --list -o json |
		python3 -c 'import json, sys; print(" ".join(b["id"] for b in json.load(sys.stdin)["backups"]))'
}
# The subject of the client certificate embedded in a kubeconfig, by openssl.
subject_of() {
	sed -n 's/^ *client-certificate-data: //p' "$1" | base64 -d | openssl x509 -noout -subject -nameopt RFC2253
}
tree_sum() { (cd "$tmp/run/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum); }
show() { [ "$failures" = 0 ] || sed 's/^/      | /' "$tmp/out" | tail -n 40; }

renew_vars=(-e kubecred_renew_within=400d -e '{"kubecred_renew_flags": "--validity 2y"}' -e kubecred_restart=never)
per_node="check,rollback,renew,rollback,check,"

# 1. Three due nodes.
nodes
play renew.yml "${renew_vars[@]}"
expect "renew 1: the play succeeds (exit $status)" test "$status" = 0
expect "renew 1: one node at a time, in inventory order: $(order)" test "$(order)" = "cp1 cp2 cp3"
all_calls() { local n; for n in cp1 cp2 cp3; do [ "$(calls_of $n)" = "$per_node" ] || return 1; done; }
expect "renew 1: per node: check, rollback --list, renew, rollback --list, check --live ($(calls_of cp1))" all_calls
# The argument lists of one node's calls of SUBCOMMAND, one per line.
argv_of() { awk -v n="$1" -v s="$2" '$1 == n && $2 == s { $1 = ""; $2 = ""; print substr($0, 3) }' "$tmp/calls"; }
live_after() {
	local n
	for n in cp1 cp2 cp3; do argv_of $n check | tail -n 1 | grep -qE ' check --live -o json$' || return 1; done
}
expect "renew 1: the check after ran with --live on every node" live_after
within_restart() { argv_of cp1 renew | grep -qF "renew all --within 400d --restart never --yes -o json --validity 2y"; }
expect "renew 1: renew ran with the window, the restart policy and the flags given" within_restart
every_node_renewed() { renewed cp1 && renewed cp2 && renewed cp3; }
expect "renew 1: every node renewed (openssl x509 -checkend 400 days on every leaf)" every_node_renewed
reported() {
	local n id
	for n in cp1 cp2 cp3; do
		id=$(backups_of $n)
		[ -n "$id" ] && [ "$(echo "$id" | wc -w)" = 1 ] || return 1
		grep -qF "$n: renewed, backup $id" "$tmp/out" || return 1
	done
}
expect "renew 1: the report names each node's backup, the one rollback --list shows there" reported
show

# 2. cp2 made to fail: its CA key destroyed, so nothing it signs can be renewed.
nodes
printf -- '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n' >"$tmp/run/cp2/kubernetes/pki/ca.key"
before_cp3=$(tree_sum cp3)
play renew.yml "${renew_vars[@]}"
expect "renew 2: the play fails (exit $status)" test "$status" != 0
expect "renew 2: it stops at cp2; cp3 is never called: $(order)" test "$(order)" = "cp1 cp2"
expect "renew 2: cp2 got as far as the renewal: $(calls_of cp2)" test "$(calls_of cp2)" = "check,rollback,renew,rollback,"
expect "renew 2: cp3's files untouched, and no state dir made" \
	sh -c "[ '$(tree_sum cp3)' = '$before_cp3' ] && [ ! -e '$tmp/run/cp3/state' ]"
failure_named() {
	local id
	id=$(backups_of cp2)
	grep -qF "Renewal failed on cp2 at 'The renewal succeeded'" "$tmp/out" &&
		[ -n "$id" ] && grep -qF "Backup: $id; restore with \`kubecred rollback $id\`" "$tmp/out" &&
		grep -qF "cp1 renewed (backup $(backups_of cp1))" "$tmp/out" &&
		grep -qF "the nodes after this one were not touched" "$tmp/out"
}
expect "renew 2: the failure names cp2, its backup, what cp1 got, and that the rest is untouched" failure_named
expect "renew 2: cp1 was renewed before the stop" renewed cp1
show

migrate_vars=(-e kubecred_migrate_flags=--offline -e kubecred_check_online=false -e kubecred_verify_api=false
	-e kubecred_break_glass_elsewhere=true)
in_masters() { subject_of "$tmp/run/$1/kubernetes/$2" | grep -q 'O=system:masters'; }
out_of_masters() {
	local n
	for n in cp1 cp2 cp3; do
		subject_of "$tmp/run/$n/kubernetes/admin.conf" | grep -q 'O=kubeadm:cluster-admins' || return 1
		in_masters "$n" admin.conf && return 1
	done
	return 0
}

# 3. migrate.yml by default: no super-admin.conf anywhere.
nodes
play migrate.yml "${migrate_vars[@]}"
expect "migrate 3: the play succeeds on three nodes, one at a time (exit $status): $(order)" \
	test "$status:$(order)" = "0:cp1 cp2 cp3"
expect "migrate 3: admin.conf left system:masters on every node (openssl: O=kubeadm:cluster-admins)" out_of_masters
expect "migrate 3: no node has a super-admin.conf" \
	sh -c "! ls '$tmp'/run/cp*/kubernetes/super-admin.conf 2>/dev/null | grep -q ."
no_super_admin() { # no_super_admin NODE...: those nodes' migrate had --no-super-admin, the others not
	local n
	for n in cp1 cp2 cp3; do
		case " $* " in
		*" $n "*) argv_of $n migrate | grep -qF -- ' --no-super-admin --i-have-another-break-glass-credential' || return 1 ;;
		*) argv_of $n migrate | grep -qF -- '--no-super-admin' && return 1 ;;
		esac
	done
	return 0
}
expect "migrate 3: every node's migrate ran with --no-super-admin" no_super_admin cp1 cp2 cp3
show

# 4. migrate.yml with kubecred_super_admin=init-node: only cp1 (the first host).
nodes
play migrate.yml "${migrate_vars[@]}" -e kubecred_super_admin=init-node
expect "migrate 4: the play succeeds (exit $status): $(order)" test "$status:$(order)" = "0:cp1 cp2 cp3"
only_init() {
	[ -e "$tmp/run/cp1/kubernetes/super-admin.conf" ] && in_masters cp1 super-admin.conf &&
		[ ! -e "$tmp/run/cp2/kubernetes/super-admin.conf" ] && [ ! -e "$tmp/run/cp3/kubernetes/super-admin.conf" ]
}
expect "migrate 4: super-admin.conf (O=system:masters) on the init node cp1 only" only_init
expect "migrate 4: --no-super-admin on cp2 and cp3, not on cp1" no_super_admin cp2 cp3
expect "migrate 4: admin.conf left system:masters on every node" out_of_masters
expect "migrate 4: the summary says cp1 kept super-admin.conf" grep -qF "cp1: migrated, super-admin.conf kept, backup" "$tmp/out"
show

echo "fleet playbooks: $failures failed"
[ "$failures" = 0 ]
