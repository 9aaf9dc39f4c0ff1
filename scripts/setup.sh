#!/usr/bin/env bash
# Sets up a fresh Debian bookworm machine (as root) for building, testing and running wsprof.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: tmux (TUI end-to-end tests), LLVM 22 + bpftool (eBPF build), podman/runc/busybox
#    (real containers in live-capture tests), dnsmasq (DNS in live tests), patchelf +
#    binutils (scripts/package.sh: the binary's RUNPATH, readelf/objdump/strip), systemd (only for
#    `systemd-analyze verify` of the packaged unit; nothing is started), containerd (the
#    Kubernetes-host tests start a private instance of it; the system one is not enabled here),
#    gcc + libc6-dev (the attack suite builds a tiny static probe that calls fchmod, fsopen and
#    io_uring_setup, which busybox cannot), bpftrace + linux-perf (the peer and the profiler of
#    the capture benchmarks in BENCHMARKS.md; no test needs them).
PKGS=(tmux llvm-22-dev clang-22 bpftool libbpf-dev podman runc busybox-static dnsmasq-base patchelf binutils systemd containerd gcc libc6-dev bpftrace linux-perf)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. DuckDB: the prebuilt libduckdb.so 1.5.6 (matches duckdb crate =1.10506.1) from the npm
#    package, instead of a 20+ minute bundled C++ build.
DUCK_DIR="$ROOT/.cache/duckdb"
if [ ! -f "$DUCK_DIR/libduckdb.so" ]; then
  log "fetching libduckdb.so 1.5.6"
  mkdir -p "$DUCK_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @duckdb/node-bindings-linux-x64@1.5.6-r.1 >/dev/null)
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-1.5.6-r.1.tgz -C "$tmp" package/libduckdb.so
  mv "$tmp/package/libduckdb.so" "$DUCK_DIR/libduckdb.so"
  rm -rf "$tmp"
fi

# 3. Rust toolchain parts: nightly rust-src and bpf-linker for the eBPF programs.
rustup component add rust-src --toolchain nightly >/dev/null 2>&1 || rustup toolchain install nightly --component rust-src --profile minimal
rustup component add clippy rustfmt >/dev/null 2>&1 || true
if ! command -v bpf-linker >/dev/null 2>&1; then
  log "cargo install bpf-linker 0.13.0 (llvm-22)"
  PATH=/usr/lib/llvm-22/bin:$PATH cargo install bpf-linker --version 0.13.0 --locked --no-default-features --features llvm-22 -q
fi

# 4. Kernel interfaces for live capture.
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

# 5. Anything the capture tests need (containers config, images) lives beside.
if [ -f "$ROOT/scripts/setup-capture.sh" ]; then
  bash "$ROOT/scripts/setup-capture.sh"
fi
log "ready"
