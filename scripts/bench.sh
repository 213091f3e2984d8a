#!/usr/bin/env bash
# Wall times of the platform's lifecycle on the local cluster, and, in the same run, the
# baseline a generate-only installer gives: `kubectl apply -f` of the same rendered manifests
# plus `kubectl rollout status`, into a fresh namespace. Prints each time and the ratio.
# Uses a throwaway stack on a temporary backend; removes everything it made.
#
#   bash scripts/bench.sh            (needs `npm run cluster:up` first)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source scripts/env.sh
export KUBECONFIG="$repo/.local/cluster/local/kubeconfig"
bash cluster/cluster.sh status >/dev/null || { echo "bench: start the local cluster first (npm run cluster:up)" >&2; exit 1; }

id=$(date +%s)
stack="bench-$id"
tmp=$(mktemp -d)
export PULUMI_BACKEND_URL="file://$tmp/state" PULUMI_CONFIG_PASSPHRASE="bench-$id"
unset PULUMI_CONFIG_PASSPHRASE_FILE
mkdir -p "$tmp/state"
sed '/^encryptionsalt:/d' Pulumi.dev.yaml > "Pulumi.$stack.yaml"
kubectl_() { .local/bin/kubectl "$@"; }
cleanup() {
  npm run --silent platform -- destroy --stack "$stack" --yes --remove-protected >/dev/null 2>&1 || true
  bash scripts/with-env.sh pulumi stack rm "$stack" --yes --force >/dev/null 2>&1 || true
  kubectl_ delete namespace "bench-kubectl-$id" "bench-pulumi-$id" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp" "Pulumi.$stack.yaml"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
platform() { npm run --silent platform -- "$@" --stack "$stack" >"$tmp/last.log" 2>&1 || { tail -20 "$tmp/last.log" >&2; return 1; }; }

# Baseline: the generate-only path (render once, apply, wait for the rollouts).
platform render --create --config "namespace=bench-kubectl-$id" --out "$tmp/manifests"
t0=$(now)
# Namespaces first, as any apply pipeline orders them.
kubectl_ apply $(printf -- '-f %s ' "$tmp"/manifests/1-manifest/v1-namespace-*.yaml) >/dev/null
kubectl_ apply -f "$tmp/manifests/1-manifest" >/dev/null
for d in $(kubectl_ get deployments -n "bench-kubectl-$id" -o name); do
  kubectl_ rollout status -n "bench-kubectl-$id" "$d" --timeout=120s >/dev/null
done
t_kubectl=$(secs "$t0" "$(now)")

t0=$(now); platform up --config "namespace=bench-pulumi-$id" --yes; t_up=$(secs "$t0" "$(now)")
t0=$(now); platform up --yes; t_noop=$(secs "$t0" "$(now)")
t0=$(now); platform drift; t_drift=$(secs "$t0" "$(now)")
t0=$(now); platform destroy --yes --remove-protected; t_destroy=$(secs "$t0" "$(now)")

cat <<EOF
kubectl apply + rollout status (baseline): ${t_kubectl} s
pulumi up, fresh:                          ${t_up} s   ($(awk -v a="$t_up" -v b="$t_kubectl" 'BEGIN { printf "%.1f", a / b }')x the baseline)
pulumi up, no changes:                     ${t_noop} s   ($(awk -v a="$t_noop" -v b="$t_kubectl" 'BEGIN { printf "%.1f", a / b }')x)
drift (refresh preview + preview):         ${t_drift} s   ($(awk -v a="$t_drift" -v b="$t_kubectl" 'BEGIN { printf "%.1f", a / b }')x)
destroy --remove-protected:                ${t_destroy} s   ($(awk -v a="$t_destroy" -v b="$t_kubectl" 'BEGIN { printf "%.1f", a / b }')x)
EOF
