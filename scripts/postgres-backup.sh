#!/usr/bin/env bash
# The backup and restore procedure of the in-cluster PostgreSQL (docs/backup-restore.md), as one
# script that operators run and test/integration/realnode-backup.test.ts runs unchanged. It needs
# only kubectl and the stack's backup CronJob (postgresBackupSchedule): every Job it starts is made
# from that CronJob (`kubectl create job --from`), so it runs with the CronJob's image, hardened pod
# template, claim, credentials (secretKeyRef) and labels, which postgres's NetworkPolicy admits.
#
#   scripts/postgres-backup.sh [-n NAMESPACE] [-i INSTANCE] backup          a dump now, as the schedule takes it
#   scripts/postgres-backup.sh [-n NAMESPACE] [-i INSTANCE] list            the dumps on the backup claim
#   scripts/postgres-backup.sh [-n NAMESPACE] [-i INSTANCE] restore FILE    restore FILE (a name from list, or `latest`)
#
# NAMESPACE and INSTANCE default to ai-2501 (the config's defaults). kubectl uses $KUBECONFIG and
# its current context (or --context through $KUBECTL_ARGS, e.g. KUBECTL_ARGS="--context prod").
#
# restore: scales the engine and the command center to 0 (no writes while the data is replaced),
# runs pg_restore --clean --if-exists --single-transaction against the postgres Service (a failed
# restore changes nothing), then scales them back to the replica counts they had, also when the
# restore failed. An autoscaler leaves a Deployment at 0 replicas alone and resumes after.
set -euo pipefail
namespace=ai-2501
instance=ai-2501
timeout=${POSTGRES_BACKUP_TIMEOUT:-3600}
while getopts "n:i:" o; do
  case "$o" in
    n) namespace=$OPTARG ;;
    i) instance=$OPTARG ;;
    *) exit 64 ;;
  esac
done
shift $((OPTIND - 1))
command=${1:-}
log() { printf '[postgres-backup] %s\n' "$*" >&2; }
die() { printf '[postgres-backup] error: %s\n' "$*" >&2; exit 1; }
# shellcheck disable=SC2086 # KUBECTL_ARGS is a list of flags
k() { kubectl ${KUBECTL_ARGS:-} -n "$namespace" "$@"; }

cronjob=$instance-postgres-backup
id=$(date -u +%Y%m%d%H%M%S)

# run_job <name> <patch>: a Job from the CronJob with a JSON patch applied; waits for it, prints its log.
run_job() {
  local name=$1 patch=$2 state=""
  k get cronjob "$cronjob" >/dev/null 2>&1 || die "CronJob $namespace/$cronjob not found: set postgresBackupSchedule in the stack (and -n/-i to its namespace and instanceName)"
  k create job "$name" --from="cronjob/$cronjob" --dry-run=client -o json |
    kubectl patch --local -f - --type=json -p "$patch" -o json |
    k create -f - >/dev/null
  log "job $namespace/$name started"
  local t0=$SECONDS
  while :; do
    state=$(k get job "$name" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    case " $state " in
      *" Complete "*) break ;;
      *" Failed "*) k logs "job/$name" --all-containers >&2 || true; die "job $namespace/$name failed" ;;
    esac
    [ $((SECONDS - t0)) -lt "$timeout" ] || die "job $namespace/$name did not finish within $timeout s"
    sleep 2
  done
  k logs "job/$name" --all-containers
}

case "$command" in
  backup)
    # The CronJob's own command: exactly what a scheduled run does.
    run_job "$instance-pg-backup-$id" '[]'
    ;;
  list)
    run_job "$instance-pg-list-$id" '[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","cd /backup && ls -l -- *.dump 2>/dev/null || echo no dumps in /backup"]}]'
    ;;
  restore)
    file=${2:-}
    [[ "$file" =~ ^(latest|[A-Za-z0-9._-]+\.dump)$ ]] || die "restore needs a dump's file name (from \`list\`) or latest"
    engine=$instance-engine
    commandCenter=$instance-command-center
    replicas() { k get deployment "$1" -o jsonpath='{.spec.replicas}'; }
    engineReplicas=$(replicas "$engine") || die "Deployment $namespace/$engine not found"
    ccReplicas=$(replicas "$commandCenter") || die "Deployment $namespace/$commandCenter not found"
    scale_back() {
      log "scaling $engine back to ${engineReplicas:-1} and $commandCenter to ${ccReplicas:-1}"
      k scale deployment "$engine" --replicas="${engineReplicas:-1}" >/dev/null
      k scale deployment "$commandCenter" --replicas="${ccReplicas:-1}" >/dev/null
    }
    trap scale_back EXIT
    log "scaling $engine and $commandCenter to 0: nothing writes while the data is replaced"
    k scale "deployment/$engine" "deployment/$commandCenter" --replicas=0 >/dev/null
    t0=$SECONDS
    while [ -n "$(k get pods -o name -l "app.kubernetes.io/instance=$instance,app.kubernetes.io/name in (agent-engine,command-center)")" ]; do
      [ $((SECONDS - t0)) -lt 600 ] || die "the engine and command center pods did not stop within 600 s"
      sleep 2
    done
    # The file name goes in as an environment value (checked above: letters, digits, '.', '_',
    # '-'), never into the command itself. It first waits for postgres to answer, as the backup
    # does (components/builders/postgresBackup.ts, WAIT_FOR_POSTGRES). One transaction: a restore that fails leaves the
    # database as it was. No retries.
    restore='set -eu; i=0; until pg_isready -q -t 2; do i=$((i + 1)); [ $i -lt 30 ] || { echo postgres at $PGHOST did not answer within 60 s >&2; exit 1; }; sleep 2; done; if [ $RESTORE_FILE = latest ]; then f=$(ls -1t /backup/*.dump | head -n 1); else f=/backup/$RESTORE_FILE; fi; test -s "$f" || { echo no dump $RESTORE_FILE in /backup >&2; exit 1; }; echo restoring $f into $PGDATABASE on $PGHOST; pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --dbname=$PGDATABASE $f; echo restored $f'
    restore=${restore//\"/\\\"}
    patch='[{"op":"replace","path":"/spec/backoffLimit","value":0},{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","'"$restore"'"]},{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"RESTORE_FILE","value":"'"$file"'"}}]'
    run_job "$instance-pg-restore-$id" "$patch"
    ;;
  *)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 64
    ;;
esac
