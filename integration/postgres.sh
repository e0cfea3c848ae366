#!/usr/bin/env bash
# A private PostgreSQL server on loopback for the state-store tests, from the
# distribution's package (installed when missing).
#
#   integration/postgres.sh install          apt-get install postgresql if initdb is missing
#   integration/postgres.sh start DIR PORT   initdb into DIR (first time), start on
#                                            127.0.0.1:PORT, create database `envctl`,
#                                            print its URL (idempotent)
#   integration/postgres.sh stop DIR         stop the server of DIR (keeps its data)
#   integration/postgres.sh url DIR          print the URL of the server of DIR
#
# DIR (e.g. <repo>/.local/pg-test, git-ignored) is handed to the `postgres` OS
# user, because initdb and postgres refuse to run as root; every directory
# above it must be traversable by that user (the script checks). Layout:
# DIR/data (the cluster), DIR/port, DIR/log, and the Unix socket in DIR itself.
# Authentication is `trust`: the server listens on 127.0.0.1 only, and the
# Unix socket is reachable by the `postgres` user alone.
set -euo pipefail

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] error: %s\n' "$*" >&2; exit 1; }

# The newest installed server binaries, e.g. /usr/lib/postgresql/15/bin.
bin_dir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install() {
  if bin_dir >/dev/null; then
    return 0
  fi
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is missing: install the postgresql server package by hand"
  log "installing the postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postgresql >&2; then
    log "install failed; refreshing the package lists and retrying"
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
  fi
  bin_dir >/dev/null || die "the postgresql package is installed but no /usr/lib/postgresql/*/bin/initdb was found"
}

abs_dir() {
  [ -n "${1:-}" ] || die "DIR is missing; usage: $0 start DIR PORT"
  realpath -m "$1"
}

as_postgres() { runuser -u postgres -- "$@"; }

url_of() { echo "postgres://postgres@127.0.0.1:$1/envctl"; }

running() {
  local dir="$1" bin
  bin="$(bin_dir)" || return 1
  [ -f "$dir/data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
  local dir port bin
  dir="$(abs_dir "${1:-}")"
  port="${2:-}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT is missing or not a number; usage: $0 start DIR PORT"
  install
  bin="$(bin_dir)"
  id postgres >/dev/null 2>&1 || die "there is no 'postgres' OS user (the postgresql package creates it)"

  if running "$dir"; then
    local was
    was="$(cat "$dir/port" 2>/dev/null || echo '?')"
    [ "$was" = "$port" ] || die "the server of $dir already runs on port $was; stop it first: $0 stop $dir"
    log "already running on port $port"
    url_of "$port"
    return 0
  fi

  mkdir -p "$dir"
  chown postgres: "$dir"
  chmod 700 "$dir"
  as_postgres test -w "$dir" ||
    die "user 'postgres' cannot reach $dir (a directory above it is not traversable); choose a DIR under /tmp"
  # The socket path must fit in sun_path (107 bytes).
  [ "${#dir}" -le 80 ] || die "DIR '$dir' is too long for a Unix socket path; choose a shorter one"

  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initdb $dir/data"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi

  echo "$port" >"$dir/port"
  # A throwaway test server: durability off for speed, room for parallel tests.
  # pg_ctl -w polls the server until it accepts connections on its socket.
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { tail -n 20 "$dir/log" >&2 || true; die "the server did not start; log: $dir/log"; }

  # Then wait until it answers on the loopback port the tests use.
  local ready=""
  for _ in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || die "not accepting connections on 127.0.0.1:$port after 10s; log: $dir/log"

  local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -tA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'envctl'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE envctl" >/dev/null
  fi
  log "listening on 127.0.0.1:$port (data $dir/data)"
  url_of "$port"
}

stop() {
  local dir bin
  dir="$(abs_dir "${1:-}")"
  if running "$dir"; then
    bin="$(bin_dir)"
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    log "stopped the server of $dir"
  fi
}

url() {
  local dir
  dir="$(abs_dir "${1:-}")"
  running "$dir" || die "no server runs for $dir; start one: $0 start $dir PORT"
  url_of "$(cat "$dir/port")"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  url) shift; url "$@" ;;
  *) echo "usage: $0 install | start DIR PORT | stop DIR | url DIR" >&2; exit 2 ;;
esac
