#!/usr/bin/env bash
# Builds the real parts this project runs on (Pulumi CLI, its Node.js language host, the
# Kubernetes provider, a Kubernetes control plane and KWOK, the cyclonus NetworkPolicy evaluator
# the tests use; for the real node containerd, kube-proxy, kube-router, a registry and the
# project's image tool) from Go modules, caches each binary by version outside the repo, and
# links them into .local/bin. Then images/build.sh builds the real node's images (cached by a
# hash of their inputs).
#
#   toolchain/build.sh            build what is missing (a warm run builds nothing)
#   toolchain/build.sh --check    exit 1 if anything is missing, build nothing
#   toolchain/build.sh helm       only Helm, for scripts/bench.sh (not part of the toolchain above:
#                                 setup.sh and CI never build it)
#
# Cache: $AGENT_PLATFORM_CACHE (default ~/.cache/agent-platform). Versions: toolchain/versions.env.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$repo/toolchain/versions.env"
cache=${AGENT_PLATFORM_CACHE:-$HOME/.cache/agent-platform}
bindir="$repo/.local/bin"
mkdir -p "$cache/bin" "$cache/build" "$bindir"
# One build at a time per cache: two checkouts building at once would wipe each other's build
# folders. A second run waits here, then finds the binaries built and builds nothing.
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
  printf '[toolchain] another build is using %s; waiting for it\n' "$cache" >&2
  flock 9
fi

export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
# The checksum database this machine reaches has no entry for the provider's pseudo-version,
# the only one the mirror serves, nor for several github.com/pulumi modules it requires; their
# hashes are still recorded in each build's go.sum on first fetch.
export GONOSUMDB=${GONOSUMDB:-github.com/pulumi}
mode=${1:-build}

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH; install Go 1.26 or newer (https://go.dev/dl; Debian's golang package is older)"

# Helm is for the benchmark only (scripts/bench.sh): built on request, cached by version like
# the rest, linked into .local/bin. Nothing else here builds or checks it.
if [ "$mode" = helm ]; then
  helm_bin="$cache/bin/helm-$HELM_VERSION"
  if [ ! -x "$helm_bin" ]; then
    log "building helm $HELM_VERSION (benchmark only; a few minutes cold; log in $cache/build/build_helm.log)"
    (
      set -e
      t0=$SECONDS
      dir="$cache/build/helm-$HELM_VERSION"
      rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
      go mod init local/helm-build >/dev/null 2>&1
      go mod edit -go=1.24 -require="helm.sh/helm/v3@v$HELM_VERSION"
      printf '//go:build tools\n\npackage tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n' > tools.go
      go mod tidy -e >/dev/null 2>&1 || true
      go build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
        -o helm helm.sh/helm/v3/cmd/helm
      install -m 0755 helm "$helm_bin.tmp" && mv -f "$helm_bin.tmp" "$helm_bin" && rm -f helm
      log "helm built in $((SECONDS - t0)) s"
    ) >"$cache/build/build_helm.log" 2>&1 || { tail -30 "$cache/build/build_helm.log" >&2; die "helm failed (log: $cache/build/build_helm.log)"; }
    tail -1 "$cache/build/build_helm.log" >&2
  fi
  ln -sfn "$helm_bin" "$bindir/helm"
  log "ready: helm ($("$bindir/helm" version --short 2>/dev/null || echo "version unknown"))"
  exit 0
fi

# The language host is our own source: its cache key includes a hash of that source.
langhost_hash=$(cat "$repo"/toolchain/langhost/*.go "$repo"/toolchain/langhost/go.mod | sha256sum | cut -c1-12)
imgtool_hash=$(cat "$repo"/images/imgtool/*.go "$repo"/images/imgtool/go.mod | sha256sum | cut -c1-12)

# name | cache key (version) ; binaries are cached as $cache/bin/<name>-<key>
declare -A key=(
  [pulumi]="$PULUMI_VERSION"
  [pulumi-language-nodejs]="$PULUMI_VERSION-$langhost_hash"
  [pulumi-resource-kubernetes]="$PULUMI_KUBERNETES_VERSION-${PULUMI_KUBERNETES_MODULE_VERSION##*-}"
  [kube-apiserver]="$KUBERNETES_VERSION"
  [kube-controller-manager]="$KUBERNETES_VERSION"
  [kube-scheduler]="$KUBERNETES_VERSION"
  [kubectl]="$KUBERNETES_VERSION"
  [kubelet]="$KUBERNETES_VERSION"
  [etcd]="$ETCD_VERSION"
  [kwok]="$KWOK_VERSION"
  [cyclonus]="$CYCLONUS_VERSION"
  [kube-proxy]="$KUBERNETES_VERSION"
  [containerd]="$CONTAINERD_VERSION"
  [containerd-shim-runc-v2]="$CONTAINERD_VERSION"
  [ctr]="$CONTAINERD_VERSION"
  [kube-router]="$KUBE_ROUTER_VERSION"
  [registry]="$DISTRIBUTION_VERSION"
  [imgtool]="$GGCR_VERSION-$imgtool_hash"
)

cached() {
  [ -x "$cache/bin/$1-${key[$1]}" ] || return 1
  [ "$1" != kwok ] || [ -f "$cache/bin/kwok-stages-${key[kwok]}.yaml" ]
}

missing=()
for n in "${!key[@]}"; do
  # TOOLCHAIN_ONLY="kwok etcd" limits a run to some parts (for working on one of them).
  if [ -n "${TOOLCHAIN_ONLY:-}" ] && [[ " $TOOLCHAIN_ONLY " != *" $n "* ]]; then continue; fi
  cached "$n" || missing+=("$n")
done

# Pulumi's npm SDK and CLI must agree: the Automation API checks the CLI version.
npm_pulumi=$(sed -n 's/.*"@pulumi\/pulumi": *"\([^"]*\)".*/\1/p' "$repo/package.json" | head -1)
[ "$npm_pulumi" = "$PULUMI_VERSION" ] ||
  die "package.json pins @pulumi/pulumi $npm_pulumi but toolchain/versions.env has PULUMI_VERSION=$PULUMI_VERSION; make them equal"

if [ "$mode" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] || { log "missing: ${missing[*]}"; exit 1; }
fi

# wrapper <dir> <module-name> : a fresh Go module in $cache/build/<dir>
wrapper() {
  local dir="$cache/build/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init "$2" >/dev/null 2>&1)
  echo "$dir"
}

timed() { # timed <label> <cmd...>
  local t0=$SECONDS
  "${@:2}"
  log "$1 built in $((SECONDS - t0)) s"
}

install_bin() { # install_bin <name> <built file>
  install -m 0755 "$2" "$cache/bin/$1-${key[$1]}.tmp"
  mv -f "$cache/bin/$1-${key[$1]}.tmp" "$cache/bin/$1-${key[$1]}"
  rm -f "$2" # the build folder keeps go.mod/go.sum, not a second copy of the binary
}

# kubernetes_module <dir> <cmd...>: a wrapper module in $cache/build/<dir> for
# k8s.io/kubernetes/cmd/<cmd> at $KUBERNETES_VERSION; prints the ldflags to build with.
kubernetes_module() {
  local v=$KUBERNETES_VERSION minor=${KUBERNETES_VERSION#*.}; minor=${minor%%.*}
  local dir; dir=$(wrapper "$1" local/kubernetes-build); shift
  cd "$dir"
  go mod edit -go=1.24 -require="k8s.io/kubernetes@v$v"
  # k8s.io/kubernetes replaces its staging modules with local paths; point them at the
  # published copies of the same release instead.
  local staging
  staging=$(go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$staging" | while read -r m; do
    go mod edit -replace="$m=$m@v0.$minor.${v##*.}"
  done
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for c in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
    printf ')\n'; } > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  local commit; commit=$(go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -1)
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.gitCommit=${commit:-unknown} -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=v$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  echo "$ld"
}

build_kubernetes() {
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet) ld
  ld=$(kubernetes_module "kubernetes-$KUBERNETES_VERSION" "${cmds[@]}")
  cd "$cache/build/kubernetes-$KUBERNETES_VERSION"
  mkdir -p out
  go build -ldflags "$ld" -o out/ "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
  for b in "${cmds[@]}"; do install_bin "$b" "out/$b"; done
}

# The real node's service proxy (ClusterIP to pod, iptables mode): same module as above in its
# own folder; the Go build cache shares every package the control plane build compiled.
build_kube_proxy() {
  local ld; ld=$(kubernetes_module "kube-proxy-$KUBERNETES_VERSION" kube-proxy)
  cd "$cache/build/kube-proxy-$KUBERNETES_VERSION"
  go build -ldflags "$ld" -o kube-proxy k8s.io/kubernetes/cmd/kube-proxy
  install_bin kube-proxy kube-proxy
}

# containerd 2 with its runc shim and ctr. No cgo: the btrfs, zfs and devmapper snapshotters
# are left out (overlayfs and native remain).
build_containerd() {
  local dir; dir=$(wrapper "containerd-$CONTAINERD_VERSION" local/containerd-build)
  cd "$dir"
  local mod=github.com/containerd/containerd/v2
  go mod edit -go=1.26 -require="$mod@v$CONTAINERD_VERSION"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/containerd"\n\t_ "%s/cmd/containerd-shim-runc-v2"\n\t_ "%s/cmd/ctr"\n)\n' "$mod" "$mod" "$mod" > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  mkdir -p out
  go build -tags "no_btrfs no_zfs no_devmapper" -ldflags "-s -w -X $mod/version.Version=v$CONTAINERD_VERSION -X $mod/version.Revision=module" \
    -o out/ "$mod/cmd/containerd" "$mod/cmd/containerd-shim-runc-v2" "$mod/cmd/ctr"
  for b in containerd containerd-shim-runc-v2 ctr; do install_bin "$b" "out/$b"; done
}

# NetworkPolicy enforcement (its firewall part only) on the real node.
build_kube_router() {
  local dir; dir=$(wrapper "kube-router-$KUBE_ROUTER_VERSION" local/kube-router-build)
  cd "$dir"
  local mod=github.com/cloudnativelabs/kube-router/v2
  go mod edit -go=1.24 -require="$mod@v$KUBE_ROUTER_VERSION"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/kube-router"\n' "$mod" > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X $mod/pkg/version.Version=v$KUBE_ROUTER_VERSION" -o kube-router "$mod/cmd/kube-router"
  install_bin kube-router kube-router
}

build_registry() {
  local dir; dir=$(wrapper "distribution-$DISTRIBUTION_VERSION" local/registry-build)
  cd "$dir"
  local mod=github.com/distribution/distribution/v3
  go mod edit -go=1.24 -require="$mod@v$DISTRIBUTION_VERSION"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/registry"\n' "$mod" > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X $mod/version.version=v$DISTRIBUTION_VERSION" -o registry "$mod/cmd/registry"
  install_bin registry registry
}

# The project's image tool (images/imgtool): image tarballs from root filesystems, pushes.
build_imgtool() {
  local dir="$cache/build/imgtool"
  rm -rf "$dir"; mkdir -p "$dir"; cp "$repo"/images/imgtool/*.go "$repo"/images/imgtool/go.mod "$dir"/
  cd "$dir"
  go mod edit -require="github.com/google/go-containerregistry@v$GGCR_VERSION"
  go mod tidy >/dev/null
  go build -ldflags "-s -w" -o imgtool .
  install_bin imgtool imgtool
}

build_etcd() {
  local dir; dir=$(wrapper "etcd-$ETCD_VERSION" local/etcd-build)
  cd "$dir"
  go mod edit -go=1.24 -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    go mod edit -require="go.etcd.io/etcd/$m@v$ETCD_VERSION"
  done
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w" -o etcd go.etcd.io/etcd/server/v3
  install_bin etcd etcd
}

build_kwok() {
  local dir; dir=$(wrapper "kwok-$KWOK_VERSION" local/kwok-build)
  cd "$dir"
  go mod edit -go=1.24 -require="sigs.k8s.io/kwok@v$KWOK_VERSION"
  printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" -o kwok sigs.k8s.io/kwok/cmd/kwok
  # KWOK's behaviour (nodes Ready, pods Running and Ready, deletion)
  # comes from the stage files its module ships; recent versions need them passed explicitly.
  local src; src=$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local st="$src/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$st/$f" ] || die "kwok stage file $f is missing from sigs.k8s.io/kwok@v$KWOK_VERSION"
    printf -- '---\n'; cat "$st/$f"
  done > "$cache/bin/kwok-stages-${key[kwok]}.yaml"
  install_bin kwok kwok
}

build_cyclonus() {
  local dir; dir=$(wrapper "cyclonus-$CYCLONUS_VERSION" local/cyclonus-build)
  cd "$dir"
  go mod edit -go=1.24 -require="github.com/mattfenwick/cyclonus@v$CYCLONUS_VERSION"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/mattfenwick/cyclonus/cmd/cyclonus"\n' > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X github.com/mattfenwick/cyclonus/pkg/cli.version=v$CYCLONUS_VERSION" -o cyclonus github.com/mattfenwick/cyclonus/cmd/cyclonus
  install_bin cyclonus cyclonus
}

build_pulumi() {
  local dir; dir=$(wrapper "pulumi-$PULUMI_VERSION" local/pulumi-build)
  cd "$dir"
  go mod edit -go=1.24 -require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
    -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" \
    -replace="github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  install_bin pulumi pulumi
}

build_langhost() {
  local dir="$cache/build/langhost"
  rm -rf "$dir"; mkdir -p "$dir"; cp "$repo"/toolchain/langhost/*.go "$repo"/toolchain/langhost/go.mod "$dir"/
  cd "$dir"
  go mod edit -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  go mod tidy >/dev/null
  go build -ldflags "-s -w -X main.version=$PULUMI_VERSION" -o pulumi-language-nodejs .
  install_bin pulumi-language-nodejs pulumi-language-nodejs
}

build_kubernetes_provider() {
  local dir; dir=$(wrapper "pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION" local/pulumi-resource-kubernetes)
  cd "$dir"
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  go mod edit -go=1.24 -require="$mod@$PULUMI_KUBERNETES_MODULE_VERSION" \
    -replace="github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e"
  local src; src=$(go mod download -json "$mod@$PULUMI_KUBERNETES_MODULE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  # The provider's own main embeds a generated schema that is not part of the module;
  # this main serves the same provider with the schema.json the module does ship.
  cp "$src/cmd/pulumi-resource-kubernetes/schema.json" "$src/cmd/pulumi-resource-kubernetes/terraform-mapping.json" .
  chmod 0644 schema.json terraform-mapping.json
  cp "$repo/toolchain/kubernetes-provider/main.go.txt" main.go
  go mod tidy -e >/dev/null 2>&1 || true
  go build -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" -o pulumi-resource-kubernetes .
  install_bin pulumi-resource-kubernetes pulumi-resource-kubernetes
}

declare -A builder=(
  [pulumi]=build_pulumi [pulumi-language-nodejs]=build_langhost
  [pulumi-resource-kubernetes]=build_kubernetes_provider
  [kube-apiserver]=build_kubernetes [kube-controller-manager]=build_kubernetes
  [kube-scheduler]=build_kubernetes [kubectl]=build_kubernetes [kubelet]=build_kubernetes
  [etcd]=build_etcd [kwok]=build_kwok [cyclonus]=build_cyclonus
  [kube-proxy]=build_kube_proxy [containerd]=build_containerd [containerd-shim-runc-v2]=build_containerd
  [ctr]=build_containerd [kube-router]=build_kube_router [registry]=build_registry [imgtool]=build_imgtool
)

# The real node's images need only the image tool: built first, they then build beside the
# Go builds (the PostgreSQL image is mostly downloads and unpacking).
images_pid=
if [ "$mode" != "--check" ] && [ -z "${TOOLCHAIN_ONLY:-}" ] && ! IMGTOOL=/nonexistent bash "$repo/images/build.sh" --check >/dev/null 2>&1; then
  if ! cached imgtool; then
    ( set -e; timed build_imgtool build_imgtool ) >"$cache/build/build_imgtool.log" 2>&1 ||
      { tail -30 "$cache/build/build_imgtool.log" >&2; die "build_imgtool failed"; }
    tail -1 "$cache/build/build_imgtool.log" >&2
    missing=("${missing[@]/imgtool/}")
  fi
  # Its exit status goes to a file: bash may no longer know a child that ended half an hour
  # before it is waited for ("wait: pid N is not a child of this shell", seen on a cold run).
  images_rc="$cache/build/images.rc"
  rm -f "$images_rc"
  ( IMGTOOL="$cache/bin/imgtool-${key[imgtool]}" bash "$repo/images/build.sh" >"$cache/build/images.log" 2>&1
    echo $? >"$images_rc.tmp" && mv "$images_rc.tmp" "$images_rc" ) &
  images_pid=$!
fi

if [ ${#missing[@]} -gt 0 ]; then
  log "building: ${missing[*]} (cold builds take minutes; logs in $cache/build/*.log)"
  declare -A done_=()
  # Two builds at a time: go parallelises within each, and two links fit in memory.
  pids=(); labels=()
  # kube-proxy last: it reuses what the control plane build compiled (seconds instead of minutes).
  order=()
  for n in "${missing[@]}"; do [ -z "$n" ] || [ "$n" = kube-proxy ] || order+=("$n"); done
  for n in "${missing[@]}"; do [ "$n" != kube-proxy ] || order+=("$n"); done
  for n in "${order[@]}"; do
    b=${builder[$n]}
    [ -n "${done_[$b]:-}" ] && continue
    done_[$b]=1
    if [ "$b" = build_kube_proxy ]; then
      for i in "${!labels[@]}"; do
        [ "${labels[$i]}" = build_kubernetes ] || continue
        wait "${pids[$i]}" || { tail -30 "$cache/build/build_kubernetes.log" >&2; die "build_kubernetes failed (log: $cache/build/build_kubernetes.log)"; }
        tail -1 "$cache/build/build_kubernetes.log" >&2
        unset 'pids[i]' 'labels[i]'; pids=("${pids[@]}"); labels=("${labels[@]}"); break
      done
    fi
    ( set -e; timed "$b" "$b" ) >"$cache/build/$b.log" 2>&1 &
    pids+=($!); labels+=("$b")
    if [ ${#pids[@]} -ge "${TOOLCHAIN_JOBS:-2}" ]; then
      wait "${pids[0]}" || { tail -30 "$cache/build/${labels[0]}.log" >&2; die "${labels[0]} failed (log: $cache/build/${labels[0]}.log)"; }
      tail -1 "$cache/build/${labels[0]}.log" >&2
      pids=("${pids[@]:1}"); labels=("${labels[@]:1}")
    fi
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { tail -30 "$cache/build/${labels[$i]}.log" >&2; die "${labels[$i]} failed (log: $cache/build/${labels[$i]}.log)"; }
    tail -1 "$cache/build/${labels[$i]}.log" >&2
  done
fi

for n in "${!key[@]}"; do
  if [ -n "${TOOLCHAIN_ONLY:-}" ] && [[ " $TOOLCHAIN_ONLY " != *" $n "* ]]; then continue; fi
  cached "$n" || die "$n was not built"
  case "$n" in
    pulumi | pulumi-language-nodejs | pulumi-resource-kubernetes) ;; # placed below
    *) ln -sfn "$cache/bin/$n-${key[$n]}" "$bindir/$n" ;;
  esac
done

# Pulumi treats the Node.js language host and the dynamic-resource provider as "bundled":
# it expects them beside the pulumi binary it runs (symlinks resolved). A folder per
# combination holds hard links of all three, so the engine uses them without a warning.
if cached pulumi && cached pulumi-language-nodejs; then
  dist="$cache/pulumi-dist/${key[pulumi]}-${key[pulumi-language-nodejs]}"
  if [ ! -x "$dist/pulumi-resource-pulumi-nodejs" ]; then
    rm -rf "$dist.tmp"; mkdir -p "$dist.tmp"
    ln "$cache/bin/pulumi-${key[pulumi]}" "$dist.tmp/pulumi"
    ln "$cache/bin/pulumi-language-nodejs-${key[pulumi-language-nodejs]}" "$dist.tmp/pulumi-language-nodejs"
    install -m 0755 "$repo/toolchain/bin/pulumi-resource-pulumi-nodejs" "$dist.tmp/pulumi-resource-pulumi-nodejs"
    rm -rf "$dist"; mv "$dist.tmp" "$dist"
  fi
  for b in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do ln -sfn "$dist/$b" "$bindir/$b"; done
fi

# Resource providers are found in Pulumi's plugin cache ($PULUMI_HOME/plugins, which
# scripts/env.sh sets to .local/pulumi-home) under the version the npm package asks for.
if cached pulumi-resource-kubernetes; then
  plug="$repo/.local/pulumi-home/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION"
  mkdir -p "$plug"
  ln -sfn "$cache/bin/pulumi-resource-kubernetes-${key[pulumi-resource-kubernetes]}" "$plug/pulumi-resource-kubernetes"
  rm -f "$bindir/pulumi-resource-kubernetes"
fi
if [ -z "${TOOLCHAIN_ONLY:-}" ] || [[ " $TOOLCHAIN_ONLY " == *" kwok "* ]]; then
  ln -sfn "$cache/bin/kwok-stages-${key[kwok]}.yaml" "$repo/.local/kwok-stages.yaml"
fi
log "ready: $(ls "$bindir" | tr '\n' ' ')"
# The real node's images (cached by a hash of their inputs; see images/build.sh).
if [ -n "$images_pid" ]; then
  wait "$images_pid" 2>/dev/null || true
  while [ ! -f "$images_rc" ] && kill -0 "$images_pid" 2>/dev/null; do sleep 1; done
  [ "$(cat "$images_rc" 2>/dev/null)" = 0 ] || { tail -30 "$cache/build/images.log" >&2; die "the images failed (log: $cache/build/images.log)"; }
  grep '^\[images\]' "$cache/build/images.log" >&2
fi
if [ -z "${TOOLCHAIN_ONLY:-}" ]; then
  if [ "$mode" = "--check" ]; then bash "$repo/images/build.sh" --check
  else bash "$repo/images/build.sh"; fi
fi
