#!/usr/bin/env bash
# A real single-machine Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC +
# Node authorization, PodSecurity admission, service-account token signing),
# kube-controller-manager (with a host-path provisioner behind a default StorageClass),
# kube-scheduler, and KWOK simulating nodes so pods become Running and Ready without a
# container runtime. Binaries come from `npm run toolchain` (.local/bin).
# With --real-nodes 1, one real node joins beside the simulated ones and runs real containers
# (containerd, runc, kubelet, kube-proxy, kube-router, a registry; cluster/real-node.sh and
# docs/real-node.md). It needs root. The default is 0 (the simulated nodes only): the
# integration suite asks for one (test/integration/global-setup.ts).
#
#   cluster.sh up      [--name NAME] [--port-base N] [--nodes N] [--real-nodes 0|1]
#   cluster.sh down    [--name NAME]
#   cluster.sh status  [--name NAME]
#   cluster.sh env     [--name NAME]     prints `export KUBECONFIG=...`
#
# State lives in .local/cluster/<name>/ (kubeconfig, certificates, etcd data, logs, pids).
# `down` stops only the processes this script started (by pid) and removes the data;
# the logs stay in .local/cluster/<name>/logs until the next `up` of that name.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-status}; shift || true
name=${CLUSTER_NAME:-local}
base=${CLUSTER_PORT_BASE:-}
nodes=${CLUSTER_NODES:-2}
real_nodes=${CLUSTER_REAL_NODES:-0}
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --port-base) base=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --real-nodes) real_nodes=$2; shift 2 ;;
    *) echo "cluster: unknown option $1 (see the header of cluster/cluster.sh)" >&2; exit 2 ;;
  esac
done
[[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "cluster: --name must be a short lowercase name, got '$name'" >&2; exit 2; }
[[ "$real_nodes" =~ ^[01]$ ]] || { echo "cluster: --real-nodes must be 0 or 1, got '$real_nodes'" >&2; exit 2; }

dir="$repo/.local/cluster/$name"
bin="$repo/.local/bin"
log() { printf '[cluster %s] %s\n' "$name" "$*" >&2; }
die() { printf '[cluster %s] error: %s\n' "$name" "$*" >&2; exit 1; }

components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# proc_alive <pid>: running (an exited process that init has not reaped yet counts as gone);
# used by the real node's `down`, which stops its processes together.
proc_alive() {
  local st
  st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# starting <pid>: a child this script just forked that has not exec'd its program yet (its
# command line is still this script's). Seen once: a liveness check between the fork and the
# exec took a starting kubelet for an exited one and failed `up`.
starting() {
  proc_alive "$1" && [ "$(cut -d' ' -f4 "/proc/$1/stat" 2>/dev/null)" = "$$" ]
}

# pid_alive <component>: the pid in its pidfile is running and is that binary (or is about to be).
pid_alive() {
  local f="$dir/run/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -d "/proc/$pid" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$1" || starting "$pid" || return 1
}

kubectl_() { "$bin/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

# shellcheck source=real-node.sh
source "$repo/cluster/real-node.sh"

status() {
  local up=0
  for c in "${components[@]}"; do
    if pid_alive "$c"; then printf '%-24s running (pid %s)\n' "$c" "$(cat "$dir/run/$c.pid")"; up=$((up + 1))
    else printf '%-24s stopped\n' "$c"; fi
  done
  node_status || up=0
  if [ "$up" -eq ${#components[@]} ] && kubectl_ get --raw /readyz >/dev/null 2>&1; then
    echo "api server: ready at $(sed -n 's/.*server: //p' "$dir/kubeconfig")"
    kubectl_ get nodes --no-headers 2>/dev/null | sed 's/^/node: /'
    echo "KUBECONFIG=$dir/kubeconfig"
    return 0
  fi
  return 1
}

down() {
  local stopped=0
  node_down
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    c=${components[$i]}
    if pid_alive "$c"; then
      pid=$(cat "$dir/run/$c.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    rm -f "$dir/run/$c.pid"
  done
  rm -rf "$dir/etcd" "$dir/pki" "$dir/run" "$dir/kubeconfig" "$dir"/*.kubeconfig "$dir/hostpath" "$dir/volumes"
  log "stopped $stopped process(es); data removed (logs kept in $dir/logs)"
}

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

pick_base() {
  # A stable default per name, moved on while any of its six ports is taken.
  local b=${base:-$((20000 + ($(printf '%s' "$name" | cksum | cut -d' ' -f1) % 400) * 10))}
  for _ in $(seq 1 50); do
    local ok=1
    for o in 0 1 2 3 4 5; do port_free $((b + o)) || { ok=0; break; }; done
    [ "$ok" = 1 ] && { echo "$b"; return; }
    [ -n "$base" ] && die "port $((b + o)) (from --port-base $base) is in use"
    b=$((b + 10))
  done
  die "no free port range found"
}

# cert <file> <subject> [san]: a key and a 30-day certificate in $dir/pki, signed by the cluster's
# CA there; with a SAN for server and client use, without for client use only. gen_pki and the
# real node's node_certs (real-node.sh) issue every identity with it.
cert() {
  local p="$dir/pki"
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
  local ext="$p/$1.ext"
  if [ -n "${3:-}" ]; then printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$ext"
  else printf 'extendedKeyUsage=clientAuth\n' >"$ext"; fi
  openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$p/$1.crt" 2>/dev/null
  rm -f "$p/$1.csr" "$ext"
}

gen_pki() {
  local p="$dir/pki"
  mkdir -p "$p"; chmod 700 "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=agent-platform-local-ca" \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=local-admin"
  # The API server's identity towards kubelets (logs, exec, attach on the real node).
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
}

write_kubeconfig() { # write_kubeconfig <file> <cert name> <api server URL>
  local p="$dir/pki"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: agent-platform-$name
  cluster:
    server: $3
    certificate-authority-data: $(base64 -w0 "$p/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$p/$2.crt")
    client-key-data: $(base64 -w0 "$p/$2.key")
contexts:
- name: agent-platform-$name
  context: {cluster: agent-platform-$name, user: $2}
current-context: agent-platform-$name
EOF
  chmod 600 "$1"
}

nodes_untainted() {
  [ -z "$(kubectl_ get nodes -l type=kwok -o jsonpath='{.items[*].spec.taints}')" ]
}

start() { # start <component> <args...>
  local c=$1; shift
  "$bin/$c" "$@" >"$dir/logs/$c.log" 2>&1 &
  echo $! >"$dir/run/$c.pid"
}

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$secs" ] || die "$what did not come up within ${secs}s (logs: $dir/logs)"
    for c in "${components[@]}"; do
      if [ -f "$dir/run/$c.pid" ] && ! pid_alive "$c"; then
        tail -n 20 "$dir/logs/$c.log" >&2
        die "$c exited (log: $dir/logs/$c.log)"
      fi
    done
    for c in "${node_components[@]}"; do
      if [ -f "$dir/run/$c.pid" ] && ! node_pid_alive "$c"; then
        tail -n 20 "$dir/logs/$c.log" >&2
        die "$c exited (log: $dir/logs/$c.log)"
      fi
    done
    sleep 0.3
  done
}

up() {
  for c in "${components[@]}"; do
    [ -x "$bin/$c" ] || die "$bin/$c is missing: run \`npm run toolchain\` first"
  done
  if status >/dev/null 2>&1; then
    if [ "$real_nodes" = 1 ] && [ ! -f "$dir/run/kubelet.pid" ]; then
      local port; port=$(sed -n 's/.*server: https:\/\/127.0.0.1://p' "$dir/kubeconfig")
      node_up "$port" "$port"
    else
      log "already running"
    fi
    status; return
  fi
  # Anything half-started by an earlier run goes first.
  down >/dev/null 2>&1 || true
  # A failed `up` leaves nothing running: it stops what it started (the logs stay).
  trap 'rc=$?; if [ "$rc" -ne 0 ]; then log "up failed: stopping what it started"; down >/dev/null 2>&1 || true; fi' EXIT
  local t0=$SECONDS b; b=$(pick_base)
  local api=$b etcd_c=$((b + 1)) etcd_p=$((b + 2)) kcm=$((b + 3)) sched=$((b + 4)) kwokp=$((b + 5))
  mkdir -p "$dir/logs" "$dir/run" "$dir/hostpath"
  rm -f "$dir"/logs/*.log
  gen_pki
  # The real node's runtime and images get ready while the control plane starts.
  [ "$real_nodes" = 0 ] || node_prepare "$api" "$b"
  write_kubeconfig "$dir/kubeconfig" admin "https://127.0.0.1:$api"
  write_kubeconfig "$dir/controller-manager.kubeconfig" controller-manager "https://127.0.0.1:$api"
  write_kubeconfig "$dir/scheduler.kubeconfig" scheduler "https://127.0.0.1:$api"

  start etcd --name "$name" --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_c" --advertise-client-urls "http://127.0.0.1:$etcd_c" \
    --listen-peer-urls "http://127.0.0.1:$etcd_p" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_p" \
    --initial-cluster "$name=http://127.0.0.1:$etcd_p" --unsafe-no-fsync --quota-backend-bytes 1073741824
  wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_c/health"

  local p="$dir/pki"
  start kube-apiserver --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api" \
    --etcd-servers "http://127.0.0.1:$etcd_c" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --endpoint-reconciler-type none --profiling=false \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP
  wait_for kube-apiserver 60 kubectl_ get --raw /readyz

  start kube-controller-manager --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --controllers '*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --enable-hostpath-provisioner --profiling=false
  start kube-scheduler --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched" --leader-elect=false --profiling=false
  start kwok --kubeconfig "$dir/kubeconfig" --config "$repo/.local/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.1/16 --node-ip 127.0.0.1 --server-address "127.0.0.1:$kwokp"

  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
  for i in $(seq 1 "$nodes"); do
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
EOF
  done
  wait_for "nodes Ready" 60 kubectl_ wait --for=condition=Ready node --all --timeout=1s
  # Admission gives a new Node the not-ready taint; the node lifecycle controller would lift
  # it, but it also marks pods unready whenever a simulated node's heartbeat looks late, so
  # it is off and the taint is lifted here once KWOK reports the nodes Ready.
  kubectl_ taint nodes --all node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  wait_for "nodes schedulable" 60 nodes_untainted
  # The service-account controller must have made the default ServiceAccount before pods work.
  wait_for "default service account" 60 kubectl_ get serviceaccount default -n default
  [ "$real_nodes" = 0 ] || node_join
  trap - EXIT
  log "up in $((SECONDS - t0)) s: API https://127.0.0.1:$api, $nodes simulated nodes, $real_nodes real node(s)"
  echo "KUBECONFIG=$dir/kubeconfig"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status || { echo "cluster '$name' is not running (npm run cluster:up)"; exit 1; } ;;
  env) echo "export KUBECONFIG=$dir/kubeconfig" ;;
  *) echo "usage: cluster.sh up|down|status|env [--name NAME] [--port-base N] [--nodes N] [--real-nodes 0|1]" >&2; exit 2 ;;
esac
