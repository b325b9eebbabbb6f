#!/usr/bin/env bash
# kubecred benchmark: whole-process wall-clock medians (hyperfine) and peak RSS
# (GNU time), printed as a summary table with the targets' pass/fail.
#
#   bench/run.sh            # everything, 5 to 8 minutes on 2 cores
#
# Knobs (environment): CHECK_RUNS (30), RSS_RUNS (11), SMALL (1000), LARGE (10000),
# SMALL_RUNS (10), LARGE_RUNS (5), RENEW_RUNS (10), KEEP=1 keeps the temporary folder.
# Not a test: it exits 0 whenever it measured, whatever the figures.
set -euo pipefail

CHECK_RUNS=${CHECK_RUNS:-30}
RSS_RUNS=${RSS_RUNS:-11}
SMALL=${SMALL:-1000}
LARGE=${LARGE:-10000}
SMALL_RUNS=${SMALL_RUNS:-10}
LARGE_RUNS=${LARGE_RUNS:-5}
RENEW_RUNS=${RENEW_RUNS:-10}

# Targets.
CHECK_SPEEDUP_MIN=10   # kubecred check at least this many times faster than the openssl loop
CHECK_RSS_MAX_KB=8192  # peak RSS of check, KiB (8 MiB)
LARGE_MAX_S=0.5        # inspect over LARGE certificates, seconds
RENEW_RSA_MAX_S=0.6    # renew all on the demo node, RSA-2048
RENEW_ECDSA_MAX_S=0.05 # renew all on the demo node, ECDSA P-256

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }

# --- tools -------------------------------------------------------------------
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[[ -x /usr/bin/time ]] || need+=(time)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi

LOAD_START=$(load)
log "building (release)"
cargo build --release --quiet
cargo build --release --quiet --example cert_tree
KUBECRED="$ROOT/target/release/kubecred"
CERT_TREE="$ROOT/target/release/examples/cert_tree"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubecred-bench.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
    log "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

# The medians of a hyperfine export, one line per command, in seconds.
medians() { awk -F': *' '/"median"/ { sub(/,$/, "", $2); print $2 }' "$1"; }
# The mean CPU time (user + system) of a hyperfine export, one line per command.
cpu_means() {
    awk -F': *' '/"user"/ { sub(/,$/, "", $2); u = $2 }
                 /"system"/ { sub(/,$/, "", $2); print u + $2 }' "$1"
}

# The median peak RSS (KiB) of RSS_RUNS runs of a command, stdout discarded.
# `check` exits 1 on the demo (a WARNING), so exit statuses are not judged here.
median_rss() {
    local i
    for ((i = 0; i < RSS_RUNS; i++)); do
        /usr/bin/time -f %M -o "$WORK/rss" "$@" >/dev/null 2>&1 || true
        tail -n 1 "$WORK/rss"
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ms() { awk -v s="$1" 'BEGIN { printf "%.2f ms", s * 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }

# --- 1. check on the demo node vs an openssl loop ------------------------------
log "writing the demo node (RSA-2048)"
NODE="$WORK/node"
"$KUBECRED" demo "$NODE" >/dev/null 2>&1
CERTS="$WORK/certs"
mkdir "$CERTS"
for crt in "$NODE"/pki/*.crt; do cp "$crt" "$CERTS/"; done
for crt in "$NODE"/pki/etcd/*.crt; do cp "$crt" "$CERTS/etcd-$(basename "$crt")"; done
for conf in "$NODE"/*.conf; do
    data=$(awk '$1 == "client-certificate-data:" { print $2; exit }' "$conf")
    if [[ -n $data ]]; then
        printf '%s' "$data" | base64 -d >"$CERTS/$(basename "$conf" .conf)-client.crt"
    fi
done
NCERTS=$(find "$CERTS" -name '*.crt' | wc -l)
cat >"$WORK/openssl-loop.sh" <<EOF
for crt in "$CERTS"/*.crt; do
    openssl x509 -noout -enddate -subject -in "\$crt"
done
EOF

CHECK=("$KUBECRED" --kubernetes-dir "$NODE" --no-copies check -o json)
# Sanity: check judges the node (0 OK or 1 WARNING: front-proxy-client expires
# within 20 days by design) and prints JSON; the loop reads every certificate.
status=0
"${CHECK[@]}" >"$WORK/check.json" || status=$?
((status <= 1)) || { echo "check exited $status" >&2; exit 1; }
grep -q '"schemaVersion": 1' "$WORK/check.json" || { echo "check printed no JSON" >&2; exit 1; }
if [[ $(bash "$WORK/openssl-loop.sh" | grep -c '^notAfter=') != "$NCERTS" ]]; then
    echo "the openssl loop did not read all $NCERTS certificates" >&2
    exit 1
fi

log "timing check vs the openssl loop over $NCERTS certificates"
hyperfine -N -i --warmup 5 --runs "$CHECK_RUNS" --style basic \
    --export-json "$WORK/check-hf.json" \
    -n "kubecred check -o json" "${CHECK[*]}" \
    -n "openssl x509 loop ($NCERTS certs)" "bash $WORK/openssl-loop.sh" >&2
mapfile -t m < <(medians "$WORK/check-hf.json")
CHECK_S=${m[0]} LOOP_S=${m[1]}
mapfile -t m < <(cpu_means "$WORK/check-hf.json")
CHECK_CPU=${m[0]} LOOP_CPU=${m[1]}
log "peak RSS of check (median of $RSS_RUNS)"
CHECK_RSS=$(median_rss "${CHECK[@]}")
LOOP_RSS=$(median_rss bash "$WORK/openssl-loop.sh")

# --- 2. inspect over certificate trees -----------------------------------------
declare -A TREE_S TREE_CPU TREE_RSS
for n in "$SMALL" "$LARGE"; do
    log "writing a tree of $n certificates"
    "$CERT_TREE" "$WORK/tree-$n" "$n" >/dev/null
done
for keys in with without; do
    if [[ $keys == without ]]; then
        find "$WORK/tree-$SMALL" "$WORK/tree-$LARGE" -name '*.key' -delete
    fi
    for n in "$SMALL" "$LARGE"; do
        runs=$SMALL_RUNS
        [[ $n == "$LARGE" ]] && runs=$LARGE_RUNS
        INSPECT=("$KUBECRED" inspect "$WORK/tree-$n" -o json)
        got=$("${INSPECT[@]}" | grep -c '"fingerprintSha256"')
        [[ $got == $((n + 1)) ]] || { echo "inspect saw $got certificates, not $((n + 1))" >&2; exit 1; }
        log "timing inspect over $n certificates, $keys keys"
        hyperfine -N --warmup 1 --runs "$runs" --style basic \
            --export-json "$WORK/inspect-$n-$keys.json" \
            -n "inspect $n certs, $keys .key" "${INSPECT[*]}" >&2
        TREE_S[$n-$keys]=$(medians "$WORK/inspect-$n-$keys.json")
        TREE_CPU[$n-$keys]=$(cpu_means "$WORK/inspect-$n-$keys.json")
        TREE_RSS[$n-$keys]=$(RSS_RUNS=3 median_rss "${INSPECT[@]}")
    done
done

# --- 3. renew all on the demo node, RSA-2048 and ECDSA P-256 -------------------
declare -A RENEW_S RENEW_CPU
for alg in rsa-2048 ecdsa-p256; do
    log "timing renew all on a demo node ($alg)"
    pristine="$WORK/pristine-$alg"
    "$KUBECRED" demo "$pristine" --key-algorithm "$alg" >/dev/null 2>&1
    target_node="$WORK/renew-$alg"
    state="$WORK/state-$alg"
    RENEW=("$KUBECRED" --kubernetes-dir "$target_node" --state-dir "$state" -q renew all --yes)
    hyperfine -N --warmup 1 --runs "$RENEW_RUNS" --style basic \
        --prepare "bash -c 'rm -rf $target_node $state && cp -a $pristine $target_node'" \
        --export-json "$WORK/renew-$alg.json" \
        -n "renew all ($alg)" "${RENEW[*]}" >&2
    RENEW_S[$alg]=$(medians "$WORK/renew-$alg.json")
    RENEW_CPU[$alg]=$(cpu_means "$WORK/renew-$alg.json")
done

# --- summary -------------------------------------------------------------------
LOAD_END=$(load)
SPEEDUP=$(awk -v a="$LOOP_S" -v b="$CHECK_S" 'BEGIN { printf "%.1f", a / b }')
row() { printf '%-48s %12s %12s %10s\n' "$@"; }
echo
echo "kubecred benchmark: $(nproc) cores, $(uname -m), $(hyperfine --version)"
echo "load average (1 min) at start $LOAD_START, at end $LOAD_END (figures are only clean near 0)"
echo "median = median wall-clock of the whole process (hyperfine); cpu = mean user+sys;"
echo "peak RSS = median of ${RSS_RUNS} runs (3 for trees) of /usr/bin/time -f %M"
echo
row "measurement" "median" "cpu" "peak RSS"
row "------------------------------------------------" "------------" "------------" "----------"
row "check -o json, demo node (RSA-2048)" "$(ms "$CHECK_S")" "$(ms "$CHECK_CPU")" "$(mib "$CHECK_RSS")"
row "openssl x509 loop, same $NCERTS certificates" "$(ms "$LOOP_S")" "$(ms "$LOOP_CPU")" "$(mib "$LOOP_RSS")"
for keys in with without; do
    for n in "$SMALL" "$LARGE"; do
        row "inspect -o json, $n leaves + CA, $keys .key" "$(ms "${TREE_S[$n-$keys]}")" \
            "$(ms "${TREE_CPU[$n-$keys]}")" "$(mib "${TREE_RSS[$n-$keys]}")"
    done
done
for alg in rsa-2048 ecdsa-p256; do
    row "renew all --yes, demo node, $alg" "$(ms "${RENEW_S[$alg]}")" "$(ms "${RENEW_CPU[$alg]}")" "-"
done
echo
for keys in with without; do
    growth=$(awk -v a="${TREE_S[$LARGE-$keys]}" -v b="${TREE_S[$SMALL-$keys]}" 'BEGIN { printf "%.1f", a / b }')
    per=$(awk -v a="${TREE_S[$LARGE-$keys]}" -v n="$LARGE" 'BEGIN { printf "%.0f", a / n * 1e6 }')
    echo "inspect $SMALL -> $LARGE certificates, $keys .key files: x$growth time (x$((LARGE / SMALL)) is linear), ${per} us per certificate"
done
keyshare=$(awk -v a="${TREE_S[$LARGE-with]}" -v b="${TREE_S[$LARGE-without]}" 'BEGIN { printf "%.0f", (a - b) / a * 100 }')
echo "the .key files account for ${keyshare}% of inspect's median time over $LARGE certificates"
echo
target() { printf '%-52s %-14s %s\n' "$@"; }
target "target" "measured" "verdict"
target "check >= ${CHECK_SPEEDUP_MIN}x faster than the openssl loop" "x$SPEEDUP" \
    "$(verdict "$LOOP_S / $CHECK_S >= $CHECK_SPEEDUP_MIN")"
target "check peak RSS < $(mib "$CHECK_RSS_MAX_KB")" "$(mib "$CHECK_RSS")" \
    "$(verdict "$CHECK_RSS < $CHECK_RSS_MAX_KB")"
target "inspect $LARGE certs, with .key files, < ${LARGE_MAX_S} s" "$(ms "${TREE_S[$LARGE-with]}")" \
    "$(verdict "${TREE_S[$LARGE-with]} < $LARGE_MAX_S")"
target "inspect $LARGE certs, without .key files, < ${LARGE_MAX_S} s" "$(ms "${TREE_S[$LARGE-without]}")" \
    "$(verdict "${TREE_S[$LARGE-without]} < $LARGE_MAX_S")"
target "renew all, demo node, RSA-2048, <= ${RENEW_RSA_MAX_S} s" "$(ms "${RENEW_S[rsa-2048]}")" \
    "$(verdict "${RENEW_S[rsa-2048]} <= $RENEW_RSA_MAX_S")"
target "renew all, demo node, ECDSA P-256, <= ${RENEW_ECDSA_MAX_S} s" "$(ms "${RENEW_S[ecdsa-p256]}")" \
    "$(verdict "${RENEW_S[ecdsa-p256]} <= $RENEW_ECDSA_MAX_S")"
