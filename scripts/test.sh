#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit, property, store on real
# DuckDB files, TUI snapshots, tmux end-to-end, live eBPF capture when root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/lib/llvm-22/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test
# The Debian package, installed and removed for real (needs root; scripts/test-package.sh).
if [ "$(id -u)" = 0 ]; then
  bash scripts/test-package.sh
elif [ "${CI:-}" = true ]; then
  echo "FAIL package test: needs root (CI=true)" >&2
  exit 1
else
  echo "SKIP package test: needs root"
fi
