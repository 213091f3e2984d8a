#!/usr/bin/env bash
# `npm run platform -- <command> --stack <name> ...`: the CI command line (automation/), run by
# Node.js from its JavaScript build (scripts/build-cli.sh: built on first use and whenever a
# source changed; a stale build is never run), with scripts/env.sh applied.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
main=$(bash "$here/build-cli.sh")
exec bash "$here/with-env.sh" node "$main" "$@"
