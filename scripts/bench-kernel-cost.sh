#!/usr/bin/env bash
# Kernel time per call of wsprof's eBPF programs under the storm workload, for two builds side
# by side (alternating), from the kernel's own accounting (kernel.bpf_stats_enabled):
#   bash scripts/bench-kernel-cost.sh BIN_BEFORE BIN_AFTER [ROUNDS]
# Needs root, podman and the demo images (scripts/setup-capture.sh). Prints one Markdown row per
# build and round: mean ns per run of the file programs and the exec program, and the storm's
# wall time under that capture.
set -euo pipefail
before=$1 after=$2 rounds=${3:-2}
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=$PWD/.cache/podman/containers.conf CONTAINERS_STORAGE_CONF=$PWD/.cache/podman/storage.conf
SCRIPT='mkdir -p /tmp/s; i=0; while [ $i -lt 1000 ]; do echo x > /tmp/s/f$i; i=$((i+1)); done; j=0; while [ $j -lt 200 ]; do cat /tmp/s/* > /dev/null; j=$((j+1)); done; k=0; while [ $k -lt 3000 ]; do cat /dev/null; k=$((k+1)); done'
old=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$old' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
stats() { # name -> "ns_per_run runs"
  bpftool prog show --json | python3 -c '
import json, sys
want = sys.argv[1]
ns = cnt = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith(want[:15]):
        ns += p.get("run_time_ns", 0); cnt += p.get("run_cnt", 0)
print(f"{ns / cnt:.0f} {cnt}" if cnt else "- 0")' "$1"
}
echo "| build | round | sys_exit_file ns/run (runs) | sys_enter_openat ns/run | sched_process_exec_file ns/run | storm wall s |"
echo "|---|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  for which in before after; do
    bin=$before; [ $which = after ] && bin=$after
    d=$(mktemp -d)
    "$bin" capture --db "$d/k.duckdb" --snapshot-interval 30m --log-file "$d/log" > /dev/null 2>&1 & cap=$!
    for _ in $(seq 60); do grep -q "live capture started" "$d/log" 2>/dev/null && break; sleep 0.5; done
    t0=$(date +%s.%N)
    podman run --rm --network=none localhost/demo/web:1.0 sh -c "$SCRIPT" > /dev/null
    t1=$(date +%s.%N)
    fe=$(stats sys_exit_file); oe=$(stats sys_enter_openat); ex=$(stats sched_process_exec_file)
    kill -INT $cap; wait $cap || true
    rm -rf "$d"
    echo "| $which | $r | ${fe% *} (${fe#* }) | ${oe% *} | ${ex% *} | $(echo "$t1 - $t0" | bc) |"
  done
done
