#!/usr/bin/env bash
# Runs a command with scripts/env.sh applied: `bash scripts/with-env.sh pulumi stack ls`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# Node.js keeps the compiled code of the modules it loads here (checked against each file's
# content), so every node process of a run (the CLI, the Pulumi program, the dynamic provider)
# starts with the SDK's large module graph already compiled: about half the CPU of loading it.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$AGENT_PLATFORM_REPO/.local/node-compile-cache}"
exec "$@"
