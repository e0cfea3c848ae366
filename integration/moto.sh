#!/usr/bin/env bash
# Installs moto (server mode) into a venv cached outside the repo, and starts or
# stops one moto server on a loopback port.
#
#   integration/moto.sh install            create/refresh the venv (idempotent)
#   integration/moto.sh start PORT [DIR]   start moto on 127.0.0.1:PORT, pid/log in DIR
#   integration/moto.sh stop [DIR]         stop the server started with DIR
#   integration/moto.sh python             print the venv's python (for boto3 checks)
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
CACHE="${ENVCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envctl}"
VENV="$CACHE/moto-$MOTO_VERSION"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEFAULT_DIR="$ROOT/.local/moto"

install() {
  if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, boto3" 2>/dev/null; then
    return 0
  fi
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" boto3
}

start() {
  local port="$1" dir="${2:-$DEFAULT_DIR}"
  install
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "moto already running on port $(cat "$dir/port") (pid $(cat "$dir/pid"))"
    return 0
  fi
  MOTO_ACM_VALIDATION_WAIT=1 MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  # Wait for the server to answer instead of sleeping a fixed time.
  for _ in $(seq 1 200); do
    if curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
      echo "moto listening on http://127.0.0.1:$port (pid $(cat "$dir/pid"))"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/log" >&2; echo "moto exited" >&2; return 1; }
    sleep 0.1
  done
  echo "moto did not answer on port $port within 20s; log: $dir/log" >&2
  return 1
}

stop() {
  local dir="${1:-$DEFAULT_DIR}"
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  python) install; echo "$VENV/bin/python" ;;
  *) echo "usage: $0 install|start PORT [DIR]|stop [DIR]|python" >&2; exit 2 ;;
esac
