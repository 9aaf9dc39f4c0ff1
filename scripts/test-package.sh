#!/usr/bin/env bash
# The Debian package, for real (root): build it with scripts/package.sh, check its contents,
# `dpkg -i` it, use the installed files (not target/): --version, ldd, a demo store read by
# `profiles`, the agent attached to as root / as a member of group wsprof / refused for a user
# outside it (when `wsprof agent` exists), `systemd-analyze verify` on the unit (when
# installed), then `dpkg -r` and `dpkg -P`: the binary goes, the store in /var/lib/wsprof stays.
# Everything it adds (package, users, files, group) is removed on exit, pass or fail.
# As non-root it prints SKIP; under CI=true a missing prerequisite is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:/usr/lib/llvm-22/bin:$PATH"

say() { printf '[test-package] %s\n' "$*"; }
fail() {
  printf '[test-package] FAIL: %s\n' "$*" >&2
  exit 1
}
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: prerequisites must be there)"; fi
  echo "SKIP package test: $*"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root"
for tool in dpkg dpkg-deb getent useradd userdel runuser ldd stat; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
done
# Never touch a real installation on this host.
if dpkg-query -W -f='${db:Status-Status}' wsprof 2>/dev/null | grep -qv '^not-installed$'; then
  skip "a wsprof package is already on this host ($(dpkg-query -W -f='${db:Status-Status}' wsprof)); not touching it"
fi

MEMBER=wsprof-test-member
OUTSIDER=wsprof-test-outsider
for u in "$MEMBER" "$OUTSIDER"; do
  if getent passwd "$u" >/dev/null; then fail "user $u exists already (left over?): userdel $u"; fi
done
had_group=no
getent group wsprof >/dev/null && had_group=yes
had_state_dir=no
[ -e /var/lib/wsprof ] && had_state_dir=yes

WORK=$(mktemp -d /tmp/wsprof-pkgtest.XXXXXX)
chmod 0755 "$WORK" # the throwaway users' homes and the agent's socket live below it
STORE=/var/lib/wsprof/pkgtest-$$.duckdb
AGENT_PID=
created_users=()

cleanup() {
  local rc=$?
  set +e
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  for u in "${created_users[@]}"; do userdel "$u" >/dev/null 2>&1; done
  if dpkg-query -W -f='${db:Status-Status}' wsprof 2>/dev/null | grep -qv '^not-installed$'; then
    say "cleanup: dpkg -P wsprof"
    dpkg -P wsprof >/dev/null 2>&1
  fi
  rm -f "$STORE" "$STORE.wal"
  if [ "$had_state_dir" = no ]; then rmdir /var/lib/wsprof 2>/dev/null; fi
  if [ "$had_group" = no ] && getent group wsprof >/dev/null; then groupdel wsprof; fi
  rm -rf "$WORK"
  if [ "$rc" = 0 ]; then say "PASS"; else say "FAIL (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Build the package.
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
DEB="$ROOT/target/package/wsprof_${VERSION}_amd64.deb"
start=$(date +%s)
bash scripts/package.sh
say "package.sh took $(($(date +%s) - start)) s; $(du -h "$DEB" | cut -f1) $DEB"
[ -f "$DEB" ] || fail "package.sh did not write $DEB"

# 2. Contents and metadata.
listing=$(dpkg-deb -c "$DEB")
for f in usr/bin/wsprof usr/lib/wsprof/libduckdb.so lib/systemd/system/wsprof.service \
  etc/wsprof/config.toml usr/share/doc/wsprof/copyright; do
  grep -qE "[[:space:]]\./$f\$" <<<"$listing" || fail "dpkg-deb -c does not list $f"
done
if grep -v ' root/root ' <<<"$listing" | grep -q .; then fail "files not owned by root/root in the package"; fi
if grep -q 'var/lib/wsprof' <<<"$listing"; then fail "the package must not own /var/lib/wsprof (dpkg would treat the store as its own)"; fi
grep -qx /etc/wsprof/config.toml <<<"$(dpkg-deb -I "$DEB" conffiles)" || fail "config.toml is not a conffile"
depends=$(dpkg-deb -f "$DEB" Depends)
for d in libc6 libstdc++6 libgcc-s1; do
  grep -qw -- "$d" <<<"$depends" || fail "Depends ($depends) lacks $d"
done
say "contents ok; Depends: $depends"

# 3. Install.
dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1 || { cat "$WORK/dpkg-i.log" >&2; fail "dpkg -i"; }
getent group wsprof >/dev/null || fail "postinst did not create the group wsprof"
[ "$(stat -c %a /var/lib/wsprof)" = 700 ] || fail "/var/lib/wsprof has mode $(stat -c %a /var/lib/wsprof), expected 700"
[ -x /usr/bin/wsprof ] || fail "/usr/bin/wsprof missing after dpkg -i"
got=$(/usr/bin/wsprof --version) || fail "/usr/bin/wsprof --version"
[ "$got" = "wsprof $VERSION" ] || fail "--version says '$got'"
ldd_out=$(env -u LD_LIBRARY_PATH ldd /usr/bin/wsprof)
grep -q 'not found' <<<"$ldd_out" && fail "ldd /usr/bin/wsprof: $(grep 'not found' <<<"$ldd_out")"
resolved=$(sed -n 's/^[[:space:]]*libduckdb\.so => \([^ ]*\) .*/\1/p' <<<"$ldd_out")
[ "$(realpath -m "$resolved")" = /usr/lib/wsprof/libduckdb.so ] \
  || fail "libduckdb.so does not resolve into /usr/lib/wsprof: $(grep libduckdb <<<"$ldd_out")"
say "installed: $got; $(grep libduckdb <<<"$ldd_out" | xargs)"

# 4. The unit.
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify loads units from the real unit path; run it where /tmp noise cannot interfere.
  if ! (cd / && systemd-analyze verify /lib/systemd/system/wsprof.service) >"$WORK/verify.log" 2>&1; then
    cat "$WORK/verify.log" >&2
    fail "systemd-analyze verify wsprof.service"
  fi
  if grep -i 'wsprof' "$WORK/verify.log"; then fail "systemd-analyze verify warns about wsprof.service"; fi
  say "systemd-analyze verify wsprof.service: ok"
else
  say "SKIP systemd-analyze verify: systemd-analyze not installed (the issue asks for it where systemd is installed)"
fi

# 5. The installed binary on a store: demo replay, then the CLI twins read it.
/usr/bin/wsprof demo --headless --speed max --db "$STORE" --log-file "$WORK/demo.log" >"$WORK/demo.out" 2>&1 \
  || { cat "$WORK/demo.out" >&2; fail "/usr/bin/wsprof demo --headless --speed max"; }
profiles=$(/usr/bin/wsprof profiles --db "$STORE" --log-file "$WORK/cli.log") || fail "/usr/bin/wsprof profiles"
grep -q 'nginx' <<<"$profiles" || fail "profiles lacks nginx: $profiles"
profiles_json=$(/usr/bin/wsprof profiles --json --db "$STORE" --log-file "$WORK/cli.log") || fail "profiles --json"
nprof=$(grep -o '"version"' <<<"$profiles_json" | wc -l)
signals=$(/usr/bin/wsprof signals --db "$STORE" --log-file "$WORK/cli.log") || fail "/usr/bin/wsprof signals"
say "demo store from installed files: $(wc -l <<<"$profiles") lines of profiles ($nprof profile versions), $(wc -l <<<"$signals") lines of signals"

# 6. The agent from the installed files, and who may talk to it.
if /usr/bin/wsprof agent --help >/dev/null 2>&1; then
  # Homes for the throwaway users: the client writes its log under $XDG_STATE_HOME or ~.
  mkdir -p "$WORK/home"
  useradd -m -d "$WORK/home/member" -G wsprof -s /usr/sbin/nologin "$MEMBER"
  created_users+=("$MEMBER")
  useradd -m -d "$WORK/home/outsider" -s /usr/sbin/nologin "$OUTSIDER"
  created_users+=("$OUTSIDER")
  # The socket's directory is open to all (0755) so that the socket's own mode (0660, group
  # wsprof, set by the agent) is what refuses the outsider. (The unit's /run/wsprof is 0750
  # root:wsprof on top of that.)
  mkdir -m 0755 "$WORK/run"
  SOCK="$WORK/run/wsprof.sock"
  STORE2="$WORK/agent.duckdb"
  /usr/bin/wsprof agent --db "$STORE2" --socket "$SOCK" --log-file "$WORK/agent.log" >"$WORK/agent.out" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 1 300); do
    [ -S "$SOCK" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ ! -S "$SOCK" ]; then
    tail -n 20 "$WORK/agent.out" "$WORK/agent.log" >&2 2>/dev/null
    fail "agent did not create $SOCK within 60 s"
  fi
  perm=$(stat -c '%a %G' "$SOCK")
  [ "$perm" = "660 wsprof" ] || fail "socket mode/group is '$perm', expected '660 wsprof'"
  /usr/bin/wsprof status --socket "$SOCK" --log-file "$WORK/cli.log" >"$WORK/status-root.out" 2>&1 \
    || { cat "$WORK/status-root.out" >&2; fail "status as root"; }
  /usr/bin/wsprof signals --socket "$SOCK" --log-file "$WORK/cli.log" >"$WORK/signals-root.out" 2>&1 \
    || { cat "$WORK/signals-root.out" >&2; fail "signals as root"; }
  runuser -u "$MEMBER" -- /usr/bin/wsprof status --socket "$SOCK" >"$WORK/status-member.out" 2>&1 \
    || { cat "$WORK/status-member.out" >&2; fail "status as a member of group wsprof"; }
  runuser -u "$MEMBER" -- /usr/bin/wsprof signals --socket "$SOCK" >"$WORK/signals-member.out" 2>&1 \
    || { cat "$WORK/signals-member.out" >&2; fail "signals as a member of group wsprof"; }
  if runuser -u "$OUTSIDER" -- /usr/bin/wsprof status --socket "$SOCK" >"$WORK/status-outsider.out" 2>&1; then
    cat "$WORK/status-outsider.out" >&2
    fail "status as a user outside group wsprof succeeded"
  fi
  grep -qi 'permission denied' "$WORK/status-outsider.out" \
    || fail "outsider refused without a permission error: $(cat "$WORK/status-outsider.out")"
  kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited during the checks: $(tail -n 5 "$WORK/agent.out")"
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || say "note: agent exited with $? on SIGTERM"
  AGENT_PID=
  for u in "${created_users[@]}"; do userdel "$u"; done
  created_users=()
  say "agent: status/signals as root and as $MEMBER ok; $OUTSIDER refused ($(head -n 1 "$WORK/status-outsider.out"))"
else
  say "note: /usr/bin/wsprof has no 'agent' subcommand yet; the agent/socket/group checks did not run"
fi

# 7. Remove: the binary goes, the store stays; purge: the conffile and group go, the store stays.
dpkg -r wsprof >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log" >&2; fail "dpkg -r wsprof"; }
[ ! -e /usr/bin/wsprof ] || fail "/usr/bin/wsprof still there after dpkg -r"
[ ! -e /usr/lib/wsprof/libduckdb.so ] || fail "/usr/lib/wsprof/libduckdb.so still there after dpkg -r"
[ -f "$STORE" ] || fail "dpkg -r removed the store $STORE"
[ -f /etc/wsprof/config.toml ] || fail "dpkg -r removed the conffile (only purge should)"
dpkg -P wsprof >"$WORK/dpkg-p.log" 2>&1 || { cat "$WORK/dpkg-p.log" >&2; fail "dpkg -P wsprof"; }
[ -f "$STORE" ] || fail "dpkg -P removed the store $STORE"
[ ! -e /etc/wsprof/config.toml ] || fail "dpkg -P left /etc/wsprof/config.toml"
if getent group wsprof >/dev/null; then fail "dpkg -P left the group wsprof"; fi
say "dpkg -r and dpkg -P: binary, library, conffile and group gone; store kept ($(du -h "$STORE" | cut -f1) $STORE)"
