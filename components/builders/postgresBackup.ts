// Scheduled logical backups of the in-cluster PostgreSQL: a CronJob running `pg_dump` (custom
// format) from the postgres image over the network into a PVC of its own, keeping
// `retentionDays` days of dumps. The restore path is documented in docs/program.md.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";
import { selectorLabels, standardLabels } from "./labels";
import { POSTGRES_DB, POSTGRES_UID, POSTGRES_USER, postgresServiceName } from "./postgres";
import { hardenedCronJobArgs } from "./cronJob";
import { envFromSecret } from "./workload";

import type { PostgresBackup as PostgresBackupSettings } from "./production";

export type { PostgresBackupSettings };

export const backupName = (instance: string) => `${instance}-postgres-backup`;
export const BACKUP_MOUNT = "/backup";

const labels = (instance: string) => standardLabels("postgres-backup", "postgres-backup", instance);
/** The labels that pick the backup job's pods (and restore Jobs made from its CronJob): postgres's NetworkPolicy admits them. */
export const backupSelector = (instance: string) => selectorLabels("postgres-backup", "postgres-backup", instance);

/**
 * Dump to a temporary name and rename, so a half-written dump never looks complete; then drop
 * dumps older than the retention and partial files left by a killed run.
 */
/**
 * Waits until postgres answers before the job's work. A NetworkPolicy controller admits a new
 * pod's address a moment after the pod starts (kube-router on the real node: the first attempt
 * of a fresh Job's pod was refused, the next one two seconds later went through), so the first
 * connection of a short-lived pod must not be its only one. Up to 30 tries, 2 s apart.
 */
export const WAIT_FOR_POSTGRES =
  'i=0; until pg_isready -q -t 2; do i=$((i + 1)); [ "$i" -lt 30 ] || { echo "postgres at $PGHOST did not answer within 60 s" >&2; exit 1; }; sleep 2; done';

export const BACKUP_SCRIPT = [
  "set -eu",
  WAIT_FOR_POSTGRES,
  `f="${BACKUP_MOUNT}/$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"`,
  'pg_dump --format=custom --no-owner --file="$f.partial"',
  'mv "$f.partial" "$f"',
  'echo "backup written: $f ($(wc -c < "$f") bytes)"',
  `find ${BACKUP_MOUNT} -maxdepth 1 -type f -name '*.dump' -mtime +"$RETENTION_DAYS" -print -delete`,
  `find ${BACKUP_MOUNT} -maxdepth 1 -type f -name '*.partial' -mmin +60 -print -delete`,
].join("\n");

export function backupPvcArgs(instance: string, namespace: pulumi.Input<string>, s: PostgresBackupSettings, storageClass?: string): k8s.core.v1.PersistentVolumeClaimArgs {
  return {
    metadata: { name: backupName(instance), namespace, labels: labels(instance) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: s.storageSize } },
      ...(storageClass ? { storageClassName: storageClass } : {}),
    },
  };
}

export function backupCronJobArgs(a: {
  instance: string;
  namespace: pulumi.Input<string>;
  settings: PostgresBackupSettings;
  image: string;
  /** The postgres Secret (key POSTGRES_PASSWORD). */
  secretName: pulumi.Input<string>;
  claimName: pulumi.Input<string>;
  resources: ResourceSpec;
  imagePullSecretName?: string;
}): k8s.batch.v1.CronJobArgs {
  return hardenedCronJobArgs({
    name: backupName(a.instance),
    namespace: a.namespace,
    labels: labels(a.instance),
    schedule: a.settings.schedule,
    startingDeadlineSeconds: 600,
    successfulJobsHistoryLimit: 3,
    backoffLimit: 2,
    activeDeadlineSeconds: 6 * 3600,
    uid: POSTGRES_UID,
    imagePullSecretName: a.imagePullSecretName,
    container: {
      name: "pg-dump",
      image: a.image,
      command: ["sh", "-c", BACKUP_SCRIPT],
      env: [
        { name: "PGHOST", value: postgresServiceName(a.instance) },
        { name: "PGDATABASE", value: POSTGRES_DB },
        { name: "PGUSER", value: POSTGRES_USER },
        { name: "RETENTION_DAYS", value: String(a.settings.retentionDays) },
        ...envFromSecret(a.secretName, ["POSTGRES_PASSWORD"]).map((e) => ({ ...e, name: "PGPASSWORD" })),
      ],
      resources: { requests: { ...a.resources.requests }, limits: { ...a.resources.limits } },
      volumeMounts: [
        { name: "backup", mountPath: BACKUP_MOUNT },
        { name: "tmp", mountPath: "/tmp" },
      ],
    },
    volumes: [
      { name: "backup", persistentVolumeClaim: { claimName: a.claimName } },
      { name: "tmp", emptyDir: {} },
    ],
  });
}
