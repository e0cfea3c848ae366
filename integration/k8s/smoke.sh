#!/usr/bin/env bash
# Smoke test of the local control plane started by cluster.sh up:
#   - a server-side dry-run apply reaches admission and persists nothing;
#   - a Deployment (3 replicas, probes) and a Service roll out for real:
#     ReplicaSet by the controller-manager, pods bound by the scheduler,
#     Running/Ready by kwok, EndpointSlice filled by the controller-manager;
#   - deleting the namespace finalizes (namespace controller).
#
#   smoke.sh [DIR]     DIR as for cluster.sh (default <repo>/.local/k8s)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBECONFIG="$("$HERE/cluster.sh" kubeconfig "${1:-}")"
export KUBECONFIG
[ -f "$KUBECONFIG" ] || { echo "[smoke] no cluster: run cluster.sh up first" >&2; exit 1; }

k="$("$HERE/cluster.sh" kubectl)"

NS="envctl-smoke-$(date +%s)-$$"
t0=$SECONDS
step() { printf '[smoke] %3ds %s\n' $((SECONDS - t0)) "$*"; }
fail() { printf '[smoke] FAILED: %s\n' "$*" >&2; "$k" -n "$NS" get all,events 2>&1 | tail -n 40 >&2 || true; exit 1; }
cleanup() { "$k" delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true; }
trap 'rc=$?; [ $rc -eq 0 ] || cleanup' EXIT

step "server $("$k" version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1)"
"$k" get --raw /readyz >/dev/null || fail "apiserver not ready"
"$k" create namespace "$NS" >/dev/null

step "server-side dry-run apply"
"$k" -n "$NS" apply --server-side --dry-run=server --field-manager=envctl-smoke -f - >/dev/null <<'YAML' || fail "dry-run apply"
apiVersion: v1
kind: ConfigMap
metadata:
  name: dry-run-only
data:
  key: value
YAML
if "$k" -n "$NS" get configmap dry-run-only >/dev/null 2>&1; then fail "dry-run persisted an object"; fi

step "apply Deployment (3 replicas, probes) and Service"
"$k" -n "$NS" apply --server-side --field-manager=envctl-smoke -f - >/dev/null <<'YAML' || fail "apply"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/fake:1
        ports:
        - {name: http, containerPort: 8080}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 5
        livenessProbe:
          httpGet: {path: /health, port: http}
          periodSeconds: 10
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
YAML

step "rollout status"
"$k" -n "$NS" rollout status deployment/web --timeout=120s >/dev/null || fail "rollout"
ready="$("$k" -n "$NS" get deployment web -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}')"
[ "$ready" = "3/3" ] || fail "ready/available replicas: $ready"
nodes="$("$k" -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.phase}{"\n"}{end}')"
[ "$(grep -c '^kwok-node-[0-9]* Running$' <<<"$nodes")" = 3 ] || fail "pods not bound and Running: $nodes"
step "3/3 ready on $(awk '{print $1}' <<<"$nodes" | sort -u | tr '\n' ' ')"

step "Service endpoints"
deadline=$((SECONDS + 30))
until [ "$("$k" -n "$NS" get endpointslices -l kubernetes.io/service-name=web \
          -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}x{end}' 2>/dev/null)" = xxx ]; do
  [ $SECONDS -lt $deadline ] || fail "EndpointSlice of Service web has not 3 ready endpoints"
  sleep 0.5
done

step "delete namespace (finalization by the namespace controller)"
"$k" delete namespace "$NS" --wait=true --timeout=120s >/dev/null || fail "namespace deletion"
if "$k" get namespace "$NS" >/dev/null 2>&1; then fail "namespace $NS still exists"; fi

step "passed"
