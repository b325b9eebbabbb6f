#!/usr/bin/env bash
# `inspect DIR -o json` at scale, side by side with the least work it does.
#
# For each key type (ECDSA P-256, RSA-2048) and size (1,000 / 10,000 / 100,000
# leaves signed by one CA, each with its key), runs `kubecred inspect DIR -o json`
# and `examples/reference_loop` (read + PEM + X.509 parse + signature verify +
# full key validation, on every core, nothing else) alternately, RUNS times
# each, and prints wall, CPU (user+sys) and peak RSS (medians, GNU time) for
# both and kubecred's ratios to the reference. Then `check` on the demo node.
#
# Knobs (environment): SIZES ("1000 10000 100000"), KINDS ("ecdsa rsa"),
# RUNS (3), CHECK_RUNS (21, timed by hyperfine), KUBECRED (a kubecred binary to measure instead of
# the fresh release build, e.g. an older one), TREES (where trees are cached:
# target/bench-trees). Trees are generated once by `examples/cert_tree` and kept
# (100,000 leaves take about 0.8 GB each); `rm -rf target/bench-trees` frees them.
# Not a test: it exits 0 whenever it measured, whatever the figures.
set -euo pipefail

SIZES=${SIZES:-1000 10000 100000}
KINDS=${KINDS:-ecdsa rsa}
RUNS=${RUNS:-3}
CHECK_RUNS=${CHECK_RUNS:-21}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TREES=${TREES:-$ROOT/target/bench-trees}

log() { printf '==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }

need=()
[[ -x /usr/bin/time ]] || need+=(time)
command -v hyperfine >/dev/null || need+=(hyperfine)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi

LOAD_START=$(load)
log "building (release)"
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example cert_tree --example reference_loop
KUBECRED=${KUBECRED:-$ROOT/target/release/kubecred}
CERT_TREE="$ROOT/target/release/examples/cert_tree"
REFERENCE="$ROOT/target/release/examples/reference_loop"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubecred-scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# A tree of N leaves of KIND, made once: `.complete` marks a finished one.
tree() {
    local kind=$1 n=$2 dir="$TREES/$1-$2"
    if [[ ! -e $dir/.complete ]]; then
        rm -rf "$dir"
        mkdir -p "$TREES"
        log "writing $n $kind leaves to $dir"
        local start=$SECONDS
        "$CERT_TREE" "$dir" "$n" "$kind" >&2
        log "  took $((SECONDS - start)) s"
        touch "$dir/.complete"
    fi
    printf '%s\n' "$dir"
}

# One timed run: prints "wall cpu rss_kib" (seconds, seconds, KiB).
timed() {
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || {
        echo "failed: $* ($(head -c 300 "$WORK/stderr"))" >&2
        return 1
    }
    awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$WORK/time"
}

# The median of each column of lines "a b c".
medians() {
    awk '{ for (i = 1; i <= NF; i++) v[i, NR] = $i } END {
        for (i = 1; i <= NF; i++) {
            n = 0; for (r = 1; r <= NR; r++) a[++n] = v[i, r]
            for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
            printf "%s%s", a[int((n + 1) / 2)], (i < NF ? " " : "\n")
        }
    }'
}

declare -A K R
for kind in $KINDS; do
    for n in $SIZES; do
        dir=$(tree "$kind" "$n")
        # Sanity, untimed: both saw every certificate, and every leaf verified.
        got=$("$KUBECRED" inspect "$dir" -o json | grep -c '"fingerprintSha256"')
        [[ $got == $((n + 1)) ]] || { echo "inspect saw $got certificates in $dir, not $((n + 1))" >&2; exit 1; }
        said=$("$REFERENCE" "$dir")
        [[ $said == "$n certificates, $n verified, $n keys matched" ]] ||
            { echo "reference loop on $dir: $said" >&2; exit 1; }
        log "timing $kind $n: kubecred and the reference loop, alternately, $RUNS runs each"
        : >"$WORK/k" && : >"$WORK/r"
        for ((i = 0; i < RUNS; i++)); do
            timed "$KUBECRED" inspect "$dir" -o json >>"$WORK/k"
            timed "$REFERENCE" "$dir" >>"$WORK/r"
        done
        K[$kind-$n]=$(medians <"$WORK/k")
        R[$kind-$n]=$(medians <"$WORK/r")
    done
done

log "check -o json on the demo node, $CHECK_RUNS runs"
"$KUBECRED" demo "$WORK/node" >/dev/null 2>&1
CHECK=("$KUBECRED" --kubernetes-dir "$WORK/node" --no-copies check -o json)
# check exits 1 (WARNING) on the demo by design: -i.
hyperfine -N -i --warmup 5 --runs "$CHECK_RUNS" --style none --export-json "$WORK/check.json" \
    "${CHECK[*]}" >/dev/null 2>&1
CHECK_WALL=$(awk -F': *' '/"median"/ { sub(/,$/, "", $2); print $2; exit }' "$WORK/check.json")
CHECK_CPU=$(awk -F': *' '/"user"/ { sub(/,$/, "", $2); u = $2 } /"system"/ { sub(/,$/, "", $2); print u + $2; exit }' "$WORK/check.json")
: >"$WORK/c"
for ((i = 0; i < CHECK_RUNS; i++)); do
    /usr/bin/time -f '%M' -o "$WORK/time" "${CHECK[@]}" >/dev/null 2>&1 || true
    tail -n 1 "$WORK/time" >>"$WORK/c"
done
CHECK_RSS=$(medians <"$WORK/c")

LOAD_END=$(load)
echo
echo "inspect -o json at scale: $(nproc) cores, $(uname -m); kubecred: $KUBECRED"
echo "load average (1 min) at start $LOAD_START, at end $LOAD_END (figures are only clean near 0)"
echo "medians of $RUNS runs (GNU time): wall s, cpu = user+sys s, peak RSS MiB; ratio = kubecred / reference"
echo
fmt='%-6s %7s | %7s %7s %8s | %7s %7s %8s | %6s %6s\n'
printf "$fmt" kind leaves "k wall" "k cpu" "k RSS" "r wall" "r cpu" "r RSS" "wall x" "cpu x"
for kind in $KINDS; do
    for n in $SIZES; do
        read -r kw kc km <<<"${K[$kind-$n]}"
        read -r rw rc rm <<<"${R[$kind-$n]}"
        printf "$fmt" "$kind" "$n" "$kw" "$kc" "$(awk -v k="$km" 'BEGIN { printf "%.1f", k / 1024 }')" \
            "$rw" "$rc" "$(awk -v k="$rm" 'BEGIN { printf "%.1f", k / 1024 }')" \
            "$(awk -v a="$kw" -v b="$rw" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
            "$(awk -v a="$kc" -v b="$rc" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    done
done
echo
printf 'check -o json, demo node: %.1f ms wall (median), %.1f ms cpu (mean), %.1f MiB peak RSS (median; targets: <= 8 ms, <= 8 MiB)\n' \
    "$(awk -v s="$CHECK_WALL" 'BEGIN { print s * 1000 }')" "$(awk -v s="$CHECK_CPU" 'BEGIN { print s * 1000 }')" \
    "$(awk -v k="$CHECK_RSS" 'BEGIN { print k / 1024 }')"
echo "targets, 10,000 ECDSA: cpu x <= 1.3, wall x <= 1.3, peak RSS <= 40 MiB; 100,000: RSS < 64 MiB"
