#!/usr/bin/env bash
# A real local Kubernetes control plane on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, and kwok simulating the nodes.
# Every binary is built from the Go module proxy (wrapper modules beside this
# script) and cached outside the repo, keyed by version.
#
#   cluster.sh build             build the missing binaries (fast when cached)
#   cluster.sh up [DIR]          start a fresh cluster (idempotent)
#   cluster.sh down [DIR]        stop it and wipe its state
#   cluster.sh status [DIR]      show the processes and the API's health
#   cluster.sh kubeconfig [DIR]  print the admin kubeconfig path
#   cluster.sh env [DIR]         print `export KUBECONFIG=...` (for eval)
#   cluster.sh kubectl           print the kubectl the scripts use
#
# DIR defaults to $ENVCTL_K8S_DIR or <repo>/.local/k8s (git-ignored).
# See README.md beside this script.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

KUBE_VERSION="v1.34.4"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"

CACHE="${ENVCTL_CACHE:-$HOME/.cache/envctl}/k8s"
KUBE_BIN="$CACHE/kubernetes-$KUBE_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"
KWOK_BIN="$CACHE/kwok-$KWOK_VERSION/bin"
KWOK_STAGES="$CACHE/kwok-$KWOK_VERSION/stages.yaml"

# Fixed high loopback ports (override with the environment when they clash).
ETCD_PORT="${ENVCTL_K8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${ENVCTL_K8S_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${ENVCTL_K8S_APISERVER_PORT:-26443}"
KCM_PORT="${ENVCTL_K8S_KCM_PORT:-26257}"
SCHED_PORT="${ENVCTL_K8S_SCHED_PORT:-26259}"
KWOK_PORT="${ENVCTL_K8S_KWOK_PORT:-26080}"
SERVICE_CIDR="10.96.0.0/16"
CLUSTER_CIDR="10.244.0.0/16"
NODES="${ENVCTL_K8S_NODES:-3}"

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[k8s] %s\n' "$*" >&2; }
T0_US="${EPOCHREALTIME/./}"
elapsed() { local us=$(( ${EPOCHREALTIME/./} - T0_US )); printf '%d.%01ds' $((us / 1000000)) $((us / 100000 % 10)); }
die() { printf '[k8s] error: %s\n' "$*" >&2; exit 1; }

state_dir() { echo "${1:-${ENVCTL_K8S_DIR:-$REPO/.local/k8s}}"; }

# ---------------------------------------------------------------- build ----

go_env() {
  command -v go >/dev/null || die "go is not installed (needed to build the binaries)"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
}

# build_module MODDIR OUTDIR LDFLAGS PKG...: builds the packages of one wrapper
# module into OUTDIR in a single `go build` (they share most compiled
# packages), through a temporary directory so that a half-done build never
# looks cached.
build_module() {
  local moddir="$1" outdir="$2" ldflags="$3"; shift 3
  go_env
  local tmp="$outdir.tmp.$$"
  rm -rf "$outdir".tmp.*; mkdir -p "$tmp"
  local t0=$SECONDS
  log "building $* in $moddir -> $outdir (can take 10-20+ minutes the first time)"
  (cd "$moddir" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "$@") \
    || { rm -rf "$tmp"; die "go build failed in $moddir"; }
  mkdir -p "$outdir"
  mv -f "$tmp"/* "$outdir"/
  rmdir "$tmp"
  log "built $(cd "$outdir" && ls | tr '\n' ' ')in $((SECONDS - t0)) s"
}

cmd_build() {
  local missing

  missing=()
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$KUBE_BIN/$b" ] || missing+=("./cmd/$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local v="${KUBE_VERSION#v}" ld=""
    local major="${v%%.*}" minor; minor="${v#*.}"; minor="${minor%%.*}"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    build_module "$HERE/kube" "$KUBE_BIN" "-s -w$ld" "${missing[@]}"
  fi

  if [ ! -x "$ETCD_BIN/etcd" ]; then
    build_module "$HERE/etcd" "$ETCD_BIN" \
      "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-proxy" .
  fi

  if [ ! -x "$KWOK_BIN/kwok" ]; then
    build_module "$HERE/kwok" "$KWOK_BIN" \
      "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" ./cmd/kwok
  fi
  # kwok alone has no stages (kwokctl writes them into kwok's config): keep the
  # same default ones kwokctl uses, taken from the kwok module itself.
  if [ ! -s "$KWOK_STAGES" ]; then
    go_env
    local dir; dir="$(cd "$HERE/kwok" && go mod download sigs.k8s.io/kwok \
                      && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
    [ -n "$dir" ] && [ -d "$dir/kustomize/stage" ] || die "kwok module source not found"
    local f tmp="$KWOK_STAGES.tmp.$$"
    : > "$tmp"
    for f in node/fast/node-initialize.yaml \
             node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      printf -- '---\n' >> "$tmp"
      cat "$dir/kustomize/stage/$f" >> "$tmp"
    done
    mv -f "$tmp" "$KWOK_STAGES"
  fi
  log "binaries ready under $CACHE"
}

check_binaries() {
  for b in "$ETCD_BIN/etcd" "$KUBE_BIN/kube-apiserver" \
           "$KUBE_BIN/kube-controller-manager" "$KUBE_BIN/kube-scheduler" \
           "$KWOK_BIN/kwok" "$KWOK_STAGES"; do
    [ -e "$b" ] || die "missing $b: run '$0 build' first"
  done
}

# -------------------------------------------------------------- kubectl ----

# kubectl: $KUBECTL if set, else the one `build` compiled from the same
# k8s.io/kubernetes tag as the server (no version skew, on any machine), else
# whatever kubectl is on PATH.
find_kubectl() {
  if [ -n "${KUBECTL:-}" ]; then echo "$KUBECTL"; return; fi
  if [ -x "$KUBE_BIN/kubectl" ]; then echo "$KUBE_BIN/kubectl"; return; fi
  if command -v kubectl >/dev/null 2>&1; then command -v kubectl; return; fi
  die "no kubectl: run '$0 build' (it builds one) or set KUBECTL"
}

# ------------------------------------------------------------------ pki ----

# cert PKI NAME CN O EKU [SANS]: an EC P-256 key and a certificate signed by
# the CA (or by $CA_NAME).
cert() {
  local pki="$1" name="$2" cn="$3" o="$4" eku="$5" sans="${6:-}"
  local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o$subj"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } > "$pki/$name.ext"
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ca="${CA_NAME:-ca}"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
    -CAcreateserial -days 365 -sha256 -extfile "$pki/$name.ext" \
    -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
  local pki="$1/pki"
  mkdir -p "$pki"; chmod 700 "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=envctl-local-k8s-ca" \
    -days 365 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
    -out "$pki/ca.crt" 2>/dev/null
  # Front-proxy CA and client (request-header authentication, for aggregated
  # APIs; also fills the extension-apiserver-authentication ConfigMap that
  # the controller-manager and scheduler read).
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/front-proxy-ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/front-proxy-ca.key" -subj "/CN=envctl-local-front-proxy-ca" \
    -days 365 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
    -out "$pki/front-proxy-ca.crt" 2>/dev/null
  CA_NAME=front-proxy-ca cert "$pki" front-proxy-client front-proxy-client "" clientAuth
  cert "$pki" apiserver kube-apiserver "" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
  cert "$pki" admin envctl-admin system:masters clientAuth
  cert "$pki" controller-manager system:kube-controller-manager "" clientAuth
  cert "$pki" scheduler system:kube-scheduler "" clientAuth
  cert "$pki" kwok kwok-controller system:masters "serverAuth,clientAuth" "DNS:localhost,IP:127.0.0.1"
  # Service-account token signing key pair.
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig DIR NAME CERT: a self-contained kubeconfig (certificates inline).
kubeconfig_for() {
  local dir="$1" out="$2" who="$3" pki="$1/pki"
  cat > "$out" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: envctl-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: $who
  user:
    client-certificate-data: $(base64 -w0 < "$pki/$who.crt")
    client-key-data: $(base64 -w0 < "$pki/$who.key")
contexts:
- name: envctl-local
  context:
    cluster: envctl-local
    user: $who
current-context: envctl-local
YAML
  chmod 600 "$out"
}

# ------------------------------------------------------------ processes ----

# Is PID running? Our daemons are re-parented to init once this script exits,
# and a dead one can stay a zombie until init reaps it: that counts as gone.
running() {
  local st
  st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Is the process in DIR/pids/NAME alive and still our binary (not a reused pid)?
alive() {
  local dir="$1" name="$2" pid
  [ -f "$dir/pids/$name" ] || return 1
  pid="$(cat "$dir/pids/$name")"
  [ -n "$pid" ] && running "$pid" || return 1
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$name" ]
}

# start DIR NAME BINARY ARGS...: a detached background process (own session, no
# stdin), its output in DIR/logs/NAME.log, its pid in DIR/pids/NAME.
start() {
  local dir="$1" name="$2" bin="$3"; shift 3
  setsid "$bin" "$@" < /dev/null > "$dir/logs/$name.log" 2>&1 &
  echo $! > "$dir/pids/$name"
}

stop_one() {
  local dir="$1" name="$2" pid i
  if alive "$dir" "$name"; then
    pid="$(cat "$dir/pids/$name")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then
      log "$name ($pid) did not stop in 10 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$dir/pids/$name"
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# wait_for WHAT SECONDS DIR COMMAND...: retry COMMAND until it succeeds; fail
# with the logs' tails if SECONDS pass or a component died.
wait_for() {
  local what="$1" secs="$2" dir="$3"; shift 3
  local deadline=$((SECONDS + secs)) c
  until "$@" >/dev/null 2>&1; do
    for c in "${COMPONENTS[@]}"; do
      # `running`, not `alive`: a component started a moment ago may still be
      # `setsid` about to exec its binary, which `alive` would take for a
      # reused pid (seen as "kwok exited" on a loaded machine).
      if [ -f "$dir/pids/$c" ] && ! running "$(cat "$dir/pids/$c")"; then
        tail -n 30 "$dir/logs/$c.log" >&2 || true
        die "$c exited while waiting for $what (log: $dir/logs/$c.log)"
      fi
    done
    if [ $SECONDS -ge $deadline ]; then
      for c in "${COMPONENTS[@]}"; do
        [ -f "$dir/logs/$c.log" ] && { echo "--- $c" >&2; tail -n 10 "$dir/logs/$c.log" >&2; }
      done
      die "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.2
  done
  log "  ready: $what ($(elapsed))"
}

healthy() {
  local dir="$1" c k
  for c in "${COMPONENTS[@]}"; do alive "$dir" "$c" || return 1; done
  k="$(find_kubectl)"
  "$k" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1 || return 1
  nodes_ready "$dir"
}

nodes_ready() {
  local dir="$1" k n
  k="$(find_kubectl)"
  n="$("$k" --kubeconfig "$dir/kubeconfig" get nodes -l type=kwok \
        -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null \
        | grep -c '^True$' || true)"
  [ "$n" -ge "$NODES" ]
}

# ------------------------------------------------------------------- up ----

node_manifest() {
  local i
  for i in $(seq 0 $((NODES - 1))); do
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/zone: local-$((i % 3))
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    ephemeral-storage: 1Ti
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    ephemeral-storage: 1Ti
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    kubeProxyVersion: fake
    operatingSystem: linux
YAML
  done
}

# Secrets encrypted at rest: an EncryptionConfiguration with one secretbox
# key (XSalsa20-Poly1305; Kubernetes' docs prefer it to aescbc), generated
# once per cluster directory and kept across down/up in $DIR/encryption (0700,
# files 0600); identity last, so data written before encryption still reads.
# https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/
encryption_config() {
  local enc="$1/encryption"
  mkdir -p "$enc"; chmod 700 "$enc"
  if [ ! -s "$enc/key1" ]; then
    ( umask 077; head -c 32 /dev/urandom | base64 > "$enc/key1.tmp" )
    mv "$enc/key1.tmp" "$enc/key1"
  fi
  ( umask 077; cat > "$enc/config.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: $(cat "$enc/key1")
      - identity: {}
YAML
  )
  chmod 600 "$enc/key1" "$enc/config.yaml"
  echo "$enc/config.yaml"
}

cmd_up() {
  local dir; dir="$(state_dir "${1:-}")"
  local k
  check_binaries
  k="$(find_kubectl)"

  if [ -f "$dir/kubeconfig" ] && healthy "$dir"; then
    log "already up and healthy ($dir); KUBECONFIG=$dir/kubeconfig"
    return 0
  fi
  # Anything left of an earlier or broken run goes: every `up` is a fresh cluster.
  cmd_down "$dir" quiet

  local p
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
    port_busy "$p" && die "127.0.0.1:$p is in use (set ENVCTL_K8S_*_PORT, see $0)"
  done

  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd" "$dir/run"
  chmod 700 "$dir/etcd"
  make_pki "$dir"
  local pki="$dir/pki"
  kubeconfig_for "$dir" "$dir/kubeconfig" admin
  kubeconfig_for "$dir" "$dir/run/controller-manager.kubeconfig" controller-manager
  kubeconfig_for "$dir" "$dir/run/scheduler.kubeconfig" scheduler
  kubeconfig_for "$dir" "$dir/run/kwok.kubeconfig" kwok
  # Stages only: without a KwokConfiguration document kwok uses its defaults.
  cp "$KWOK_STAGES" "$dir/run/kwok.yaml"

  # etcd: single member, plain HTTP on loopback only (as envtest and kwokctl).
  start "$dir" etcd "$ETCD_BIN/etcd" \
    --name=node0 --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="node0=http://127.0.0.1:$ETCD_PEER_PORT" \
    --auto-compaction-retention=1 --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
    --unsafe-no-fsync=true --log-level=warn
  wait_for "etcd" 30 "$dir" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  # Where etcd listens, for tests that read what the apiserver stored.
  echo "http://127.0.0.1:$ETCD_PORT" > "$dir/run/etcd-endpoint"
  local encryption; encryption="$(encryption_config "$dir")"

  start "$dir" kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" --cert-dir="$dir/run" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --encryption-provider-config="$encryption" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --authorization-mode=RBAC \
    --allow-privileged=true \
    --profiling=false \
    --v=1
  wait_for "kube-apiserver /readyz" 90 "$dir" "$k" --kubeconfig "$dir/kubeconfig" get --raw /readyz

  start "$dir" kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$dir/run/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/run/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/run/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$dir/run" \
    --leader-elect=false --use-service-account-credentials=true \
    --controllers='*' \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$CLUSTER_CIDR" \
    --allocate-node-cidrs=false \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --kube-api-qps=500 --kube-api-burst=1000 \
    --profiling=false \
    --v=1

  start "$dir" kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$dir/run/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/run/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/run/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --cert-dir="$dir/run" \
    --leader-elect=false --profiling=false \
    --kube-api-qps=500 --kube-api-burst=1000 \
    --v=1

  start "$dir" kwok "$KWOK_BIN/kwok" \
    --kubeconfig="$dir/run/kwok.kubeconfig" \
    --config="$dir/run/kwok.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-name=kwok-controller --node-port="$KWOK_PORT" \
    --server-address="127.0.0.1:$KWOK_PORT" \
    --tls-cert-file="$pki/kwok.crt" --tls-private-key-file="$pki/kwok.key" \
    --cidr=10.244.0.1/16 \
    --node-lease-duration-seconds=40

  wait_for "kube-controller-manager /healthz" 60 "$dir" \
    curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
  wait_for "kube-scheduler /healthz" 60 "$dir" \
    curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"

  node_manifest | "$k" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null
  wait_for "$NODES kwok nodes Ready" 60 "$dir" nodes_ready "$dir"
  # The controller-manager's service-account controller works once the
  # default ServiceAccount exists (pods are refused until it does).
  wait_for "default ServiceAccount" 60 "$dir" \
    "$k" --kubeconfig "$dir/kubeconfig" -n default get serviceaccount default

  log "up in $(elapsed): $dir (KUBECONFIG=$dir/kubeconfig)"
}

# ----------------------------------------------------------------- down ----

cmd_down() {
  local dir; dir="$(state_dir "${1:-}")"
  local quiet="${2:-}" c stopped=0 i
  if [ -d "$dir/pids" ]; then
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
      c="${COMPONENTS[$i]}"
      if alive "$dir" "$c"; then stopped=$((stopped + 1)); fi
      stop_one "$dir" "$c"
    done
  fi
  # A fresh cluster per `up`: etcd data, certificates and kubeconfigs go; the
  # logs stay until the next `up` for a post-mortem.
  rm -rf "$dir/etcd" "$dir/pki" "$dir/run" "$dir/pids" "$dir/kubeconfig"
  [ -n "$quiet" ] || log "down: stopped $stopped process(es), state wiped ($dir)"
}

# --------------------------------------------------------------- status ----

cmd_status() {
  local dir; dir="$(state_dir "${1:-}")"
  local c rc=0 k
  for c in "${COMPONENTS[@]}"; do
    if alive "$dir" "$c"; then
      printf '%-24s running (pid %s, rss %s MiB)\n' "$c" "$(cat "$dir/pids/$c")" \
        "$(( $(awk '/VmRSS/ {print $2}' "/proc/$(cat "$dir/pids/$c")/status") / 1024 ))"
    else
      printf '%-24s stopped\n' "$c"; rc=1
    fi
  done
  if [ $rc -eq 0 ]; then
    k="$(find_kubectl)"
    if "$k" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
      echo "apiserver                readyz ok (https://127.0.0.1:$APISERVER_PORT)"
      "$k" --kubeconfig "$dir/kubeconfig" get nodes
    else
      echo "apiserver                NOT ready"; rc=1
    fi
    echo "KUBECONFIG=$dir/kubeconfig"
  fi
  return $rc
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  kubeconfig) echo "$(state_dir "${2:-}")/kubeconfig" ;;
  env) echo "export KUBECONFIG=$(state_dir "${2:-}")/kubeconfig" ;;
  kubectl) find_kubectl ;;
  *) usage ;;
esac
