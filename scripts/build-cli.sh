#!/usr/bin/env bash
# Builds the command line (automation/*.ts and what it imports) to JavaScript in
# .local/cli/<hash>/, where <hash> covers every file it may be compiled from (the TypeScript under
# automation/ and components/, config.ts, the tsconfig files, package-lock.json). A build is
# therefore never stale: a changed source means another folder, built on the next run.
# Type checking is not done here; it is `npm test`'s (tsc --noEmit).
#
#   bash scripts/build-cli.sh          build if needed; print the entry point (cli.js) to run
# Used by scripts/platform.sh (`npm run platform`) on every run, and by scripts/setup.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
hash=$({ find automation components -name '*.ts' -type f; printf '%s\n' config.ts tsconfig.json tsconfig.cli.json package-lock.json; } |
  LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
root="$repo/.local/cli"
out="$root/$hash"
main="$out/automation/cli.js"
if [ ! -f "$out/.complete" ]; then
  mkdir -p "$root"
  # One build at a time (stacks deployed in parallel start several CLIs at once).
  exec 9>"$root/.lock"
  flock 9
  if [ ! -f "$out/.complete" ]; then
    rm -rf "$out.tmp"
    node_modules/.bin/tsc -p tsconfig.cli.json --outDir "$out.tmp" >&2 ||
      { echo "[platform] error: could not compile automation/ (tsc -p tsconfig.cli.json); fix the error above" >&2; exit 1; }
    [ -f "$out.tmp/automation/cli.js" ] || { echo "[platform] error: the build has no automation/cli.js" >&2; exit 1; }
    touch "$out.tmp/.complete"
    rm -rf "$out"
    mv "$out.tmp" "$out"
    # Earlier builds are of sources that no longer exist.
    find "$root" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} +
  fi
fi
printf '%s\n' "$main"
