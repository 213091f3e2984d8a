import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";
import { selectorLabels, standardLabels } from "./labels";
import type { ObjectRef } from "./ownership";
import { CHECKSUM_ANNOTATION, containerSecurityContext, hardenedPodBase } from "./security";
import { clusterIpService, envFromSecret, resources } from "./workload";

export const POSTGRES_PORT = 5432;
export const POSTGRES_UID = 999; // the postgres user of the Debian-based official image
export const POSTGRES_DB = "engine";
export const POSTGRES_USER = "engine";
export const PGDATA_MOUNT = "/var/lib/postgresql/data";
/** A subdirectory: initdb refuses a mount point that holds lost+found. */
export const PGDATA = `${PGDATA_MOUNT}/pgdata`;

const APP = "postgres";
const COMPONENT = "database";

export const postgresLabels = (instance: string) => standardLabels(APP, COMPONENT, instance);
export const postgresSelector = (instance: string) => selectorLabels(APP, COMPONENT, instance);
/** `<instance>-postgres`: the name of the postgres Secret, Deployment and Service. */
export const postgresName = (instance: string) => `${instance}-postgres`;
export const postgresServiceName = postgresName;
/** The claim of the data volume. A stack deployed before names were stable keeps its old claim (components/postgres.ts). */
export const postgresClaimName = (instance: string) => `${instance}-postgres-data`;
/** The postgres Deployment as the pre-flight reads it. */
export const postgresDeploymentRef = (instance: string, namespace: string): ObjectRef => ({ apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", name: postgresName(instance), namespace });
/** A PersistentVolumeClaim as the pre-flight reads it (the data claim, the backup claim, an adopted one). */
export const claimRef = (name: string, namespace: string): ObjectRef => ({ apiVersion: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", name, namespace });

export function postgresSecretData(password: string): Record<string, string> {
  return { POSTGRES_PASSWORD: password };
}

export function postgresSecretArgs(
  namespace: pulumi.Input<string>,
  instance: string,
  data: k8s.types.input.core.v1.Secret["data"],
): k8s.core.v1.SecretArgs {
  return { metadata: { name: postgresName(instance), namespace, labels: postgresLabels(instance) }, type: "Opaque", data };
}

export function postgresPvcArgs(
  namespace: pulumi.Input<string>,
  instance: string,
  size: string,
  storageClass: string | undefined,
  annotations?: Record<string, string>,
): k8s.core.v1.PersistentVolumeClaimArgs {
  return {
    metadata: { name: postgresClaimName(instance), namespace, labels: postgresLabels(instance), ...(annotations ? { annotations } : {}) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: storageClass,
      resources: { requests: { storage: size } },
    },
  };
}

export interface PostgresDeploymentArgs {
  namespace: pulumi.Input<string>;
  instance: string;
  image: string;
  resources: ResourceSpec;
  secretName: pulumi.Input<string>;
  pvcName: pulumi.Input<string>;
  checksum: pulumi.Input<string>;
  imagePullSecretName?: string;
}

export function postgresDeploymentArgs(a: PostgresDeploymentArgs): k8s.apps.v1.DeploymentArgs {
  const selector = postgresSelector(a.instance);
  return {
    metadata: { name: postgresName(a.instance), namespace: a.namespace, labels: postgresLabels(a.instance) },
    spec: {
      replicas: 1,
      // A ReadWriteOnce volume cannot be attached to an old and a new pod at once.
      strategy: { type: "Recreate" },
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: postgresLabels(a.instance), annotations: { [CHECKSUM_ANNOTATION]: a.checksum } },
        spec: {
          ...hardenedPodBase({ uid: POSTGRES_UID, mountApiToken: false, imagePullSecretName: a.imagePullSecretName }),
          containers: [
            {
              name: "postgres",
              image: a.image,
              ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
              env: [
                { name: "POSTGRES_DB", value: POSTGRES_DB },
                { name: "POSTGRES_USER", value: POSTGRES_USER },
                { name: "PGDATA", value: PGDATA },
                ...envFromSecret(a.secretName, ["POSTGRES_PASSWORD"]),
              ],
              securityContext: containerSecurityContext(POSTGRES_UID, POSTGRES_UID),
              resources: resources(a.resources),
              readinessProbe: {
                exec: { command: ["sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'] },
                initialDelaySeconds: 5,
                periodSeconds: 10,
                timeoutSeconds: 5,
              },
              livenessProbe: {
                exec: { command: ["sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'] },
                initialDelaySeconds: 30,
                periodSeconds: 20,
                timeoutSeconds: 5,
                failureThreshold: 6,
              },
              volumeMounts: [
                { name: "data", mountPath: PGDATA_MOUNT },
                { name: "run", mountPath: "/var/run/postgresql" },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "data", persistentVolumeClaim: { claimName: a.pvcName } },
            { name: "run", emptyDir: {} },
            { name: "tmp", emptyDir: {} },
          ],
        },
      },
    },
  };
}

export function postgresServiceArgs(namespace: pulumi.Input<string>, instance: string): k8s.core.v1.ServiceArgs {
  return clusterIpService(postgresName(instance), namespace, postgresLabels(instance), postgresSelector(instance), POSTGRES_PORT, "postgres");
}
