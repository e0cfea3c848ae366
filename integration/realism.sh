#!/usr/bin/env bash
# Starts or stops the realism proxy (integration/realism/) between a client and
# moto, on a loopback port, with moto's venv python (stdlib + boto3/xmltodict).
#
#   integration/realism.sh start PORT MOTO_URL DIR [options]   pid/log in DIR
#   integration/realism.sh stop DIR
#   integration/realism.sh help                                 every option and duration
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"

python_bin() { "$HERE/moto.sh" python; }

start() {
  local port="$1" moto="$2" dir="$3"
  shift 3
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "realism already running on port $(cat "$dir/port") (pid $(cat "$dir/pid"))"
    return 0
  fi
  local py
  py="$(python_bin)"
  PYTHONPATH="$HERE" PYTHONDONTWRITEBYTECODE=1 AWS_EC2_METADATA_DISABLED=true \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    nohup "$py" -m realism --port "$port" --moto "$moto" "$@" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  for _ in $(seq 1 200); do
    if curl -sf "http://127.0.0.1:$port/realism/health" >/dev/null 2>&1; then
      echo "realism listening on http://127.0.0.1:$port -> $moto (pid $(cat "$dir/pid"))"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/log" >&2; echo "realism exited" >&2; return 1; }
    sleep 0.1
  done
  echo "realism did not answer on port $port within 20s; log: $dir/log" >&2
  return 1
}

stop() {
  local dir="$1"
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
}

case "${1:-}" in
  start) shift; [ $# -ge 3 ] || { echo "usage: $0 start PORT MOTO_URL DIR [options]" >&2; exit 2; }; start "$@" ;;
  stop) shift; [ $# -ge 1 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$1" ;;
  help) PYTHONPATH="$HERE" "$(python_bin)" -m realism --help ;;
  *) echo "usage: $0 start PORT MOTO_URL DIR [options]|stop DIR|help" >&2; exit 2 ;;
esac
