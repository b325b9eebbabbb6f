#!/usr/bin/env bash
# A bounded AFL++ run of every kubecred fuzz target, as CI runs it.
#
#   bash fuzz/run.sh                 # every target, 60 s each
#   FUZZ_SECONDS=600 bash fuzz/run.sh
#   FUZZ_TARGETS="pem cert" bash fuzz/run.sh
#
# Installs what is missing (make and a C compiler from apt, cargo-afl from
# crates.io, which builds AFL++ from its bundled source; no LLVM is needed),
# builds the targets, replays every seed through each target once, then fuzzes
# each target for FUZZ_SECONDS, one at a time. Prints, per target, the
# executions, the corpus size and the crashes and hangs found.
#
# Exit status: 0 when no crash was found; 1 when a seed or the fuzzer crashed a
# target (each crashing input is copied to fuzz/crashes/<target>/); 2 when the
# run could not be set up. Hangs (an input slower than FUZZ_TIMEOUT_MS) are
# reported and copied there too, but do not fail the run: on a loaded machine a
# slow input is not always a hang.
set -euo pipefail

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$fuzz_dir")
seconds=${FUZZ_SECONDS:-60}
timeout_ms=${FUZZ_TIMEOUT_MS:-2000}
targets=${FUZZ_TARGETS:-"kubeconfig pem cert key manifest tree"}
afl_version=0.18.2
out_root="$fuzz_dir/out"
crash_root="$fuzz_dir/crashes"

say() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: %s\n' "$*" >&2; exit 2; }

case $seconds in '' | *[!0-9]*) die "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" ;; esac
case $timeout_ms in '' | *[!0-9]*) die "FUZZ_TIMEOUT_MS must be a whole number, not '$timeout_ms'" ;; esac
for target in $targets; do
    case $target in kubeconfig | pem | cert | key | manifest | tree) ;; *) die "unknown target '$target'" ;; esac
done

# --- tools --------------------------------------------------------------------
missing=()
command -v make >/dev/null || missing+=(make)
command -v cc >/dev/null || missing+=(gcc)
if ((${#missing[@]})); then
    say "installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "cannot install ${missing[*]}"
fi
command -v cargo >/dev/null || die "cargo is not on PATH"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! cargo afl --version 2>/dev/null | grep -q "$afl_version"; then
    say "installing cargo-afl $afl_version (builds AFL++ from its bundled source)"
    # Unoptimised: a wrapper that starts the build; AFL++ itself is built below.
    cargo install --locked --quiet --debug --force cargo-afl --version "$afl_version" || die "cannot install cargo-afl"
fi
afl_data="${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs"
rustc_version=$(rustc --version | awk '{print $2}')
if ! compgen -G "$afl_data/rustc-$rustc_version-*/afl.rs-$afl_version/afl/bin/afl-fuzz" >/dev/null; then
    say "building AFL++ for rustc $rustc_version"
    cargo afl config --build --force >/dev/null || die "cannot build AFL++ (cargo afl config --build)"
fi

# --- build --------------------------------------------------------------------
say "building the targets"
(cd "$fuzz_dir" && cargo afl build --release --locked --quiet) || die "cannot build the fuzz targets"
bin_dir="${CARGO_TARGET_DIR:-$fuzz_dir/target}/release"

# --- seeds --------------------------------------------------------------------
# The committed seeds and dictionaries, plus the project's own test files.
# AFL refuses inputs over 1 MB; those are left out, and so is the billion-laughs
# alias bomb, whose slow rejection (by design, inside serde-saphyr's budget)
# would take most of a short run; `cargo test` still replays it.
seed_files() {
    local target=$1 malformed="$project/testdata/malformed" kubeadm="$project/testdata/kubeadm-1.28.7"
    find "$fuzz_dir/seeds/$target" -type f
    case $target in
    kubeconfig) find "$malformed" "$kubeadm" -type f -name '*.conf' ;;
    pem) find "$malformed" "$kubeadm"/*/etc-kubernetes -type f \( -name '*.crt' -o -name '*.key' -o -name '*.pub' \) ;;
    key) find "$malformed" "$kubeadm"/*/etc-kubernetes -type f -name '*.key' ;;
    cert) find "$malformed" -type f -name 'der-*.crt' ;;
    manifest) ;;
    tree) ;;
    esac | grep -v 'alias-bomb'
}

# The tree target's input: a slot byte, then the file's new contents (see src/targets.rs).
tree_seeds_from_testdata() {
    local dir=$1 file slot
    for file in "$project"/testdata/malformed/*; do
        case $file in
        *alias-bomb*) continue ;;
        *.crt) slot='\x06' ;; # pki/apiserver.crt
        *.key) slot='\x07' ;; # pki/apiserver.key
        *.conf) slot='\x16' ;; # admin.conf
        *) continue ;;
        esac
        [ "$(stat -c %s "$file")" -lt 1048000 ] || continue
        { printf "$slot"; cat "$file"; } >"$dir/testdata-$(basename "$file")"
    done
}

dictionaries() {
    case $1 in
    kubeconfig) echo "-x $fuzz_dir/dict/yaml.dict" ;;
    pem) echo "-x $fuzz_dir/dict/pem.dict" ;;
    cert) echo "-x $fuzz_dir/dict/der.dict" ;;
    key) echo "-x $fuzz_dir/dict/pemder.dict" ;;
    manifest) echo "-x $fuzz_dir/dict/yaml.dict" ;;
    tree) echo "-x $fuzz_dir/dict/pemder.dict -x $fuzz_dir/dict/yaml.dict" ;;
    esac
}

# Copies a crashing or hanging input under a name that says what it is.
keep() {
    local target=$1 kind=$2 file=$3 sum
    sum=$(sha256sum "$file" | cut -c1-16)
    mkdir -p "$crash_root/$target"
    cp "$file" "$crash_root/$target/$kind-$target-$sum"
    echo "$crash_root/$target/$kind-$target-$sum"
}

stat_of() { awk -F' *: *' -v key="$2" '$1 == key { print $2 }' "$1"; }

# --- run ----------------------------------------------------------------------
# No terminal, no CPU binding (the cores are shared), no core-dump setup, and no
# trimming: -V counts fuzzing time only, and trimming slow inputs can outlast it.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    AFL_NO_AFFINITY=1 AFL_IGNORE_SEED_PROBLEMS=1 AFL_FAST_CAL=1 AFL_DISABLE_TRIM=1
export KUBECRED_FUZZ_TREE="$out_root/tree-base"
crashed=0
summary=()
for target in $targets; do
    work="$out_root/$target"
    rm -rf "$work" "$KUBECRED_FUZZ_TREE"
    mkdir -p "$work/in"
    while IFS= read -r file; do
        [ "$(stat -c %s "$file")" -lt 1048000 ] || continue
        cp "$file" "$work/in/$(basename "$(dirname "$file")")-$(basename "$file")"
    done < <(seed_files "$target")
    [ "$target" = tree ] && tree_seeds_from_testdata "$work/in"

    # Every seed once, outside AFL: a crashing seed is a finding too.
    seed_crashes=0
    for file in "$work/in"/*; do
        status=0
        timeout 20 "$bin_dir/$target" <"$file" >/dev/null 2>&1 || status=$?
        if [ "$status" -ne 0 ]; then
            say "$target: seed $(basename "$file") exits $status: $(keep "$target" crash "$file")"
            seed_crashes=$((seed_crashes + 1))
        fi
    done

    say "$target: $(find "$work/in" -type f | wc -l) seeds, fuzzing for ${seconds}s"
    # shellcheck disable=SC2046 # the dictionaries are several words on purpose
    # -V bounds the fuzzing; the outer timeout (SIGINT: AFL saves its stats and
    # stops) bounds calibration too, at twice the time plus a minute.
    status=0
    timeout -s INT -k 30 $((2 * seconds + 60)) \
        cargo afl fuzz -i "$work/in" -o "$work/findings" -V "$seconds" -t "$timeout_ms" -m 2048 \
        $(dictionaries "$target") -- "$bin_dir/$target" >"$work/afl.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
        tail -20 "$work/afl.log" >&2
        die "$target: afl-fuzz failed with status $status (log: $work/afl.log)"
    fi
    stats="$work/findings/default/fuzzer_stats"
    [ -f "$stats" ] || die "$target: afl-fuzz wrote no fuzzer_stats (log: $work/afl.log)"
    crashes=0
    hangs=0
    for file in "$work/findings/default/crashes"/id:*; do
        [ -e "$file" ] || continue
        say "$target: crash: $(keep "$target" crash "$file")"
        crashes=$((crashes + 1))
    done
    for file in "$work/findings/default/hangs"/id:*; do
        [ -e "$file" ] || continue
        say "$target: hang: $(keep "$target" hang "$file")"
        hangs=$((hangs + 1))
    done
    crashes=$((crashes + seed_crashes))
    [ "$crashes" -eq 0 ] || crashed=1
    summary+=("$(printf '%-10s %12s %10s %8s %10s %8s %8s' "$target" "$(stat_of "$stats" execs_done)" \
        "$(stat_of "$stats" execs_per_sec)" "$(stat_of "$stats" corpus_count)" \
        "$(stat_of "$stats" stability)" "$crashes" "$hangs")")
done
rm -rf "$KUBECRED_FUZZ_TREE"

printf '\n%-10s %12s %10s %8s %10s %8s %8s\n' target executions execs/s corpus stability crashes hangs
printf '%s\n' "${summary[@]}"
if [ "$crashed" -ne 0 ]; then
    say "crashes found: inputs under $crash_root/; reproduce with $bin_dir/TARGET < FILE"
    exit 1
fi
say "no crash in ${seconds}s per target"
