#!/usr/bin/env bash
# Lifecycle speed of this program next to the tools a user would use instead, measured in ONE run
# on the same local cluster with the same objects:
#   - kubectl: `kubectl apply` of the rendered manifests + `kubectl rollout status` (and `kubectl diff`);
#   - Helm:    `helm upgrade --install --wait` of a chart made from the same rendered manifests;
#   - this program: `npm run platform -- up | preview | drift`.
# The manifests come from `npm run platform -- render`, which leaves Secrets out: kubectl and Helm
# get the same Secrets (same names, types and keys) with random test values generated here, so
# every tool creates the same objects. Each figure is measured several times (minimum and median),
# and each ratio is to a baseline measured in this same run.
#
#   bash scripts/bench.sh [--reps N] [--parallel-reps N] [--stacks N]
#   bash scripts/bench.sh --trace [--reps N]
#       where a no-op `up` goes instead: the CLI's `up` next to a bare `pulumi up` of the same stack
#       and Pulumi's floor (`pulumi up`/`preview` of a one-ConfigMap JavaScript program), N times
#       each, then one `pulumi up` with Pulumi's OpenTelemetry trace (--otel-traces) and CPU
#       profiles of its Node.js processes, summarised by scripts/trace-summary.ts (files kept in
#       .local/trace).
#
# Needs the toolchain (bash scripts/setup.sh); builds Helm on first use (toolchain/build.sh helm,
# benchmark only). Starts its own cluster (`--name bench`, simulated nodes only), a temporary
# Pulumi backend, and removes both at the end. Not part of `npm test`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

reps=5 parallel_reps=2 stacks=8 trace=
while [ $# -gt 0 ]; do
  case "$1" in
    --trace) trace=1; shift ;;
    --reps) reps=$2; shift 2 ;;
    --parallel-reps) parallel_reps=$2; shift 2 ;;
    --stacks) stacks=$2; shift 2 ;;
    *) echo "bench: unknown option $1 (see the header of scripts/bench.sh)" >&2; exit 2 ;;
  esac
done
cluster=${BENCH_CLUSTER_NAME:-bench}
log() { printf '[bench] %s\n' "$*" >&2; }

bash toolchain/build.sh --check >/dev/null 2>&1 || { echo "bench: the toolchain is missing: run bash scripts/setup.sh first" >&2; exit 1; }
[ -n "$trace" ] || bash toolchain/build.sh helm
bash scripts/build-cli.sh >/dev/null

tmp=$(mktemp -d /tmp/agent-platform-bench.XXXXXX)
id=$(date +%s)
export KUBECONFIG="$repo/.local/cluster/$cluster/kubeconfig"
export PULUMI_BACKEND_URL="file://$tmp/state" PULUMI_CONFIG_PASSPHRASE="bench-$id"
unset PULUMI_CONFIG_PASSPHRASE_FILE
export HELM_CACHE_HOME="$tmp/helm/cache" HELM_CONFIG_HOME="$tmp/helm/config" HELM_DATA_HOME="$tmp/helm/data"
mkdir -p "$tmp/state" "$tmp/times"
kubectl_() { .local/bin/kubectl "$@"; }
helm_() { .local/bin/helm "$@"; }

stack_files=()
started_cluster=
cleanup() {
  set +e
  rm -f "${stack_files[@]}"
  if [ -n "$started_cluster" ] && [ -z "${BENCH_KEEP_CLUSTER:-}" ]; then bash cluster/cluster.sh down --name "$cluster" >/dev/null 2>&1; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if bash cluster/cluster.sh status --name "$cluster" >/dev/null 2>&1; then
  log "using the running cluster $cluster"
else
  log "starting cluster $cluster"
  started_cluster=1
  bash cluster/cluster.sh up --name "$cluster" >/dev/null
fi

# new_stack <stack> <namespace>: a throwaway stack with the dev stack's settings in <namespace>.
new_stack() {
  local f="Pulumi.$1.yaml"
  stack_files+=("$f")
  { sed '/^encryptionsalt:/d' Pulumi.dev.yaml; printf '  agent-platform:namespace: %s\n' "$2"; } > "$f"
}
# platform <args...>: the CLI as the README runs it; output kept for the failure report.
platform() {
  local out="$tmp/platform-$BASHPID.log"
  npm run --silent platform -- "$@" >"$out" 2>&1 && return 0
  local rc=$?
  # preview and drift exit 2 when they find changes: a no-op must find none.
  echo "bench: npm run platform -- $* failed (exit $rc):" >&2; tail -30 "$out" >&2; return 1
}

# record <figure> <seconds>; timed <figure> <cmd...>
record() { printf '%s\n' "$2" >> "$tmp/times/$1"; }
timed() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  "$@"
  record "$name" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
}

# --- The objects: rendered once, copied per namespace ---------------------------------------
render_ns=benchrenderns
new_stack "br-$id" "$render_ns"
log "rendering the manifests (npm run platform -- render)"
npm run --silent platform -- render --stack "br-$id" --create --out "$tmp/render" --json >"$tmp/render.json" 2>"$tmp/render.log" ||
  { echo "bench: render failed:" >&2; tail -30 "$tmp/render.log" >&2; exit 1; }
# Secrets: render leaves them out; give kubectl and Helm the same ones with test values.
mkdir -p "$tmp/secrets"
node -e '
  const fs = require("fs"), crypto = require("crypto");
  const doc = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  for (const s of doc.render.omittedSecrets) {
    const data = {};
    for (const k of s.keys) {
      const v = s.type === "kubernetes.io/dockerconfigjson" ? JSON.stringify({ auths: {} }) : crypto.randomBytes(24).toString("hex");
      data[k] = Buffer.from(v).toString("base64");
    }
    const obj = { apiVersion: "v1", kind: "Secret", type: s.type, metadata: { name: s.name, namespace: s.namespace }, data };
    fs.writeFileSync(`${process.argv[2]}/v1-secret-${s.namespace}-${s.name}.yaml`, JSON.stringify(obj, null, 2) + "\n");
  }' "$tmp/render.json" "$tmp/secrets"
manifest_dirs=$(find "$tmp/render" -mindepth 1 -maxdepth 1 -type d | sort)
n_objects=$(cat $(find $manifest_dirs "$tmp/secrets" -name '*.yaml') | grep -c '^kind:\|"kind":')
log "objects per deployment: $n_objects ($(ls "$tmp/secrets" | wc -l) of them Secrets with generated test values)"
if grep -rq '{{' $manifest_dirs "$tmp/secrets"; then
  echo "bench: a rendered manifest contains '{{', which Helm would read as a template" >&2; exit 1
fi

# copy_to <namespace> <dir>: every manifest with the render namespace replaced (the executor
# namespace and the cluster-scoped policy names derive from it, so copies never collide).
copy_to() {
  mkdir -p "$2"
  local f
  for f in $(find $manifest_dirs "$tmp/secrets" -name '*.yaml'); do
    sed "s/$render_ns/$1/g" "$f" > "$2/$(basename "$f" | sed "s/$render_ns/$1/g")"
  done
}
# A chart whose templates are the rendered manifests.
chart_for() {
  mkdir -p "$2"
  printf 'apiVersion: v2\nname: agent-platform-bench\nversion: 0.1.0\ndescription: the manifests of `npm run platform -- render`\n' > "$2/Chart.yaml"
  copy_to "$1" "$2/templates"
}

# --- kubectl -------------------------------------------------------------------------------
quiet() { "$@" >"$tmp/quiet.log" 2>&1 || { cat "$tmp/quiet.log" >&2; return 1; }; }
kubectl_apply() { # kubectl_apply <dir> <namespace>: namespaces first, everything, then the rollouts
  quiet kubectl_ apply $(printf -- '-f %s ' "$1"/v1-namespace-*.yaml)
  quiet kubectl_ apply -f "$1"
  local d
  for d in $(kubectl_ get deployments -n "$2" -o name); do
    kubectl_ rollout status -n "$2" "$d" --timeout=180s >/dev/null
  done
}
kubectl_diff() { # exit 1 means differences: a no-op must have none
  kubectl_ diff -f "$1" >/dev/null
}

# --- Helm ----------------------------------------------------------------------------------
# The release record lives in `default`. The chart holds the sandbox namespace's `default`
# ServiceAccount (the program patches it), which the cluster creates with the namespace: as with
# kubectl, the namespaces are applied first, and Helm takes them and that account over
# (--take-ownership) once the account exists. All of it is timed.
helm_up() { # helm_up <release> <chart>
  local nsf ns
  for nsf in "$2"/templates/v1-namespace-*.yaml; do quiet kubectl_ apply -f "$nsf"; done
  for ns in $(sed -n 's/^  name: //p' "$2"/templates/v1-namespace-*.yaml); do
    until kubectl_ get serviceaccount default -n "$ns" >/dev/null 2>&1; do sleep 0.05; done
  done
  quiet helm_ upgrade --install "$1" "$2" --namespace default --wait --timeout 180s --take-ownership
}

# --- this program --------------------------------------------------------------------------
up_fresh() { platform up --stack "$1" --create --yes; }
up_noop() { platform up --stack "$1" --yes; }
preview_noop() { platform preview --stack "$1"; }
drift_noop() { platform drift --stack "$1"; }

delete_namespaces() { kubectl_ delete namespace "$@" --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1 || true; }

# Warm-up (not timed): the first run after a change compiles the program and the CLI; the Node.js
# compile cache fills. A user's CI pays this once per change of the program.
log "warm-up"
new_stack "bw-$id" "bw-$id"
platform up --stack "bw-$id" --create --yes
platform preview --stack "bw-$id"

if [ -n "$trace" ]; then
  out="$repo/.local/trace"
  rm -rf "$out"; mkdir -p "$out/cpu"
  # The CLI's no-op `up` and a bare `pulumi up` of the same stack (Pulumi.yaml refreshes both).
  bare_up() { bash scripts/with-env.sh pulumi up --stack "bw-$id" --yes --skip-preview >"$tmp/bare.log" 2>&1 || { tail -30 "$tmp/bare.log" >&2; return 1; }; }
  for i in $(seq 1 "$reps"); do
    timed platform_noop up_noop "bw-$id"
    timed pulumi_noop bare_up
  done
  # Pulumi's own floor on this machine: a one-ConfigMap JavaScript program (no TypeScript, no
  # pre-flight, no dynamic provider), refreshed like ours.
  floor="$tmp/floor"
  mkdir -p "$floor"
  ln -s "$repo/node_modules" "$floor/node_modules"
  printf 'name: bench-floor\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n' > "$floor/Pulumi.yaml"
  printf 'const k8s = require("@pulumi/kubernetes");\nnew k8s.core.v1.ConfigMap("floor", { metadata: { name: "bench-floor-%s", namespace: "default" }, data: { a: "b" } });\n' "$id" > "$floor/index.js"
  floor_() { (cd "$floor" && bash "$repo/scripts/with-env.sh" pulumi "$@" --stack floor --non-interactive >"$tmp/floor.log" 2>&1) || { tail -30 "$tmp/floor.log" >&2; return 1; }; }
  floor_ stack init
  floor_ up --yes --skip-preview
  for i in $(seq 1 "$reps"); do
    timed floor_up_noop floor_ up --yes --skip-preview --refresh
    timed floor_preview floor_ preview --refresh
  done
  floor_ destroy --yes
  log "one traced bare pulumi up (files in $out)"
  NODE_OPTIONS="--cpu-prof --cpu-prof-dir=$out/cpu" bash scripts/with-env.sh pulumi up --stack "bw-$id" --yes --skip-preview \
    --otel-traces "file://$out/up-noop.json" >"$out/up-noop.log" 2>&1 || { tail -30 "$out/up-noop.log" >&2; exit 1; }
  printf '\nBenchmark --trace %s, %s cores, load average %s; medians of %s (min):\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$reps"
  for f in platform_noop pulumi_noop floor_up_noop floor_preview; do
    printf '  %-14s %s s (min %s s)\n' "$f" "$(sort -n "$tmp/times/$f" | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" "$(sort -n "$tmp/times/$f" | head -1)"
  done
  node_modules/.bin/tsx scripts/trace-summary.ts "$out/up-noop.json" "$out/cpu"
  delete_namespaces "bw-$id" "bw-$id-sandbox"
  exit 0
fi
delete_namespaces "bw-$id" "bw-$id-sandbox"

for i in $(seq 1 "$reps"); do
  log "repetition $i of $reps"
  ns_k=bk$i-$id ns_h=bh$i-$id ns_p=bp$i-$id
  copy_to "$ns_k" "$tmp/k$i"
  chart_for "$ns_h" "$tmp/chart$i"
  new_stack "bp$i-$id" "$ns_p"

  timed kubectl_fresh kubectl_apply "$tmp/k$i" "$ns_k"
  timed kubectl_noop kubectl_apply "$tmp/k$i" "$ns_k"
  timed kubectl_diff kubectl_diff "$tmp/k$i"
  timed helm_fresh helm_up "bh$i" "$tmp/chart$i"
  timed helm_noop helm_up "bh$i" "$tmp/chart$i"
  timed platform_fresh up_fresh "bp$i-$id"
  timed platform_noop up_noop "bp$i-$id"
  timed platform_preview preview_noop "bp$i-$id"
  timed platform_drift drift_noop "bp$i-$id"

  timed cli_help_npm npm run --silent platform -- --help >/dev/null
  timed cli_help_direct bash scripts/platform.sh --help >/dev/null
  timed helm_help helm_ --help >/dev/null
  timed kubectl_help kubectl_ --help >/dev/null

  helm_ uninstall "bh$i" --namespace default >/dev/null 2>&1 || true
  delete_namespaces "$ns_k" "$ns_k-sandbox" "$ns_h" "$ns_h-sandbox" "$ns_p" "$ns_p-sandbox"
done

# Several stacks at once on one cluster (CI pipelines of several environments), against one.
for r in $(seq 1 "$parallel_reps"); do
  log "$stacks stacks and $stacks Helm releases deployed at once, repetition $r of $parallel_reps"
  pids=() nss=()
  for s in $(seq 1 "$stacks"); do
    new_stack "bq$r-$s-$id" "bq$r-$s-$id"
    nss+=("bq$r-$s-$id" "bq$r-$s-$id-sandbox")
    chart_for "bhq$r-$s-$id" "$tmp/qchart$r-$s"
    nss+=("bhq$r-$s-$id" "bhq$r-$s-$id-sandbox")
  done
  t0=$EPOCHREALTIME
  for s in $(seq 1 "$stacks"); do up_fresh "bq$r-$s-$id" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  record platform_parallel "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
  pids=()
  t0=$EPOCHREALTIME
  for s in $(seq 1 "$stacks"); do helm_up "bhq$r-$s" "$tmp/qchart$r-$s" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  record helm_parallel "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
  for s in $(seq 1 "$stacks"); do helm_ uninstall "bhq$r-$s" --namespace default >/dev/null 2>&1 || true; done
  delete_namespaces "${nss[@]}"
done

# --- Report --------------------------------------------------------------------------------
stat() { # stat <figure> <min|median>
  sort -n "$tmp/times/$1" | awk -v what="$2" '{ v[NR] = $1 } END {
    if (what == "min") { printf "%.2f", v[1]; exit }
    if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
row() { # row <label> <figure> [<baseline figure> <baseline label>] [goal]
  local label=$1 f=$2 base=${3:-} bl=${4:-} goal=${5:-}
  local mn md; mn=$(stat "$f" min); md=$(stat "$f" median)
  local r=""
  if [ -n "$base" ]; then r="$(ratio "$md" "$(stat "$base" median)") $bl (min $(ratio "$mn" "$(stat "$base" min)"))"; fi
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$mn" "$md" "$r" "$goal"
}
n=$(wc -l < "$tmp/times/platform_fresh")
cat <<EOF

Benchmark $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); cluster $cluster (simulated nodes);
$n_objects objects per deployment; $n repetitions ($parallel_reps for $stacks at once). Seconds: minimum, median; ratio of medians (of minimums).

| operation | min s | median s | ratio | goal |
|---|---|---|---|---|
$(row "kubectl apply + rollout status, fresh" kubectl_fresh)
$(row "helm upgrade --install --wait, fresh" helm_fresh)
$(row "**up, fresh, to all Ready**" platform_fresh helm_fresh "of Helm" "≤ 2x Helm")
$(row "kubectl apply + rollout status, no-op" kubectl_noop)
$(row "helm upgrade --install --wait, no-op" helm_noop)
$(row "**up, no-op**" platform_noop helm_noop "of Helm" "≤ 2.5 s and ≤ 3x Helm")
$(row "kubectl diff, no changes" kubectl_diff)
$(row "**preview, no-op**" platform_preview kubectl_diff "of kubectl diff" "≤ 2 s")
$(row "**drift, none**" platform_drift kubectl_diff "of kubectl diff" "≤ 3 s")
$(row "helm --help" helm_help)
$(row "kubectl --help" kubectl_help)
$(row "**CLI start: npm run platform -- --help**" cli_help_npm helm_help "of helm --help" "≤ 0.3 s")
$(row "**CLI start: bash scripts/platform.sh --help** (the entry npm runs)" cli_help_direct helm_help "of helm --help" "≤ 0.3 s")
$(row "helm: $stacks releases at once" helm_parallel helm_fresh "of one")
$(row "**up: $stacks stacks at once**" platform_parallel platform_fresh "of one stack" "≤ 3x one stack")
EOF
