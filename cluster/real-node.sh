# shellcheck shell=bash
# The real node: sourced by cluster/cluster.sh (it sets name, dir, bin, repo, log, die,
# kubectl_, wait_for). One Kubernetes node that runs real containers beside the simulated ones:
# containerd 2 + Debian's runc and CNI plugins, a kubelet, kube-proxy (ClusterIP services),
# kube-router (NetworkPolicy, firewall only) and an authenticated image registry. See
# docs/real-node.md.
#
# Everything the node does on the network happens inside one network namespace this script
# creates (ap-<cluster>-node), so nothing reaches beyond the machine:
#   - the node's address is the namespace end of a veth pair (10.250.x.y/30); the API server
#     reaches the kubelet there (logs, exec, attach, port-forward);
#   - the kubelet, kube-proxy and kube-router reach the API server (127.0.0.1 on the host) through
#     a unix-socket bridge: socat listens on port 6443 inside the namespace and on a unix socket
#     on the host, which forwards to the API server's loopback port. The `kubernetes` Service
#     (10.96.0.1:443) points at that bridge, so pods use the in-cluster API like anywhere else;
#   - pods get addresses from a bridge (cni0, 10.88.0.0/24) inside the namespace;
#   - the registry listens on 127.0.0.1:5000 inside the namespace (TLS, htpasswd).
# The iptables rules kube-proxy and kube-router write live in that namespace, so `down` removes
# them with it. Processes are started and stopped by pid; mounts live under the node's folder
# and `down` unmounts them; cgroups live under /ap-<cluster> and `down` removes them.

node_name=real-node-1
node_label=agent-platform.io/node
node_taint=agent-platform.io/real-node
node_dir="$dir/node"
node_ns="ap-$name-node"
node_cgroup="ap-$name"
pod_cidr=10.88.0.0/24
node_components=(node-api-host node-api containerd registry kubelet kube-proxy kube-router)
declare -A node_bin=(
  [node-api-host]=socat [node-api]=socat [containerd]=containerd [registry]=registry
  [kubelet]=kubelet [kube-proxy]=kube-proxy [kube-router]=kube-router
)
cgroup_controllers=(cpu cpuacct cpuset memory pids blkio devices freezer hugetlb systemd)

node_pid_alive() {
  local f="$dir/run/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  proc_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "${node_bin[$1]}" || starting "$pid" || return 1
}

# The node's /30: host end .1, node end .2, from the cluster's port base (unique per machine).
node_addresses() { # node_addresses <port base>
  local idx=$((($1 - 20000) / 10 % 16384)) a
  a=$((idx * 4))
  host_ip="10.250.$((a / 256)).$((a % 256 + 1))"
  node_ip="10.250.$((a / 256)).$((a % 256 + 2))"
  veth_host="apv${idx}h"
  veth_node="apv${idx}n"
}

node_requirements() {
  local missing=()
  for c in containerd containerd-shim-runc-v2 ctr kubelet kube-proxy kube-router registry imgtool; do
    [ -x "$bin/$c" ] || missing+=("$bin/$c")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}: run \`npm run toolchain\` first"
  for t in runc socat nsenter iptables ipset ip; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs the real node's Debian packages)"
  done
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are missing (apt-get install containernetworking-plugins)"
  [ "$(id -u)" = 0 ] || die "a real node needs root (network namespaces, mounts, cgroups)"
  [ -f "$repo/.local/images.env" ] || die "$repo/.local/images.env is missing: run images/build.sh"
  # shellcheck source=/dev/null
  source "$repo/.local/images.env"
  for t in "$IMAGE_PAUSE_TAR" "$IMAGE_TOOLS_TAR" "$IMAGE_POSTGRES_TAR" "$IMAGE_NODE_TAR" "$IMAGE_ENGINE_TAR" "$IMAGE_EXECUTOR_TAR"; do
    [ -s "$t" ] || die "image $t is missing: run images/build.sh"
  done
}

node_start() { # node_start <component> <args...>: runs inside the node's network namespace
  local c=$1; shift
  nsenter --net="/run/netns/$node_ns" "$@" >"$dir/logs/$c.log" 2>&1 &
  echo $! >"$dir/run/$c.pid"
}

node_certs() {
  # cert() is cluster.sh's (this file is sourced by it), signed by the same CA.
  cert kubelet "/O=system:nodes/CN=system:node:$node_name"
  cert kube-proxy "/CN=system:kube-proxy"
  cert kube-router "/CN=agent-platform:kube-router"
  cert registry "/CN=agent-platform-registry" "IP:127.0.0.1,DNS:localhost"
}

node_kubeconfig() { # node_kubeconfig <file> <cert name>: the API through the bridge in the namespace
  write_kubeconfig "$1" "$2" https://127.0.0.1:6443
}

node_network() {
  ip netns add "$node_ns"
  ip link add "$veth_host" type veth peer name "$veth_node"
  ip link set "$veth_node" netns "$node_ns"
  ip addr add "$host_ip/30" dev "$veth_host"
  ip link set "$veth_host" up
  ip -n "$node_ns" addr add "$node_ip/30" dev "$veth_node"
  ip -n "$node_ns" link set "$veth_node" up
  ip -n "$node_ns" link set lo up
  # Pods reach each other and the node through the bridge; bridged traffic goes through
  # iptables (NetworkPolicy, Services). No default route: nothing leaves the namespace.
  ip netns exec "$node_ns" sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

node_cgroups() {
  for c in "${cgroup_controllers[@]}"; do
    [ -d "/sys/fs/cgroup/$c" ] || continue
    mkdir -p "/sys/fs/cgroup/$c/$node_cgroup"
    if [ "$c" = cpuset ]; then
      cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$node_cgroup/cpuset.cpus"
      cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$node_cgroup/cpuset.mems"
    fi
  done
  # containerd and its shims in a cgroup of their own: `down` finds every leftover by it.
  for c in "${cgroup_controllers[@]}"; do
    [ -d "/sys/fs/cgroup/$c" ] || continue
    mkdir -p "/sys/fs/cgroup/$c/$node_cgroup/runtime"
    if [ "$c" = cpuset ]; then
      cat "/sys/fs/cgroup/cpuset/$node_cgroup/cpuset.cpus" >"/sys/fs/cgroup/cpuset/$node_cgroup/runtime/cpuset.cpus"
      cat "/sys/fs/cgroup/cpuset/$node_cgroup/cpuset.mems" >"/sys/fs/cgroup/cpuset/$node_cgroup/runtime/cpuset.mems"
    fi
  done
}

node_configs() {
  local n=$node_dir p="$dir/pki"
  mkdir -p "$n/containerd/certs.d/127.0.0.1:5000" "$n/cni/net.d" "$n/cni/ipam" "$n/kubelet" "$n/registry/data"
  cat >"$n/containerd/config.toml" <<EOF
version = 3
root = "$n/containerd/root"
state = "$n/containerd/state"
[grpc]
  address = "$n/containerd/containerd.sock"
[ttrpc]
  address = "$n/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins.'io.containerd.internal.v1.opt']
  path = "$n/containerd/opt"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.cri.v1.runtime']
  # This VM refuses negative OOM score adjustments: runc fails ("can't get final child's PID
  # from pipe") unless containerd keeps them at or above its own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
        Root = "$n/runc"
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$n/cni/net.d"
    max_conf_num = 1
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$IMAGE_PAUSE_REF"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$n/containerd/certs.d"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  cat >"$n/containerd/certs.d/127.0.0.1:5000/hosts.toml" <<EOF
server = "https://127.0.0.1:5000"
[host."https://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
  ca = "$p/ca.crt"
EOF
  cat >"$n/cni/net.d/10-pods.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "agent-platform-$name",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$n/cni/ipam"}
    }
  ]
}
EOF
  # No DNS server exists for pods here: an empty resolv.conf keeps them from the host's.
  echo "# the real node has no DNS server (docs/real-node.md)" >"$n/resolv.conf"
  cat >"$n/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host has cgroup v1; kubelet 1.35 and later refuse it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$node_cgroup
containerRuntimeEndpoint: unix://$n/containerd/containerd.sock
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# Only clients with a certificate of the cluster CA (the API server's) reach the kubelet.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
resolvConf: $n/resolv.conf
failSwapOn: false
maxPods: 40
serializeImagePulls: false
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
# Per node: with the default (/var/log/pods, machine-wide) a second real node's kubelet removes
# this one's pod logs as orphans.
podLogsDir: $n/pod-logs
containerLogMaxSize: 1Mi
containerLogMaxFiles: 2
registerWithTaints:
- {key: $node_taint, value: "true", effect: NoSchedule}
EOF
  node_kubeconfig "$n/kubelet.kubeconfig" kubelet
  node_kubeconfig "$n/kube-proxy.kubeconfig" kube-proxy
  node_kubeconfig "$n/kube-router.kubeconfig" kube-router
  cat >"$n/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $n/kube-proxy.kubeconfig}
hostnameOverride: $node_name
mode: iptables
clusterCIDR: $pod_cidr
bindAddress: $node_ip
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the machine-wide conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  # The registry: htpasswd over TLS, a password generated per cluster start.
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$n/registry/password")
  "$bin/imgtool" htpasswd agent-platform "$n/registry/password" >"$n/registry/htpasswd"
  cat >"$n/registry/config.yml" <<EOF
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage:
  filesystem: {rootdirectory: $n/registry/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:5000
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  tls: {certificate: $p/registry.crt, key: $p/registry.key}
auth:
  htpasswd: {realm: agent-platform, path: $n/registry/htpasswd}
EOF
  cat >"$n/registry.env" <<EOF
REGISTRY_SERVER=127.0.0.1:5000
REGISTRY_USERNAME=agent-platform
REGISTRY_PASSWORD_FILE=$n/registry/password
REAL_NODE_NAME=$node_name
REAL_NODE_IP=$node_ip
REAL_NODE_POD_CIDR=$pod_cidr
REAL_NODE_NETNS=$node_ns
EOF
  cat "$repo/.local/images.env" >>"$n/registry.env"
}

# The registry answers, over TLS, and asks for credentials.
registry_ready() {
  [ "$(nsenter --net="/run/netns/$node_ns" curl -s --cacert "$dir/pki/ca.crt" -o /dev/null -w '%{http_code}' \
    https://127.0.0.1:5000/v2/)" = 401 ]
}

ctr_() { "$bin/ctr" --address "$node_dir/containerd/containerd.sock" -n k8s.io "$@"; }

node_rbac() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "agent-platform:kube-router"}
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "agent-platform:kube-router"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "agent-platform:kube-router"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "agent-platform:kube-router"}
---
# The API server is reached from pods through the bridge on the node (see the header).
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes-real-node
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: cluster-sh.agent-platform.io
addressType: IPv4
endpoints:
- addresses: ["$node_ip"]
  conditions: {ready: true}
ports:
- {name: https, port: 6443, protocol: TCP}
EOF
}

# Machine-wide: which real nodes run here, and the sysctls from before the first one.
node_registry=/run/agent-platform-real-nodes
node_kernel_tunables=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

# node_up <api port> <port base>: both halves below, one after the other.
node_up() { node_prepare "$1" "$2"; node_join; }

# node_prepare <api port> <port base>: everything that does not need the API server (network,
# containerd, registry, images); the images load in the background while the control plane
# starts. Needs the cluster's CA (gen_pki).
node_prepare() {
  local api=$1
  node_t0=$SECONDS
  node_requirements
  node_addresses "$2"
  mkdir -p "$node_dir"
  node_certs
  node_configs
  node_network
  node_cgroups
  # The kubelet sets these machine-wide sysctls when it starts; the last real node's `down` on
  # this machine puts back the values from before the first one (recorded once, machine-wide).
  mkdir -p "$node_registry"
  [ -s "$node_registry/sysctl.orig" ] || sysctl -n "${node_kernel_tunables[@]}" >"$node_registry/sysctl.orig" 2>/dev/null || true
  echo "$dir" >"$node_registry/node-$(printf '%s' "$dir" | sha256sum | cut -c1-16)"

  socat "UNIX-LISTEN:$node_dir/api.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$api" >"$dir/logs/node-api-host.log" 2>&1 &
  echo $! >"$dir/run/node-api-host.pid"
  node_start node-api socat TCP-LISTEN:6443,fork,reuseaddr "UNIX-CONNECT:$node_dir/api.sock"

  # containerd (and the shims it starts) in the node's runtime cgroup.
  (
    for c in "${cgroup_controllers[@]}"; do
      [ -d "/sys/fs/cgroup/$c/$node_cgroup/runtime" ] && echo $BASHPID >"/sys/fs/cgroup/$c/$node_cgroup/runtime/cgroup.procs"
    done
    PATH="$bin:$PATH" exec nsenter --net="/run/netns/$node_ns" "$bin/containerd" --config "$node_dir/containerd/config.toml"
  ) >"$dir/logs/containerd.log" 2>&1 &
  echo $! >"$dir/run/containerd.pid"
  node_start registry "$bin/registry" serve "$node_dir/registry/config.yml"
  wait_for containerd 30 ctr_ version
  node_images >"$dir/logs/node-images.log" 2>&1 &
  node_images_pid=$!
}

node_images() {
  set -e
  # Images without a registry: the tarballs built by images/build.sh.
  local i
  for i in "$IMAGE_PAUSE_TAR" "$IMAGE_TOOLS_TAR" "$IMAGE_POSTGRES_TAR" "$IMAGE_NODE_TAR"; do
    ctr_ images import "$i"
  done
  # The engine stand-in and the executor go through the authenticated registry.
  for _ in $(seq 1 100); do registry_ready && break; sleep 0.3; done
  for i in ENGINE EXECUTOR; do
    local t="IMAGE_${i}_TAR" r="IMAGE_${i}_REF"
    nsenter --net="/run/netns/$node_ns" "$bin/imgtool" push --tar "${!t}" --to "${!r}" --username agent-platform \
      --password-file "$node_dir/registry/password" --ca "$dir/pki/ca.crt"
  done
}

# node_join: the kubelet, kube-proxy and kube-router, once the API server is up.
node_join() {
  local t_wait=$SECONDS
  wait "$node_images_pid" || { tail -20 "$dir/logs/node-images.log" >&2; die "loading the real node's images failed (log: $dir/logs/node-images.log)"; }
  t_wait=$((SECONDS - t_wait))
  local t1=$SECONDS
  node_rbac
  node_start kubelet "$bin/kubelet" --config "$node_dir/kubelet/config.yaml" --kubeconfig "$node_dir/kubelet.kubeconfig" \
    --hostname-override "$node_name" --node-ip "$node_ip" --root-dir "$node_dir/kubelet" \
    --cert-dir "$node_dir/kubelet/pki" --node-labels "$node_label=real,kubernetes.io/os=linux"
  node_start kube-proxy "$bin/kube-proxy" --config "$node_dir/kube-proxy.yaml"
  wait_for "the real node to register" 60 kubectl_ get node "$node_name"
  # No IPAM controller runs here (nodeipam is off): record the bridge's range in the node's spec.
  kubectl_ patch node "$node_name" --type merge -p "{\"spec\":{\"podCIDR\":\"$pod_cidr\",\"podCIDRs\":[\"$pod_cidr\"]}}" >/dev/null 2>&1 || true
  node_start kube-router "$bin/kube-router" --kubeconfig "$node_dir/kube-router.kubeconfig" --hostname-override "$node_name" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-ipv4=true --enable-ipv6=false \
    --service-cluster-ip-range=10.96.0.0/16 --metrics-port=0 --health-port=0 --cache-sync-timeout=1m
  wait_for "the real node Ready" 90 kubectl_ wait --for=condition=Ready node "$node_name" --timeout=1s
  # As for the simulated nodes: no node lifecycle controller lifts the not-ready taint.
  kubectl_ taint nodes "$node_name" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  log "real node $node_name ($node_ip) ready: $((SECONDS - node_t0)) s since its start beside the control plane (waited $t_wait s for its images; kubelet to Ready $((SECONDS - t1)) s)"
}

node_status() {
  for c in "${node_components[@]}"; do
    if node_pid_alive "$c"; then printf '%-24s running (pid %s)\n' "$c" "$(cat "$dir/run/$c.pid")"
    elif [ -f "$dir/run/$c.pid" ]; then printf '%-24s stopped\n' "$c"; return 1; fi
  done
}

stop_pids() { # stop_pids <pid>...: TERM all, wait up to 5 s, then KILL what is left
  local pid left
  kill "$@" 2>/dev/null || true
  for _ in $(seq 1 50); do
    left=0
    for pid in "$@"; do proc_alive "$pid" && left=1; done
    [ "$left" = 1 ] || return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null || true
}

node_down() {
  [ -d "$node_dir" ] || [ -f "$dir/run/kubelet.pid" ] || ip netns list 2>/dev/null | grep -q "^$node_ns\b" || return 0
  local stopped=0
  # Let containerd stop and remove every pod sandbox and container it runs (clean CNI teardown).
  if node_pid_alive kubelet; then stop_pids "$(cat "$dir/run/kubelet.pid")"; stopped=$((stopped + 1)); fi
  rm -f "$dir/run/kubelet.pid"
  local sandboxes=()
  if node_pid_alive containerd && [ -S "$node_dir/containerd/containerd.sock" ]; then
    mapfile -t sandboxes < <(ctr_ containers ls -q 2>/dev/null)
    for t in $(ctr_ tasks ls -q 2>/dev/null); do
      timeout 10 "$bin/ctr" --address "$node_dir/containerd/containerd.sock" -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr_ tasks ls -q 2>/dev/null); do
      timeout 10 "$bin/ctr" --address "$node_dir/containerd/containerd.sock" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true
    done
  fi
  local pids=()
  for c in "${node_components[@]}"; do
    if node_pid_alive "$c"; then pids+=("$(cat "$dir/run/$c.pid")"); stopped=$((stopped + 1)); fi
    rm -f "$dir/run/$c.pid"
  done
  [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"
  # Whatever is left in the node's cgroups (shims, container processes) was started by this node.
  local cg pid
  for _ in 1 2 3; do
    for cg in $(find "/sys/fs/cgroup/pids/$node_cgroup" -name cgroup.procs 2>/dev/null); do
      for pid in $(cat "$cg"); do kill -9 "$pid" 2>/dev/null || true; done
    done
    sleep 0.2
  done
  # Mounts under the node's folder (container root filesystems, pod volumes, network namespaces).
  local m
  for _ in 1 2 3; do
    m=$(awk -v p="$node_dir/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r)
    [ -n "$m" ] || break
    while read -r mp; do umount -l "$(printf '%b' "$mp")" 2>/dev/null || true; done <<<"$m"
  done
  ip netns del "$node_ns" 2>/dev/null || true
  for c in "${cgroup_controllers[@]}" unified; do
    [ -d "/sys/fs/cgroup/$c/$node_cgroup" ] || continue
    find "/sys/fs/cgroup/$c/$node_cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  # libcni's result cache of each pod network this node set up (the bridge and the loopback).
  local id
  for id in "${sandboxes[@]}"; do rm -f "/var/lib/cni/results/agent-platform-$name-$id-eth0" "/var/lib/cni/results/cni-loopback-$id-lo"; done
  rm -f /var/lib/cni/results/"agent-platform-$name"-* 2>/dev/null || true
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
  # The kubelet's fixed folder of links to container logs: the links into this node go.
  local l
  for l in /var/log/containers/*.log; do
    if [ -L "$l" ] && [[ "$(readlink "$l")" == "$node_dir/"* ]]; then rm -f "$l"; fi
  done
  rmdir /var/log/containers /var/log/pods 2>/dev/null || true
  # containerd's fixed shim socket folder: removed when nothing else uses it.
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true
  rm -f "$node_registry/node-$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
  local m others=0
  for m in "$node_registry"/node-*; do
    [ -f "$m" ] || continue
    # Another cluster's node counts while its kubelet (or its start) is under way.
    if [ -d "$(cat "$m")/node" ]; then others=$((others + 1)); else rm -f "$m"; fi
  done
  if [ "$others" = 0 ] && [ -s "$node_registry/sysctl.orig" ]; then
    local k v
    paste <(printf '%s\n' "${node_kernel_tunables[@]}") "$node_registry/sysctl.orig" | while read -r k v; do
      sysctl -qw "$k=$v" 2>/dev/null || true
    done
    rm -f "$node_registry/sysctl.orig"
    rmdir "$node_registry" 2>/dev/null || true
  fi
  rm -rf "$node_dir"
  log "real node: stopped $stopped process(es); network namespace, mounts and cgroups removed"
}
