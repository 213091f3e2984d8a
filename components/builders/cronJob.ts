/**
 * The one shape of the platform's CronJobs (executor cleanup, postgres backup, ECR token
 * refresh): never two runs at once, a missed run started only within its deadline, three failed
 * Jobs kept for `kubectl logs`, the same labels on the CronJob, its Jobs and their pods, and one
 * container in a pod hardened as every workload here is (Pod Security `restricted`, no service
 * links, the pull secret). Only what differs is passed in.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Labels } from "./labels";
import { containerSecurityContext, hardenedPodBase } from "./security";

export interface HardenedCronJob {
  name: string;
  namespace: pulumi.Input<string>;
  labels: Labels;
  schedule: string;
  /** How late a missed run may still start, in seconds. */
  startingDeadlineSeconds: number;
  successfulJobsHistoryLimit: number;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  /** Finished Jobs are deleted after this; unset, only the history limits remove them. */
  ttlSecondsAfterFinished?: number;
  /** The pod's user and group. */
  uid: number;
  /** Only for a pod that talks to the API server: its ServiceAccount, whose token is then mounted. */
  serviceAccountName?: pulumi.Input<string>;
  imagePullSecretName?: string;
  /** The container, without its security context (always containerSecurityContext(uid, uid)). */
  container: Omit<k8s.types.input.core.v1.Container, "securityContext">;
  volumes?: k8s.types.input.core.v1.Volume[];
}

export function hardenedCronJobArgs(c: HardenedCronJob): k8s.batch.v1.CronJobArgs {
  const mountApiToken = c.serviceAccountName !== undefined;
  return {
    metadata: { name: c.name, namespace: c.namespace, labels: c.labels },
    spec: {
      schedule: c.schedule,
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: c.startingDeadlineSeconds,
      successfulJobsHistoryLimit: c.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: c.labels },
        spec: {
          backoffLimit: c.backoffLimit,
          activeDeadlineSeconds: c.activeDeadlineSeconds,
          ...(c.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: c.ttlSecondsAfterFinished } : {}),
          template: {
            metadata: { labels: c.labels },
            spec: {
              ...(mountApiToken ? { serviceAccountName: c.serviceAccountName } : {}),
              restartPolicy: "Never",
              ...hardenedPodBase({ uid: c.uid, mountApiToken, imagePullSecretName: c.imagePullSecretName }),
              containers: [{ ...c.container, securityContext: containerSecurityContext(c.uid, c.uid) }],
              ...(c.volumes ? { volumes: c.volumes } : {}),
            },
          },
        },
      },
    },
  };
}
