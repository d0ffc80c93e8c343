#!/usr/bin/env bash
# Throwaway PostgreSQL and NATS JetStream for `npm test`, when DATABASE_URL / NATS_URL are not given.
#
#   bash scripts/services.sh start   # starts what is missing, writes var/test/services.env, waits until ready
#   bash scripts/services.sh stop    # stops exactly what `start` started (idempotent)
#   source var/test/services.env     # export DATABASE_URL=… and NATS_URL=… (and CA_TEST_OCK_* below)
#
# Everything lives under ./var/test/ and listens on 127.0.0.1 only, on free ports (55432 / 54222 when
# free). PostgreSQL runs with trust authentication and fsync off: test data only, never real data.
# It never uses a PostgreSQL or NATS already running on the machine (5432 / 4222).
#
# Needs: Debian/Ubuntu packages `postgresql` (binaries under /usr/lib/postgresql/*/bin) and
# `nats-server` (in /usr/sbin, not on an ordinary user's PATH: programs are found by `find_bin`, not PATH);
# installed with apt-get when missing and running as root; as another user, the message names the
# package and the command to install it. Node is used to find free ports.
#
# Also, for the second PKCS#11 implementation of the tests (docs/hsm-vendors.md): opencryptoki's slot
# daemon `pkcsslotd` and its software token, initialised with PINs under /var/lib/jpki-ca-test/opencryptoki/
# (the token is the machine's: its PINs serve every checkout). As root
# only (the daemon and its token directory /var/lib/opencryptoki belong to root:pkcs11); as another user
# it is used when already running and set up, else left out with a warning (its tests then fail in CI).
#
# STATE (default ./var/test) may be moved with CA_TEST_SERVICES_DIR, to try this script beside a running one.
set -euo pipefail
umask 077 # ./var stays owner-only (issue 12); root grants PostgreSQL search permission below

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CA_TEST_SERVICES_DIR:-$ROOT/var/test}"
PG_DIR="$STATE/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_PORT_FILE="$PG_DIR/port"
NATS_DIR="$STATE/nats"
NATS_PID="$STATE/nats.pid"
NATS_LOG="$STATE/nats.log"
NATS_PORT_FILE="$STATE/nats.port"
ENV_FILE="$STATE/services.env"
# The machine has one opencryptoki software token, so its PINs (and the tests' lock on it) live beside it,
# owner-only, for every checkout on the machine (as root; as another user opencryptoki is left out).
if [ "$(id -u)" = 0 ]; then OCK_DIR="${CA_TEST_OCK_PIN_DIR:-/var/lib/jpki-ca-test/opencryptoki}"; else OCK_DIR="$STATE/opencryptoki"; fi
OCK_STARTED="$STATE/opencryptoki-pkcsslotd.started" # holds the daemon's pid when this checkout started it
OCK_LABEL=jpki-test-ock
PG_USER=ca

die() { echo "services.sh: $*" >&2; exit 1; }
log() { echo "services.sh: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the owner of the PostgreSQL files: `postgres` when we are root (initdb refuses root).
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() { # package...
  is_root || return 1
  command -v apt-get >/dev/null || return 1
  log "installing Debian package(s) $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
}

# How to get a missing package, for messages: root installs it; anyone else is told the command.
install_hint() { # package...
  if is_root; then echo "apt-get install $*"; else echo "as root: apt-get install $* (or sudo apt-get install $*)"; fi
}

# A program where the Debian packages put it, whatever PATH says: an ordinary user's PATH has no
# /usr/sbin (nats-server, pkcsslotd, pkcsconf). The same places as test/support/system-binaries.ts.
find_bin() { # program
  local d
  for d in $(printf '%s' "${PATH:-}" | tr ':' ' ') /usr/bin /usr/sbin /bin /sbin /usr/local/bin /usr/local/sbin; do
    case "$d" in /*) [ -x "$d/$1" ] && [ ! -d "$d/$1" ] && { echo "$d/$1"; return 0; } ;; esac
  done
  return 1
}

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

port_in_use() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # preferred port
  if ! port_in_use "$1"; then echo "$1"; return; fi
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # seconds command...
  local n=$(( $1 * 10 )); shift
  while ! "$@" >/dev/null 2>&1; do
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------- PostgreSQL
pg_running() {
  local bin; bin="$(pg_bin)" || return 1
  [ -f "$PG_DATA/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

start_postgres() {
  local bin port
  bin="$(pg_bin)" || { apt_install postgresql && bin="$(pg_bin)"; } ||
    die "cannot start PostgreSQL: no /usr/lib/postgresql/*/bin/pg_ctl. Install the Debian package 'postgresql' ($(install_hint postgresql)) or set DATABASE_URL."
  if is_root; then
    id postgres >/dev/null 2>&1 || die "cannot start PostgreSQL: user 'postgres' missing (it comes with the Debian package 'postgresql')"
  fi
  mkdir -p "$PG_DIR"
  # The server runs as 'postgres': it must be able to pass through ./var and ./var/test, which a test or
  # benchmark may have created owner-only (the SoftHSM test token directory is made 0700, parents too).
  is_root && chmod o+x "$(dirname "$STATE")" "$STATE" && chown postgres: "$PG_DIR"
  if pg_running; then
    port="$(cat "$PG_PORT_FILE")"
    log "PostgreSQL already running on 127.0.0.1:$port"
  else
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
      rm -rf "$PG_DATA"
      as_pg "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
        die "initdb failed (package 'postgresql'); see $PG_DIR/initdb.log"
    fi
    port="$(free_port 55432)"
    echo "$port" >"$PG_PORT_FILE"
    # Throwaway cluster: no fsync; unix socket in the data directory, TCP on loopback only.
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >&2 || die "PostgreSQL (package 'postgresql') did not start; see $PG_LOG"
  fi
  wait_for 30 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" ||
    die "PostgreSQL (package 'postgresql') on 127.0.0.1:$port does not accept connections; see $PG_LOG"
  DATABASE_URL="postgres://$PG_USER@127.0.0.1:$port/postgres"
}

stop_postgres() {
  local bin
  bin="$(pg_bin)" || return 0
  if pg_running; then
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >&2 || die "could not stop PostgreSQL in $PG_DATA"
    log "PostgreSQL stopped"
  fi
}

# ---------------------------------------------------------------- NATS
nats_pid() {
  local pid
  [ -f "$NATS_PID" ] || return 1
  pid="$(cat "$NATS_PID")"
  # Only a nats-server we started: the pid must still belong to a nats-server process.
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q nats-server && echo "$pid"
}

nats_ready() { # port
  port_in_use "$1" && grep -q "Server is ready" "$NATS_LOG"
}

start_nats() {
  local bin port
  bin="$(find_bin nats-server || true)"
  if [ -z "$bin" ]; then apt_install nats-server || true; bin="$(find_bin nats-server || true)"; fi
  [ -n "$bin" ] || die "cannot start NATS: nats-server not found (not on PATH nor in /usr/sbin). Install the Debian package 'nats-server' ($(install_hint nats-server)) or set NATS_URL."
  mkdir -p "$NATS_DIR"
  if nats_pid >/dev/null; then
    port="$(cat "$NATS_PORT_FILE")"
    log "NATS already running on 127.0.0.1:$port"
  else
    port="$(free_port 54222)"
    echo "$port" >"$NATS_PORT_FILE"
    : >"$NATS_LOG"
    setsid "$bin" -a 127.0.0.1 -p "$port" -js -sd "$NATS_DIR" -P "$NATS_PID" -l "$NATS_LOG" </dev/null >/dev/null 2>&1 &
    wait_for 30 nats_ready "$port" ||
      die "NATS (package 'nats-server') on 127.0.0.1:$port did not become ready; see $NATS_LOG"
  fi
  NATS_URL="nats://127.0.0.1:$port"
}

stop_nats() {
  local pid
  if pid="$(nats_pid)"; then
    kill "$pid"
    wait_for 20 bash -c "! kill -0 $pid" || { kill -9 "$pid" 2>/dev/null || true; }
    log "NATS stopped"
  fi
  rm -f "$NATS_PID"
}

# ---------------------------------------------------------------- opencryptoki (tests' second PKCS#11 library)
# shellcheck source=scripts/opencryptoki.sh
. "$ROOT/scripts/opencryptoki.sh"

# ---------------------------------------------------------------- main
case "${1:-}" in
  start)
    mkdir -p "$STATE"
    if [ -n "${DATABASE_URL:-}" ]; then log "using the given DATABASE_URL"; else start_postgres; fi
    if [ -n "${NATS_URL:-}" ]; then log "using the given NATS_URL"; else start_nats; fi
    start_opencryptoki
    {
      echo "# written by scripts/services.sh start; remove with scripts/services.sh stop"
      printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
      printf 'export NATS_URL=%q\n' "$NATS_URL"
      if [ -n "$OCK_MODULE" ]; then
        # test/integration/hsm/opencryptoki-token.ts: the module, the token label, the directory of its PIN files.
        printf 'export CA_TEST_OCK_MODULE=%q\n' "$OCK_MODULE"
        printf 'export CA_TEST_OCK_TOKEN_LABEL=%q\n' "$OCK_LABEL"
        printf 'export CA_TEST_OCK_DIR=%q\n' "$OCK_DIR"
        # scripts/opencryptoki.sh ock_preload: libitm loaded at start, else the token library may segfault.
        # shellcheck disable=SC2016 # expanded when sourced
        [ -z "$OCK_PRELOAD" ] || printf 'case ":${LD_PRELOAD:-}:" in *:%s:*) ;; *) export LD_PRELOAD=%q${LD_PRELOAD:+:$LD_PRELOAD} ;; esac\n' "$OCK_PRELOAD" "$OCK_PRELOAD"
      fi
    } >"$ENV_FILE"
    log "ready: source $ENV_FILE"  # not echoing the URLs: a given DATABASE_URL may hold a password
    ;;
  stop)
    stop_nats
    stop_postgres
    stop_opencryptoki
    rm -f "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
