#!/usr/bin/env bash
# The agent under load, side by side in one run: its RSS idle and under the exec/open storm
# (../shared/tools/perf/storm-pipeline.sh's workload in a podman container), and the time
# `GET /v1/signals` takes on its socket while the storm is ingested, as a ratio to the same
# request with the agent idle. As root, after scripts/setup.sh and a release build:
#   bash scripts/bench-agent.sh            (BIN=path/to/wsprof to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/wsprof}
[ -x "$bin" ] || { echo "no $bin: cargo build --release -p tui" >&2; exit 1; }
export CONTAINERS_CONF=$PWD/.cache/podman/containers.conf CONTAINERS_STORAGE_CONF=$PWD/.cache/podman/storage.conf
d=$(mktemp -d)
podman system service -t 0 "unix://$d/podman.sock" >/dev/null 2>&1 & svc=$!
cleanup() { kill "$agent" "$svc" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$d/podman.sock" ] && break; sleep 0.1; done
# A store with data to answer from: the demo bundle (12 profiles and its signals).
"$bin" demo --headless --speed max --db "$d/a.duckdb" --log-file "$d/demo.log" >/dev/null
"$bin" agent --db "$d/a.duckdb" --socket "$d/w.sock" --runtime-socket "$d/podman.sock" \
  --snapshot-interval 30s --log-file "$d/agent.log" >"$d/agent.out" 2>&1 & agent=$!
for _ in $(seq 100); do [ -S "$d/w.sock" ] && break; sleep 0.1; done
[ -S "$d/w.sock" ] || { echo "agent did not start: $(cat "$d/agent.out")" >&2; exit 1; }
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$agent/status"; }
ask() { curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$d/w.sock" http://wsprof/v1/signals; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

sleep 10
idle_rss=$(rss)
for _ in $(seq 30); do ask; sleep 0.1; done > "$d/idle.times"
idle=$(median < "$d/idle.times")

SCRIPT='mkdir -p /tmp/s; i=0; while [ $i -lt 1000 ]; do echo x > /tmp/s/f$i; i=$((i+1)); done; j=0; while [ $j -lt 200 ]; do cat /tmp/s/* > /dev/null; j=$((j+1)); done; k=0; while [ $k -lt 9800 ]; do cat /dev/null; k=$((k+1)); done'
t0=$(date +%s.%N)
podman run --rm --network=none localhost/demo/web:1.0 sh -c "$SCRIPT" >/dev/null & storm=$!
peak=$idle_rss
: > "$d/storm.times"
while kill -0 $storm 2>/dev/null; do
  ask >> "$d/storm.times"
  r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.3
done
t1=$(date +%s.%N)
under=$(median < "$d/storm.times")
n=$(wc -l < "$d/storm.times")
status=$("$bin" status --socket "$d/w.sock")
t2=$(date +%s.%N); kill -TERM "$agent"; wait "$agent" || true; t3=$(date +%s.%N)
printf 'agent RSS: idle %s MiB, peak under the storm %s MiB (storm %.1f s)\n' "$idle_rss" "$peak" "$(echo "$t1 - $t0" | bc)"
printf 'GET /v1/signals: idle median %.4f s; under the storm median %.4f s over %s requests; ratio %.2f\n' \
  "$idle" "$under" "$n" "$(echo "$under / $idle" | bc -l)"
printf 'stop after SIGTERM: %.2f s\n' "$(echo "$t3 - $t2" | bc)"
echo "$status" | sed -n '1p;/^capture/p'
