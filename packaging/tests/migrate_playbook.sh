#!/usr/bin/env bash
# Runs packaging/ansible/migrate.yml for real (local connection) on three stub
# control-plane nodes, and checks what it did:
#   1. cp1 and cp3 need migrating, cp2 is already migrated: one node at a time,
#      each migrated node's backup in the summary, cp2 left alone;
#   2. cp2's migration leaves admin.conf in system:masters: the play stops at
#      cp2, names its backup and how to roll back, and never touches cp3;
#   3. after cp1's migration the API server denies the new admin.conf: stops at cp1;
#   4. after cp1's migration `check --online` finds no kubeadm:cluster-admins
#      binding: stops at cp1;
#   5. no stub at all but the node's folders: the real `kubecred migrate
#      --offline --yes -o json` (no API call) and the real checks on two nodes;
#      the summary names the real backups, which exist, and admin.conf is out
#      of system:masters on both.
# Each node has a demo host (`kubecred demo`); its `kubecred` is a stub whose
# `check` runs the real binary on that host (minus the admin-in-system-masters
# finding once migrated, when migrating works on that node), and whose `migrate`
# prints a JSON summary with a backup, as `kubecred migrate --yes -o json` does.
# `--online` is never passed on (no API server here, and no address is ever
# contacted): the stub adds the finding the API server would cause.
# `kubectl auth can-i` is a stub too. Every call is logged in order.
# Usage: migrate_playbook.sh KUBECRED_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
playbook=$here/../ansible/migrate.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
report() { # report OK|FAILED TEXT
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

mkdir -p "$tmp/path"
cat >"$tmp/path/kubectl" <<'EOF'
#!/bin/sh
# kubectl --kubeconfig FILE auth can-i '*' '*' --all-namespaces
node=$(dirname "$(dirname "$2")")
echo "$(basename "$node") kubectl $*" >>"${node%/*}/calls"
if [ -e "$node/api-denies" ]; then echo no; exit 1; fi
echo yes
EOF
chmod +x "$tmp/path/kubectl"

# node NAME BEHAVIOUR: works, already, stays-in-masters, api-denies, no-binding
# or real-offline.
node() {
	local dir=$tmp/run/$1
	mkdir -p "$dir"
	"$bin" demo "$dir/kubernetes" --key-algorithm ecdsa-p256 >/dev/null 2>&1
	[ "$2" = already ] && touch "$dir/migrated"
	[ "$2" = api-denies ] && touch "$dir/api-denies"
	if [ "$2" = real-offline ]; then
		cat >"$dir/kubecred" <<EOF
#!/bin/sh
echo "$1 kubecred \$*" >>"$tmp/run/calls"
exec "$bin" --kubernetes-dir "$dir/kubernetes" --state-dir "$dir/state" --no-copies "\$@"
EOF
		chmod +x "$dir/kubecred"
		printf '%s kubecred_path=%s kubecred_migrate_flags=--offline kubecred_break_glass_elsewhere=true kubecred_check_online=false kubecred_verify_api=false\n' \
			"$1" "$dir/kubecred" >>"$tmp/run/hosts.ini"
		return
	fi
	cat >"$dir/kubecred" <<EOF
#!/bin/sh
echo "$1 kubecred \$*" >>"$tmp/run/calls"
case " \$* " in
*" migrate "*)
	[ "$2" = stays-in-masters ] || touch "$dir/migrated"
	printf '{"schemaVersion": 1, "status": "migrated", "backup": "20261126T120000Z-migrate-$1"}\n'
	exit 0 ;;
*" check "*)
	online=
	for a in "\$@"; do shift; [ "\$a" = --online ] && online=yes || set -- "\$@" "\$a"; done
	out=\$("$bin" --kubernetes-dir "$dir/kubernetes" --no-copies "\$@")
	rc=\$?
	if [ -e "$dir/migrated" ]; then
		printf '%s' "\$out" | ONLINE="\$online" BINDING="$2" python3 -c 'import json, os, sys
doc = json.load(sys.stdin)
doc["findings"] = [f for f in doc["findings"] if f["code"] != "admin-in-system-masters"]
if os.environ["ONLINE"] and os.environ["BINDING"] == "no-binding":
    doc["findings"].append({"code": "cluster-admins-binding-missing", "severity": "critical", "credential": "admin.conf"})
print(json.dumps(doc))'
	else
		printf '%s\n' "\$out"
	fi
	exit \$rc ;;
esac
exit 2
EOF
	chmod +x "$dir/kubecred"
	printf '%s kubecred_path=%s kubecred_admin_conf=%s\n' "$1" "$dir/kubecred" "$dir/kubernetes/admin.conf" >>"$tmp/run/hosts.ini"
}

# play NODE:BEHAVIOUR...: fresh nodes, then the playbook; output in $tmp/out, calls in $tmp/calls.
play() {
	rm -rf "$tmp/run"
	mkdir -p "$tmp/run"
	echo '[control_plane]' >"$tmp/run/hosts.ini"
	local spec
	for spec in "$@"; do node "${spec%%:*}" "${spec#*:}"; done
	printf '[control_plane:vars]\nansible_connection=local\nansible_become=false\nansible_python_interpreter=%s\n' \
		"$(command -v python3)" >>"$tmp/run/hosts.ini"
	set +e
	PATH="$tmp/path:$PATH" ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false \
		ansible-playbook -i "$tmp/run/hosts.ini" "$playbook" >"$tmp/out" 2>&1
	status=$?
	set -e
	touch "$tmp/run/calls"
	cp "$tmp/run/calls" "$tmp/calls"
}
calls() { cut -d' ' -f1-3 "$tmp/calls" | tr '\n' ',' ; }
has() { grep -qF -- "$1" "$tmp/out"; }

play cp1:works cp2:already cp3:works
expect "1: the play succeeds (exit $status)" test "$status" = 0
expect "1: one node at a time, in order; cp2 (already migrated) is not migrated again: $(calls)" \
	test "$(calls)" = "cp1 kubecred check,cp1 kubecred migrate,cp1 kubecred check,cp1 kubectl --kubeconfig,cp2 kubecred check,cp3 kubecred check,cp3 kubecred migrate,cp3 kubecred check,cp3 kubectl --kubeconfig,"
expect "1: the summary names each node's result and backup" \
	sh -c "grep -qF 'cp1: migrated, backup 20261126T120000Z-migrate-cp1' '$tmp/out' && grep -qF 'cp2: already migrated' '$tmp/out' && grep -qF 'cp3: migrated, backup 20261126T120000Z-migrate-cp3' '$tmp/out'"
expect "1: migrate ran with --yes -o json" grep -qF 'cp1 kubecred migrate --yes -o json' "$tmp/calls"
[ $failures = 0 ] || cat "$tmp/out"

play cp1:works cp2:stays-in-masters cp3:works
[ -z "${KEEP_OUTPUT:-}" ] || cp "$tmp/out" "$KEEP_OUTPUT"
expect "2: the play fails (exit $status)" test "$status" != 0
expect "2: it stops at cp2; cp3 is never touched: $(calls)" \
	test "$(calls)" = "cp1 kubecred check,cp1 kubecred migrate,cp1 kubecred check,cp1 kubectl --kubeconfig,cp2 kubecred check,cp2 kubecred migrate,cp2 kubecred check,"
expect "2: the failure names the check, cp2's backup and the rollback command" \
	sh -c "grep -qF 'still reports admin-in-system-masters after' '$tmp/out' && grep -qF 'Backup: 20261126T120000Z-migrate-cp2; restore with \`kubecred rollback 20261126T120000Z-migrate-cp2\`' '$tmp/out'"
[ $failures = 0 ] || cat "$tmp/out"

play cp1:api-denies cp2:works
expect "3: the API server denying the new admin.conf stops the play at cp1 (exit $status): $(calls)" \
	sh -c "[ $status != 0 ] && [ '$(calls)' = 'cp1 kubecred check,cp1 kubecred migrate,cp1 kubecred check,cp1 kubectl --kubeconfig,' ] && grep -qF 'Backup: 20261126T120000Z-migrate-cp1' '$tmp/out'"
[ $failures = 0 ] || cat "$tmp/out"

play cp1:no-binding cp2:works
expect "4: a missing kubeadm:cluster-admins binding (check --online) stops the play at cp1 (exit $status): $(calls)" \
	sh -c "[ $status != 0 ] && [ '$(calls)' = 'cp1 kubecred check,cp1 kubecred migrate,cp1 kubecred check,' ] && grep -qF 'still reports cluster-admins-binding-missing after' '$tmp/out' && grep -qF 'cp1 kubecred check --online -o json' '$tmp/calls'"
[ $failures = 0 ] || cat "$tmp/out"

play cp1:real-offline cp2:real-offline
backups=$(grep -oE 'cp[12]: migrated, backup [0-9]{8}T[0-9]{6}Z-migrate' "$tmp/out" | sort)
expect "5: the real migrate --offline on two nodes succeeds (exit $status): $(calls)" \
	test "$status:$(calls)" = "0:cp1 kubecred check,cp1 kubecred migrate,cp1 kubecred check,cp2 kubecred check,cp2 kubecred migrate,cp2 kubecred check,"
real_backups() {
	[ "$(echo "$backups" | grep -c .)" = 2 ] || return 1
	local n id
	for n in cp1 cp2; do
		id=$(echo "$backups" | sed -n "s/^$n: migrated, backup //p")
		[ -d "$tmp/run/$n/state/backups/$id" ] || return 1
	done
}
expect "5: the summary names each node's real backup, and it exists: $(echo "$backups" | tr '\n' ';')" real_backups
out_of_masters() {
	local n
	for n in cp1 cp2; do
		"$bin" --kubernetes-dir "$tmp/run/$n/kubernetes" --no-copies check -o json |
			grep -q '"admin-in-system-masters"' && return 1
	done
	return 0
}
expect "5: admin.conf is out of system:masters on both nodes" out_of_masters
[ $failures = 0 ] || cat "$tmp/out"

echo "migrate playbook: $failures failed"
[ $failures = 0 ]
