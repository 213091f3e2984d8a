#!/usr/bin/env bash
# Builds the real node's images offline, without a Docker engine, and caches each one by a hash
# of its inputs under $AGENT_PLATFORM_CACHE/images (default ~/.cache/agent-platform/images):
#   pause     the kubelet's sandbox image (images/tools/pause, a static Go binary)
#   tools     the project's programs (images/tools: netcheck, line-echo, engine-standin, ecr-refresh,
#             fake-ecr)
#   executor  tools with line-echo as entry point: the stand-in executor, pushed to the registry
#   engine    tools with engine-standin as entry point: the engine stand-in, pushed to the registry
#   ecr-refresh  tools with ecr-refresh as entry point: the ECR pull-secret refresher's image
#             (pullSecretRefresh.image; the CronJob runs /bin/ecr-refresh, also in tools)
#   postgres  PostgreSQL 15 from Debian's packages (debootstrap), postgres user 999:999
#   node      the postgres image's Debian root plus the project's pinned Node.js binary
#             (node_modules/.bin/node) at /usr/local/bin/node: the executor cleanup's image on the
#             real node (the CronJob runs `node -e`; in production the engine image has node)
# Writes .local/images.env (the tarballs and references) for cluster/cluster.sh and the tests.
#
#   images/build.sh           build what is missing (a warm run builds nothing)
#   images/build.sh --check   exit 1 if anything is missing
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../toolchain/versions.env
source "$repo/toolchain/versions.env"
cache=${AGENT_PLATFORM_CACHE:-$HOME/.cache/agent-platform}
out="$cache/images"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
imgtool=${IMGTOOL:-$repo/.local/bin/imgtool}
mode=${1:-build}
log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$out"

# Bump when the way an image is assembled here changes (its inputs are hashed anyway).
format=1
tools_hash=$( (echo "$format $GGCR_VERSION"; cat "$repo"/images/tools/go.mod "$repo"/images/tools/go.sum "$repo"/images/tools/*/*.go) | sha256sum | cut -c1-12)
pg_hash=$( (echo "$format"; cat "$repo"/images/postgres/*) | sha256sum | cut -c1-12)
node_bin="$repo/node_modules/.bin/node"
node_version=$("$node_bin" --version 2>/dev/null | sed 's/^v//') || true
node_hash=$(echo "$pg_hash $node_version" | sha256sum | cut -c1-12)
# The registry inside the real node's network namespace (cluster/cluster.sh) listens here.
registry=127.0.0.1:5000

declare -A ref=(
  [pause]="agent-platform.local/pause:$tools_hash"
  [tools]="agent-platform.local/tools:$tools_hash"
  [executor]="$registry/agents/executor:t-$tools_hash"
  [engine]="$registry/agents/engine:t-$tools_hash"
  [postgres]="agent-platform.local/postgres:15-$pg_hash"
  [ecr-refresh]="agent-platform.local/ecr-refresh:$tools_hash"
  [node]="agent-platform.local/node:$node_version-$node_hash"
)
declare -A tar=(
  [pause]="$out/pause-$tools_hash.tar" [tools]="$out/tools-$tools_hash.tar"
  [executor]="$out/executor-$tools_hash.tar" [engine]="$out/engine-$tools_hash.tar"
  [postgres]="$out/postgres-$pg_hash.tar"
  [ecr-refresh]="$out/ecr-refresh-$tools_hash.tar"
  [node]="$out/node-$node_hash.tar"
)

if [ "$(id -u)" != 0 ]; then
  # The PostgreSQL image needs debootstrap and chroot, and a real node needs root anyway.
  log "not root: the real node's images are skipped (cluster.sh --real-nodes needs root)"
  exit 0
fi

missing=()
[ -n "$node_version" ] || die "$node_bin does not run: run scripts/setup.sh (npm ci) first"
for i in pause tools executor engine postgres ecr-refresh node; do [ -s "${tar[$i]}" ] || missing+=("$i"); done
if [ "$mode" = --check ]; then
  [ ${#missing[@]} -eq 0 ] || { log "missing: ${missing[*]}"; exit 1; }
fi

# A layer tar that depends only on the files: sorted, fixed times, numeric owners.
layer_tar() { # layer_tar <dir> <out.tar>
  tar --sort=name --mtime=@0 --clamp-mtime --numeric-owner --xattrs --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$1" -cf "$2" .
}

build_tools() {
  [ -x "$imgtool" ] || die "$imgtool is missing: run toolchain/build.sh first"
  local work; work=$(mktemp -d)
  mkdir -p "$work/root/bin" "$work/root/tmp" "$work/root/etc"
  chmod 1777 "$work/root/tmp"
  printf 'root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/root/etc/passwd"
  (cd "$repo/images/tools" && CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false" GOTOOLCHAIN=local \
    go build -ldflags "-s -w -buildid=" -o "$work/root/bin/" ./pause ./netcheck ./line-echo ./engine-standin ./ecr-refresh ./fake-ecr)
  layer_tar "$work/root" "$work/layer.tar"
  "$imgtool" image --ref "${ref[pause]}" --out "${tar[pause]}" --layer "$work/layer.tar" --entrypoint '["/bin/pause"]' --user 65535:65535 >/dev/null
  "$imgtool" image --ref "${ref[tools]}" --out "${tar[tools]}" --layer "$work/layer.tar" --entrypoint '["/bin/netcheck"]' --user 1000:1000 >/dev/null
  "$imgtool" image --ref "${ref[executor]}" --out "${tar[executor]}" --layer "$work/layer.tar" --entrypoint '["/bin/line-echo"]' --user 1000:1000 >/dev/null
  "$imgtool" image --ref "${ref[engine]}" --out "${tar[engine]}" --layer "$work/layer.tar" --entrypoint '["/bin/engine-standin"]' \
    --cmd "[\"--executor-image=${ref[executor]}\"]" --user 1000:1000 >/dev/null
  "$imgtool" image --ref "${ref[ecr-refresh]}" --out "${tar[ecr-refresh]}" --layer "$work/layer.tar" --entrypoint '["/bin/ecr-refresh"]' --user 65534:65534 >/dev/null
  rm -rf "$work"
}

build_postgres() {
  [ "$(id -u)" = 0 ] || die "the postgres image needs root (debootstrap, chroot)"
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap; scripts/setup.sh does)"
  local work; work=$(mktemp -d "$out/postgres-build.XXXXXX")
  bash "$repo/images/postgres/rootfs.sh" "$work/root" "$mirror"
  layer_tar "$work/root" "$work/layer.tar"
  "$imgtool" image --ref "${ref[postgres]}" --out "${tar[postgres]}" --layer "$work/layer.tar" \
    --entrypoint '["/usr/local/bin/postgres-entrypoint"]' --user 999:999 \
    --env PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env PGDATA=/var/lib/postgresql/data --env LANG=C.UTF-8 >/dev/null
  rm -rf "$work"
}

build_node() {
  [ -s "${tar[postgres]}" ] || die "the node image builds on the postgres image, which is missing"
  local work; work=$(mktemp -d)
  install -D -m 0755 "$(readlink -f "$node_bin")" "$work/root/usr/local/bin/node"
  layer_tar "$work/root" "$work/layer.tar"
  "$imgtool" image --ref "${ref[node]}" --out "${tar[node]}" --base "${tar[postgres]}" --layer "$work/layer.tar" \
    --entrypoint '["/usr/local/bin/node"]' --user 1000:1000 --env LANG=C.UTF-8 >/dev/null
  rm -rf "$work"
}

timed() { local t0=$SECONDS; "$@"; log "$1: $((SECONDS - t0)) s"; }
for i in "${missing[@]}"; do
  case "$i" in
    pause | tools | executor | engine | ecr-refresh)
      [ -s "${tar[tools]}" ] && [ -s "${tar[executor]}" ] && [ -s "${tar[engine]}" ] && [ -s "${tar[pause]}" ] && [ -s "${tar[ecr-refresh]}" ] || timed build_tools ;;
    postgres) timed build_postgres ;;
    node) ;;
  esac
done
# The node image goes on top of the postgres image: after it.
for i in "${missing[@]}"; do
  if [ "$i" = node ]; then timed build_node; fi
done

# Builds of the same images from other inputs go once unused for two days (another checkout
# sharing this cache may still use a recent one).
touch "${tar[@]}"
for i in pause tools executor engine postgres ecr-refresh node; do
  find "$out" -maxdepth 1 -name "$i-*.tar" -mtime +2 ! -path "${tar[$i]}" -delete
done

mkdir -p "$repo/.local"
{
  for i in pause tools executor engine postgres ecr-refresh node; do
    u=$(echo "$i" | tr a-z- A-Z_)
    printf 'IMAGE_%s_REF=%s\nIMAGE_%s_TAR=%s\n' "$u" "${ref[$i]}" "$u" "${tar[$i]}"
  done
  printf 'IMAGE_REGISTRY=%s\nIMAGE_TAG=t-%s\n' "$registry" "$tools_hash"
} > "$repo/.local/images.env.tmp"
mv "$repo/.local/images.env.tmp" "$repo/.local/images.env"
log "ready: ${!ref[*]}"
