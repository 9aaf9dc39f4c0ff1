#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit, property, store on real
# DuckDB files, TUI snapshots, tmux end-to-end, live eBPF capture when root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/lib/llvm-22/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test
