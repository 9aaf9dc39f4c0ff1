#!/usr/bin/env bash
# Builds the Debian package target/package/wsprof_VERSION_amd64.deb:
#   /usr/bin/wsprof                     the release binary, RUNPATH $ORIGIN/../lib/wsprof
#   /usr/lib/wsprof/libduckdb.so        DuckDB, private to wsprof (not on the linker path)
#   /etc/wsprof/config.toml             default settings, all comments (a conffile)
#   /lib/systemd/system/wsprof.service  the agent, hardened (packaging/wsprof.service)
#   /usr/share/doc/wsprof/copyright
# Maintainer scripts (packaging/debian/): postinst creates the group `wsprof` and
# /var/lib/wsprof, enables the unit where systemd runs; removing (even purging) the package
# never deletes the store in /var/lib/wsprof.
# Needs: cargo (scripts/setup.sh), patchelf, binutils (readelf, objdump, strip), dpkg-deb.
# Maintainer field: $WSPROF_MAINTAINER, else git's user.name <user.email>.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:/usr/lib/llvm-22/bin:$PATH"

log() { printf '[package] %s\n' "$*"; }
die() { printf '[package] error: %s\n' "$*" >&2; exit 1; }

for tool in cargo patchelf readelf objdump strip dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run: bash scripts/setup.sh)"
done
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 is packaged (this is $(dpkg --print-architecture))"

VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
[ -n "$VERSION" ] || die "no version in [workspace.package] of Cargo.toml"
# shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader, not the shell
RPATH='$ORIGIN/../lib/wsprof'
OUT="$ROOT/target/package"
STAGE="$OUT/wsprof_${VERSION}_amd64"
DEB="$OUT/wsprof_${VERSION}_amd64.deb"

# 1. The binary. Built exactly as `cargo build --release` builds it for development (same
#    target dir, so no second full build), then its RUNPATH is rewritten with patchelf.
#    Why not a RUSTFLAGS override instead: rustflags are part of every crate's fingerprint,
#    so overriding them rebuilds all ~400 crates and the eBPF object (many minutes on a small
#    machine), either thrashing target/release or doubling it in a second target dir, and an
#    override must also restate any other flag .cargo/config.toml gains later. The dev RUNPATH
#    ($ORIGIN/../../.cache/duckdb:... from .cargo/config.toml, pointing into the checkout)
#    is longer than the packaged one, so patchelf rewrites the string in place and nothing
#    else in the ELF moves; the readelf check below makes sure of the result.
log "cargo build --release -p tui (version $VERSION)"
cargo build --release -p tui --bin wsprof
BIN="$ROOT/target/release/wsprof"
DUCKDB="$ROOT/.cache/duckdb/libduckdb.so"
[ -f "$DUCKDB" ] || die "$DUCKDB missing (run: bash scripts/setup.sh)"
readelf -d "$BIN" | grep -q 'NEEDED.*\[libduckdb\.so\]' || die "$BIN does not link libduckdb.so"

# 2. The staging tree.
rm -rf "$STAGE" "$DEB"
install -d -m 0755 "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/usr/lib/wsprof" "$STAGE/etc/wsprof" \
  "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/wsprof"
# Symbol tables stripped as Debian does (-1.5 MB binary, -11 MB libduckdb.so); panics still
# name their source location. patchelf runs last, on the final file.
install -m 0755 "$BIN" "$STAGE/usr/bin/wsprof"
strip --strip-unneeded "$STAGE/usr/bin/wsprof"
patchelf --set-rpath "$RPATH" "$STAGE/usr/bin/wsprof"
install -m 0644 "$DUCKDB" "$STAGE/usr/lib/wsprof/libduckdb.so"
strip --strip-unneeded "$STAGE/usr/lib/wsprof/libduckdb.so"
install -m 0644 packaging/config.toml "$STAGE/etc/wsprof/config.toml"
install -m 0644 packaging/wsprof.service "$STAGE/lib/systemd/system/wsprof.service"
install -m 0644 packaging/copyright "$STAGE/usr/share/doc/wsprof/copyright"
# A native package's changelog: one entry naming the commit it was built from.
MAINTAINER=${WSPROF_MAINTAINER:-}
if [ -z "$MAINTAINER" ] && git config user.email >/dev/null 2>&1; then
  MAINTAINER="$(git config user.name) <$(git config user.email)>"
fi
MAINTAINER=${MAINTAINER:-wsprof maintainers <wsprof@localhost>}
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=
if git status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then dirty=", with local changes"; fi
when=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
printf 'wsprof (%s) unstable; urgency=medium\n\n  * Built from commit %s%s by scripts/package.sh.\n\n -- %s  %s\n' \
  "$VERSION" "$commit" "$dirty" "$MAINTAINER" "$when" | gzip -9n >"$STAGE/usr/share/doc/wsprof/changelog.gz"
chmod 0644 "$STAGE/usr/share/doc/wsprof/changelog.gz"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$STAGE/DEBIAN/"
echo /etc/wsprof/config.toml >"$STAGE/DEBIAN/conffiles"

# 3. RUNPATH is exactly the private directory: no dev path into the checkout, no DT_RPATH.
runpaths=$(readelf -d "$STAGE/usr/bin/wsprof" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]$/\1/p')
[ "$runpaths" = "$RPATH" ] || die "RUNPATH of usr/bin/wsprof is '$runpaths', expected '$RPATH'"
if readelf -d "$STAGE/usr/bin/wsprof" | grep -q '(RPATH)'; then die "usr/bin/wsprof has a DT_RPATH"; fi
# ...and it resolves to the staged copy and runs from there.
resolved=$(env -u LD_LIBRARY_PATH ldd "$STAGE/usr/bin/wsprof" | sed -n 's/^[[:space:]]*libduckdb\.so => \([^ ]*\) .*/\1/p')
[ "$(realpath -m "$resolved")" = "$STAGE/usr/lib/wsprof/libduckdb.so" ] \
  || die "staged usr/bin/wsprof resolves libduckdb.so to '$resolved'"
staged_version=$(env -u LD_LIBRARY_PATH "$STAGE/usr/bin/wsprof" --version)
[ "$staged_version" = "wsprof $VERSION" ] || die "staged binary says '$staged_version', expected 'wsprof $VERSION'"

# 4. Depends, by hand: dpkg-shlibdeps cannot resolve the private libduckdb.so. The glibc
#    floor is the newest GLIBC_ symbol version either ELF file asks for.
glibc=$(objdump -T "$STAGE/usr/bin/wsprof" "$STAGE/usr/lib/wsprof/libduckdb.so" \
  | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1)
[ -n "$glibc" ] || die "no GLIBC_ symbol versions found"
installed_size=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<EOF
Package: wsprof
Version: $VERSION
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $installed_size
Depends: libc6 (>= $glibc), libstdc++6, libgcc-s1, adduser | passwd
Section: admin
Priority: optional
Description: workload security profiles for the containers of this host
 wsprof watches what the containers on a Linux host do at the kernel level
 (eBPF), merges the activity of every container of the same image and version
 into a behaviour profile, and lets you triage security signals against those
 profiles from the terminal.
 .
 The wsprof.service agent captures and learns; the wsprof command (members of
 the group wsprof) attaches to it. The store in /var/lib/wsprof is kept when the
 package is removed or purged.
EOF

# 5. The package. --root-owner-group: every file root:root without fakeroot.
dpkg-deb --build --root-owner-group "$STAGE" "$DEB" >/dev/null
rm -rf "$STAGE"
log "wrote ${DEB#"$ROOT"/} ($(du -h "$DEB" | cut -f1), installed $((installed_size / 1024)) MB, Depends libc6 >= $glibc)"
