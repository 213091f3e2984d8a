#!/usr/bin/env bash
# `npm test`: type check, generated-file check, unit tests (Pulumi mocks), the Go tests of the
# image tools, then integration tests (the real Pulumi CLI and a real local cluster that the
# integration suite starts and stops itself).
# Any failure fails the run.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash toolchain/build.sh --check >/dev/null 2>&1 || bash toolchain/build.sh || exit 1
rc=0
step() {
  local t0=$SECONDS
  printf '\n==> %s\n' "$1"
  shift
  if "$@"; then printf '==> ok (%d s)\n' $((SECONDS - t0)); else printf '==> FAILED (%d s)\n' $((SECONDS - t0)); rc=1; fi
}
step "type check (tsc --noEmit)" npx --no-install tsc --noEmit -p .
step "generated files match config.ts (npm run gen:config -- --check)" npx --no-install tsx scripts/gen-config.ts --check
step "unit tests" npx --no-install vitest run --project unit
step "Go tests of the image tools (images/tools: go test ./...)" bash -c 'cd images/tools && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local go test ./...'
step "integration tests" bash scripts/with-env.sh npx --no-install vitest run --project integration
exit $rc
