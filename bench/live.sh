#!/usr/bin/env bash
# kubecred benchmark for --live: `check --live -o json` against `check -o json`
# on the demo node, with every endpoint up (openssl s_server stand-ins on
# kubeadm's ports), every endpoint down (nothing listens: refused) and every
# endpoint hung (a listener that accepts and never answers: each probe waits
# for its 2 s timeout). Wall-clock medians from hyperfine, pass/fail against
# the targets.
#
#   bench/live.sh           # about a minute on 2 cores
#
# Knobs (environment): RUNS (30), HUNG_RUNS (5), KEEP=1 keeps the temporary folder.
# Needs kubeadm's ports free on loopback (6443, 2379, 10257, 10259, 10250) and
# 127.0.0.2:2380. Not a test: it exits 0 whenever it measured, whatever the figures.
set -euo pipefail

RUNS=${RUNS:-30}
HUNG_RUNS=${HUNG_RUNS:-5}

# Targets.
UP_EXTRA_MAX_MS=100 # check --live with every endpoint up, on top of check
DOWN_MAX_S=2.5      # check --live with every endpoint down, in total
HUNG_MAX_S=2.5      # check --live with every endpoint hung, in total

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi

ENDPOINTS=(127.0.0.1:6443 127.0.0.1:2379 127.0.0.2:2380 127.0.0.1:10257 127.0.0.1:10259 127.0.0.1:10250)
for endpoint in "${ENDPOINTS[@]}"; do
    if python3 -c "import socket,sys; h,p=sys.argv[1].rsplit(':',1); socket.create_connection((h,int(p)),0.5)" "$endpoint" 2>/dev/null; then
        echo "something already listens at $endpoint: the benchmark needs kubeadm's ports free" >&2
        exit 1
    fi
done

LOAD_START=$(load)
log "building (release)"
cargo build --release --quiet
KUBECRED="$ROOT/target/release/kubecred"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubecred-bench-live.XXXXXX")
PIDS=()
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    stop_servers
    if [[ ${KEEP:-0} == 1 ]]; then log "keeping $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "writing the demo node (RSA-2048)"
NODE="$WORK/node"
"$KUBECRED" demo "$NODE" >/dev/null 2>&1
# The demo's etcd advertises 192.0.2.10, an address of no machine: move it to
# 127.0.0.2 so that its peer endpoint is this node's and gets probed too.
sed -i 's/192\.0\.2\.10/127.0.0.2/g' "$NODE/manifests/etcd.yaml"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj /CN=localhost -keyout "$WORK/self.key" -out "$WORK/self.crt" 2>/dev/null

# medians FILE: the medians of a hyperfine export, one line per command, in seconds.
medians() { awk -F': *' '/"median"/ { sub(/,$/, "", $2); print $2 }' "$1"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }

CHECK=("$KUBECRED" --kubernetes-dir "$NODE" --no-copies check -o json)
LIVE=("${CHECK[@]}" --live)

# served COUNT: check --live answered by COUNT endpoints (a sanity check before timing).
served() {
    local got
    got=$("${LIVE[@]}" 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(sum(1 for e in doc["live"]["endpoints"] if e["state"] == "served"))' || true)
    [[ $got == "$1" ]] || { echo "check --live saw $got endpoints serving, not $1" >&2; exit 1; }
}

# --- 1. every endpoint up --------------------------------------------------------
log "starting openssl s_server on every endpoint"
s_server() {
    openssl s_server -quiet -accept "$1" -cert "$2" -key "$3" "${@:4}" </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
}
s_server 127.0.0.1:6443 "$NODE/pki/apiserver.crt" "$NODE/pki/apiserver.key" \
    -servername apiserver-loopback-client -cert2 "$WORK/self.crt" -key2 "$WORK/self.key"
s_server 127.0.0.1:2379 "$NODE/pki/etcd/server.crt" "$NODE/pki/etcd/server.key"
s_server 127.0.0.2:2380 "$NODE/pki/etcd/peer.crt" "$NODE/pki/etcd/peer.key"
s_server 127.0.0.1:10257 "$WORK/self.crt" "$WORK/self.key"
s_server 127.0.0.1:10259 "$WORK/self.crt" "$WORK/self.key"
s_server 127.0.0.1:10250 "$WORK/self.crt" "$WORK/self.key"
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', 10250), 0.2)" 2>/dev/null && break
    sleep 0.1
done
served 7
log "timing check against check --live, every endpoint up"
hyperfine -N -i --warmup 5 --runs "$RUNS" --style basic --export-json "$WORK/up.json" \
    -n "check -o json" "${CHECK[*]}" \
    -n "check --live -o json, all up" "${LIVE[*]}" >&2
mapfile -t m < <(medians "$WORK/up.json")
CHECK_S=${m[0]} UP_S=${m[1]}
stop_servers

# --- 2. every endpoint down --------------------------------------------------------
served 0
log "timing check --live, every endpoint down"
hyperfine -N -i --warmup 3 --runs "$RUNS" --style basic --export-json "$WORK/down.json" \
    -n "check --live -o json, all down" "${LIVE[*]}" >&2
DOWN_S=$(medians "$WORK/down.json")

# --- 3. every endpoint hung ---------------------------------------------------------
log "starting listeners that accept and never answer"
python3 - "${ENDPOINTS[@]}" <<'EOF' &
import select, socket, sys
listeners = []
for endpoint in sys.argv[1:]:
    host, port = endpoint.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)
    listeners.append(s)
held = []
while True:
    ready, _, _ = select.select(listeners, [], [])
    for s in ready:
        held.append(s.accept()[0])
EOF
PIDS+=($!)
sleep 0.5
log "timing check --live, every endpoint hung"
hyperfine -N -i --warmup 1 --runs "$HUNG_RUNS" --style basic --export-json "$WORK/hung.json" \
    -n "check --live -o json, all hung" "${LIVE[*]}" >&2
HUNG_S=$(medians "$WORK/hung.json")
stop_servers

# --- summary -----------------------------------------------------------------------
LOAD_END=$(load)
EXTRA_S=$(awk -v a="$UP_S" -v b="$CHECK_S" 'BEGIN { print a - b }')
row() { printf '%-46s %12s\n' "$@"; }
echo
echo "kubecred --live benchmark: $(nproc) cores, $(uname -m), $(hyperfine --version)"
echo "load average (1 min) at start $LOAD_START, at end $LOAD_END (figures are only clean near 0)"
echo
row "measurement (median wall-clock)" "median"
row "----------------------------------------------" "------------"
row "check -o json, demo node" "$(ms "$CHECK_S")"
row "check --live -o json, 7 endpoints up" "$(ms "$UP_S")"
row "check --live -o json, every endpoint down" "$(ms "$DOWN_S")"
row "check --live -o json, every endpoint hung" "$(ms "$HUNG_S")"
echo
target() { printf '%-52s %-14s %s\n' "$@"; }
target "target" "measured" "verdict"
target "--live, all up: under ${UP_EXTRA_MAX_MS} ms on top of check" "+$(ms "$EXTRA_S")" \
    "$(verdict "$EXTRA_S * 1000 < $UP_EXTRA_MAX_MS")"
target "--live, all down: under ${DOWN_MAX_S} s in total" "$(ms "$DOWN_S")" \
    "$(verdict "$DOWN_S < $DOWN_MAX_S")"
target "--live, all hung: under ${HUNG_MAX_S} s in total" "$(ms "$HUNG_S")" \
    "$(verdict "$HUNG_S < $HUNG_MAX_S")"
