#!/usr/bin/env bash
# Live-capture prerequisites (called at the end of scripts/setup.sh; idempotent; root).
# - tracefs mounted
# - podman configured for this kind of host (runc, cgroupfs, file events, low ulimits) in
#   .cache/podman/ (used by the capture live tests through CONTAINERS_CONF/CONTAINERS_STORAGE_CONF)
# - busybox-based test images imported without a registry:
#     demo/web:1.0, demo/web:2.0, demo/db:1.0
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { printf '[setup-capture] %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  log "not root: skipping (live capture tests need root)"
  exit 0
fi

mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

for p in podman runc busybox-static dnsmasq-base; do
  dpkg -s "$p" >/dev/null 2>&1 || { log "missing package $p (scripts/setup.sh installs it)"; exit 1; }
done

PD="$ROOT/.cache/podman"
mkdir -p "$PD/storage" /run/wsprof-podman
cat > "$PD/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$PD/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$PD/storage"
runroot = "/run/wsprof-podman"
CONF
export CONTAINERS_CONF="$PD/containers.conf" CONTAINERS_STORAGE_CONF="$PD/storage.conf"

make_rootfs() { # dir image-name version
  local r=$1
  rm -rf "$r"; mkdir -p "$r"/{bin,etc,tmp,app,proc,sys,dev,run,var/log}
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$r/etc/group"
  printf '%s %s\n' "$2" "$3" > "$r/etc/wsprof-image"
  printf 'listen 8080\n' > "$r/etc/app.conf"
}

for img in demo/web:1.0 demo/web:2.0 demo/db:1.0; do
  if podman image exists "$img" 2>/dev/null; then continue; fi
  log "importing $img"
  tmp=$(mktemp -d)
  make_rootfs "$tmp/rootfs" "${img%%:*}" "${img##*:}"
  tar -C "$tmp/rootfs" -c . | podman import -q - "$img" >/dev/null
  rm -rf "$tmp"
done
log "podman images ready: $(podman images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')"
