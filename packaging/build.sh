#!/usr/bin/env bash
# Builds kubecred's .deb and .rpm from one static musl binary:
#   1. cargo build --release --target x86_64-unknown-linux-musl (and checks that
#      the result is statically linked);
#   2. renders the man page and the bash/zsh/fish completions with that binary
#      into target/packaging/;
#   3. cargo deb --no-build and cargo generate-rpm against that binary, with the
#      metadata of Cargo.toml's [package.metadata.deb] / [...generate-rpm].
# Output: target/packaging/kubecred_<version>-1_amd64.deb and
#         target/packaging/kubecred-<version>-1.x86_64.rpm
# Needs: rustup's x86_64-unknown-linux-musl target, musl-gcc (Debian:
# musl-tools), cargo-deb and cargo-generate-rpm. It installs nothing itself;
# packaging/check.sh installs what is missing, then runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
out=target/packaging
bin=target/$target/release/kubecred

missing=()
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
	missing+=("the Rust target: rustup target add $target")
command -v musl-gcc >/dev/null || missing+=("musl-gcc: apt-get install musl-tools")
cargo deb --version >/dev/null 2>&1 || missing+=("cargo-deb: cargo install --locked cargo-deb")
cargo generate-rpm --version >/dev/null 2>&1 ||
	missing+=("cargo-generate-rpm: cargo install --locked cargo-generate-rpm")
if [ ${#missing[@]} -gt 0 ]; then
	printf 'build.sh: missing %s\n' "${missing[@]}" >&2
	exit 1
fi

echo "==> cargo build --release --locked --target $target"
# aws-lc-sys compiles C: cc-rs picks musl-gcc for this target.
cargo build --release --locked --target "$target"

# Static or nothing: the packages must run on any glibc or none.
if ! file -b "$bin" | grep -Eq 'static(-pie)? linked|statically linked'; then
	echo "build.sh: $bin is not statically linked: $(file -b "$bin")" >&2
	exit 1
fi
# ldd exits 0 on a static-pie binary too: read what it says.
libs=$(ldd "$bin" 2>&1 || true)
if ! echo "$libs" | grep -Eq 'statically linked|not a dynamic executable' || echo "$libs" | grep -q '=>'; then
	echo "build.sh: ldd lists shared libraries for $bin:" >&2
	echo "$libs" >&2
	exit 1
fi
# Both packages carry the same binary: stripped here (cargo-deb would strip
# its copy, cargo-generate-rpm would not).
strip --strip-all "$bin"
echo "    $(file -b "$bin" | cut -d, -f1-4), $(du -h "$bin" | cut -f1)"

echo "==> man page and completions into $out"
rm -rf "$out"
mkdir -p "$out/completions"
"$bin" man | gzip -9n >"$out/kubecred.1.gz"
"$bin" completions bash >"$out/completions/kubecred.bash"
"$bin" completions zsh >"$out/completions/_kubecred"
"$bin" completions fish >"$out/completions/kubecred.fish"

echo "==> cargo deb"
cargo deb --no-build --target "$target" --output "$out/"
echo "==> cargo generate-rpm"
cargo generate-rpm --target "$target" --output "$out/"

ls -l "$out"/*.deb "$out"/*.rpm
