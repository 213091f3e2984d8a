#!/usr/bin/env bash
# The main job on a fresh machine: install and build what is needed, start the local
# cluster, and deploy the dev stack to it (a second run converges and changes nothing).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/setup.sh
bash cluster/cluster.sh up
source scripts/env.sh
export KUBECONFIG="$repo/.local/cluster/local/kubeconfig"
# `up` refreshes first (the default): after a cluster restart the state still lists objects the
# new cluster lacks, and the refresh makes `up` recreate them instead of trusting the old state.
exec npm run --silent platform -- up --stack dev --create --yes "$@"
