#!/usr/bin/env bash
# Keypress to frame in the TUI attached to the agent, idle and while the exec/open storm is
# ingested, side by side in one run. The UI runs in a real terminal (tmux); a key (Down, then Up,
# alternating on the images screen) is sent and the pane polled every 2 ms until it changes.
# The figure includes tmux's own delivery and a poll's cost (an upper bound). As root, after
# scripts/setup.sh and a release build:
#   bash scripts/bench-ui-latency.sh       (BIN=path/to/wsprof to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${BIN:-target/release/wsprof}")
[ -x "$bin" ] || { echo "no $bin: cargo build --release -p tui" >&2; exit 1; }
command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 1; }
export CONTAINERS_CONF=$PWD/.cache/podman/containers.conf CONTAINERS_STORAGE_CONF=$PWD/.cache/podman/storage.conf
d=$(mktemp -d)
s="wsprof-lat-$$"
podman system service -t 0 "unix://$d/podman.sock" >/dev/null 2>&1 & svc=$!
cleanup() { tmux kill-session -t "$s" 2>/dev/null || true; kill "$agent" "$svc" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$d/podman.sock" ] && break; sleep 0.1; done
"$bin" demo --headless --speed max --db "$d/a.duckdb" --log-file "$d/demo.log" >/dev/null
"$bin" agent --db "$d/a.duckdb" --socket "$d/w.sock" --runtime-socket "$d/podman.sock" \
  --snapshot-interval 2s --log-file "$d/agent.log" >"$d/agent.out" 2>&1 & agent=$!
for _ in $(seq 100); do [ -S "$d/w.sock" ] && break; sleep 0.1; done
[ -S "$d/w.sock" ] || { echo "agent did not start: $(cat "$d/agent.out")" >&2; exit 1; }
tmux new-session -d -s "$s" -x 160 -y 45 "$bin --socket $d/w.sock --log-file $d/ui.log"
for _ in $(seq 100); do tmux capture-pane -p -t "$s" | grep -q "nginx" && break; sleep 0.1; done
sleep 8

# One key, then poll the pane until it differs: milliseconds on stdout.
press() {
  local before now t0 t1
  before=$(tmux capture-pane -p -t "$s")
  t0=$(date +%s%N)
  tmux send-keys -t "$s" "$1"
  for _ in $(seq 2000); do
    now=$(tmux capture-pane -p -t "$s")
    [ "$now" != "$before" ] && break
    sleep 0.002
  done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95); if (i<1) i=1; print a[i]}'; }
run_keys() { for i in $(seq "$1"); do if [ $((i % 2)) = 1 ]; then press Down; else press Up; fi; sleep 0.1; done; }

run_keys 30 > "$d/idle.ms"
SCRIPT='mkdir -p /tmp/s; i=0; while [ $i -lt 1000 ]; do echo x > /tmp/s/f$i; i=$((i+1)); done; j=0; while [ $j -lt 200 ]; do cat /tmp/s/* > /dev/null; j=$((j+1)); done; k=0; while [ $k -lt 9800 ]; do cat /dev/null; k=$((k+1)); done'
podman run --rm --network=none localhost/demo/web:1.0 sh -c "$SCRIPT" >/dev/null & storm=$!
sleep 1
: > "$d/storm.ms"
while kill -0 $storm 2>/dev/null; do run_keys 2 >> "$d/storm.ms"; done
wait $storm || true
printf 'keypress to frame, idle: median %s ms, p95 %s ms (%s keys)\n' "$(median < "$d/idle.ms")" "$(p95 < "$d/idle.ms")" "$(wc -l < "$d/idle.ms")"
printf 'keypress to frame, during the storm: median %s ms, p95 %s ms (%s keys)\n' "$(median < "$d/storm.ms")" "$(p95 < "$d/storm.ms")" "$(wc -l < "$d/storm.ms")"
