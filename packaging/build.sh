#!/usr/bin/env bash
# Builds kubecred's .deb and .rpm from one static musl binary:
#   1. cargo build --release --target x86_64-unknown-linux-musl (and checks that
#      the result is statically linked);
#   2. renders the man pages (kubecred(1) and one kubecred-COMMAND(1) per
#      command) and the bash/zsh/fish completions with that binary into
#      target/packaging/, and the Debian changelog (from the version in
#      Cargo.toml) and copyright (packaging/debian/copyright, plus the crates
#      linked into the binary and their licenses);
#   3. cargo deb --no-build and cargo generate-rpm against that binary, with the
#      metadata of Cargo.toml's [package.metadata.deb] / [...generate-rpm]; then
#      adds DEBIAN/md5sums to the .deb (cargo-deb writes none), as dh_md5sums does.
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

echo "==> man pages and completions into $out"
rm -rf "$out"
mkdir -p "$out/completions" "$out/man"
for page in $("$bin" man --list); do
	"$bin" man "$page" | gzip -9n >"$out/man/$page.1.gz"
done
"$bin" completions bash >"$out/completions/kubecred.bash"
"$bin" completions zsh >"$out/completions/_kubecred"
"$bin" completions fish >"$out/completions/kubecred.fish"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
maintainer=$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
echo "==> Debian changelog and copyright ($version)"
# The date of the commit built (reproducible), else now.
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
# The project's CHANGELOG.md is the upstream changelog (changelog.gz).
gzip -9n <CHANGELOG.md >"$out/changelog.gz"
cat >"$out/changelog.Debian" <<EOF
kubecred ($version-1) unstable; urgency=medium

  * Release $version; what changed is in /usr/share/doc/kubecred/changelog.gz.

 -- $maintainer  $when
EOF
{
	# The header paragraph, then what the static binary carries.
	sed '/^$/q' packaging/debian/copyright | sed '$d'
	echo "Comment: /usr/bin/kubecred is statically linked with these Rust crates"
	echo " (name version: license):"
	cargo tree --locked --offline -e normal,no-proc-macro --target "$target" --prefix none --format '{p}: {l}' |
		sed -e 's/ (\*)$//' -e 's/ v\([0-9]\)/ \1/' -e 's| ([^)]*)||' | grep -v '^kubecred ' | sort -u | sed 's/^/ /'
	echo " and with musl libc (MIT)."
	echo
	sed '1,/^$/d' packaging/debian/copyright
} >"$out/copyright"

echo "==> cargo deb"
cargo deb --no-build --target "$target" --output "$out/"
# md5sums of every file the .deb installs (conffiles included), as dh_md5sums
# writes them, and no empty Depends: field (cargo-deb writes one for a static
# binary); the package is rebuilt with the same contents, owner root.
deb=$(ls "$out"/kubecred_*_amd64.deb)
unpacked=$out/deb-unpacked
rm -rf "$unpacked"
dpkg-deb -R "$deb" "$unpacked"
(cd "$unpacked" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$unpacked/DEBIAN/md5sums"
chmod 0644 "$unpacked/DEBIAN/md5sums"
sed -i '/^Depends: *$/d' "$unpacked/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$unpacked" "$deb" >/dev/null
rm -rf "$unpacked"
echo "==> cargo generate-rpm"
cargo generate-rpm --target "$target" --output "$out/"

ls -l "$out"/*.deb "$out"/*.rpm
