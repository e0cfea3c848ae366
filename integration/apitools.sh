#!/usr/bin/env bash
# Installs the API contract tools into a venv cached outside the repo:
# openapi-spec-validator (checks the served document against the OpenAPI 3.1
# specification), Schemathesis (property-based tests generated from it) and
# prometheus_client (the Prometheus project's OpenMetrics parser, for
# /metrics: integration/metrics.py).
#
#   integration/apitools.sh install   create/refresh the venv (idempotent)
#   integration/apitools.sh bin       print the venv's bin directory
set -euo pipefail

SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
VALIDATOR_VERSION="${OPENAPI_SPEC_VALIDATOR_VERSION:-0.9.0}"
PROMETHEUS_CLIENT_VERSION="${PROMETHEUS_CLIENT_VERSION:-0.26.0}"
CACHE="${ENVCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envctl}"
VENV="$CACHE/apitools-st$SCHEMATHESIS_VERSION-osv$VALIDATOR_VERSION-pc$PROMETHEUS_CLIENT_VERSION"

install() {
  if [ -x "$VENV/bin/st" ] && [ -x "$VENV/bin/openapi-spec-validator" ] \
    && "$VENV/bin/python" -c "import schemathesis, openapi_spec_validator, prometheus_client" 2>/dev/null; then
    return 0
  fi
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$VALIDATOR_VERSION" \
    "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
}

case "${1:-}" in
  install) install ;;
  bin) install; echo "$VENV/bin" ;;
  *) echo "usage: $0 install|bin" >&2; exit 2 ;;
esac
