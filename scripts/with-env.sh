#!/usr/bin/env bash
# Runs a command with scripts/env.sh applied: `bash scripts/with-env.sh pulumi stack ls`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$@"
