#!/usr/bin/env bash
# Everything a fresh machine needs before `npm test` or a deploy: npm packages (with the
# project's pinned Node.js 22), then the toolchain (built once, cached by version).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '[setup] %s\n' "$*" >&2; }

for tool in npm openssl curl ss git; do
  command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ -n "${missing:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages for:$missing"
    apt-get update -qq && apt-get install -y -qq openssl curl iproute2 git npm >/dev/null
  else
    echo "[setup] error: missing$missing; install them (Debian: apt-get install openssl curl iproute2 git npm)" >&2
    exit 1
  fi
fi
# The real node (cluster.sh --real-nodes 1, docs/real-node.md) runs Debian's runc and CNI plugins,
# iptables/ipset for Services and NetworkPolicy, socat for its API bridge, and debootstrap for the
# PostgreSQL image. Installed as root when missing; elsewhere the real node is skipped.
realnode_pkgs="runc containernetworking-plugins iptables ipset socat debootstrap"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  want_pkgs=$(for p in $realnode_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || printf '%s ' "$p"; done)
  if [ -n "$want_pkgs" ]; then
    log "installing Debian packages for the real node: $want_pkgs"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $want_pkgs >/dev/null
  fi
fi
# The toolchain's modules need Go 1.26 (kwok's go.mod says so); Debian's golang package is older.
gover=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || true
if [ -z "$gover" ] || [ "$(printf '%s\n1.26\n' "$gover" | sort -V | head -1)" != "1.26" ]; then
  echo "[setup] error: Go 1.26 or newer is needed to build the toolchain (found: ${gover:-none}); install it from https://go.dev/dl or your distribution's backports" >&2
  exit 1
fi

# Keep this machine's encryption salt out of git (see .gitattributes).
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$repo" config filter.pulumi-local-salt.clean "sed '/^encryptionsalt:/d'"
  git -C "$repo" config filter.pulumi-local-salt.smudge cat
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.agent-platform-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x node_modules/.bin/node ]; then
  log "npm ci"
  # Package install scripts would try to download Pulumi plugins: skip them, then run the
  # one we need (the `node` package links its Node.js 22 binary into node_modules/.bin).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  npm rebuild node --loglevel=error
  echo "$want" > "$stamp"
fi
node_modules/.bin/node --version >/dev/null
# The command line's JavaScript build (`npm run platform` rebuilds it itself when a source changed).
bash scripts/build-cli.sh >/dev/null
bash toolchain/build.sh
