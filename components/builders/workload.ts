import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";
import { topologySpread } from "./availability";
import { selectorLabels, standardLabels } from "./labels";
import { METRICS_PORT_NAME } from "./monitoring";
import type { PreStop } from "./production";
import { CHECKSUM_ANNOTATION, containerSecurityContext, hardenedPodBase } from "./security";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Env entries that read each key of a ConfigMap (configMapKeyRef), one per key, in key order. */
export function envFromConfigMap(configMapName: k8s.types.input.core.v1.ConfigMapKeySelector["name"], keys: string[]): EnvVar[] {
  return [...keys].sort().map((key) => ({ name: key, valueFrom: { configMapKeyRef: { name: configMapName, key } } }));
}

/** Env entries that read each key of a Secret (secretKeyRef): secret values never appear literally in a pod spec. */
export function envFromSecret(secretName: k8s.types.input.core.v1.SecretKeySelector["name"], keys: string[]): EnvVar[] {
  return [...keys].sort().map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: secretName, key } } }));
}

export function resources(spec: ResourceSpec): k8s.types.input.core.v1.ResourceRequirements {
  return { requests: { ...spec.requests }, limits: { ...spec.limits } };
}

export function clusterIpService(
  name: string,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  selector: Record<string, string>,
  port: number,
  portName: string,
): k8s.core.v1.ServiceArgs {
  return {
    // skipAwait: the Kubernetes provider would otherwise hold every `up` on each Service for a
    // fixed settle time (about 10 s) after its endpoints appear. That wait proves nothing a user
    // needs: the Deployment behind the Service is awaited until Available (its pods Ready), and
    // the selector is the pods' labels (unit-tested). The Service is still created before `up` returns.
    metadata: { name, namespace, labels, annotations: { "pulumi.com/skipAwait": "true" } },
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: portName, port, targetPort: portName, protocol: "TCP" }],
    },
  };
}

export function configMapArgs(
  name: string,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  data: Record<string, string>,
): k8s.core.v1.ConfigMapArgs {
  return { metadata: { name, namespace, labels }, data };
}

export function opaqueSecretArgs(
  name: string,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  data: k8s.types.input.core.v1.Secret["data"],
): k8s.core.v1.SecretArgs {
  return { metadata: { name, namespace, labels }, type: "Opaque", data };
}

/** Elasticsearch and AWS settings, read the same way by the engine and the command center. */
export interface ExternalServices {
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string };
}

/** The secret halves of ExternalServices, present only when configured. */
export interface ExternalServiceSecrets {
  elasticsearchPassword?: pulumi.Input<string>;
  aws?: { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
}

export function externalServiceConfig(s: ExternalServices): Record<string, string> {
  const config: Record<string, string> = {};
  if (s.elasticsearch) {
    config.ELASTICSEARCH_URL = s.elasticsearch.url;
    config.ELASTICSEARCH_USERNAME = s.elasticsearch.username;
  }
  if (s.aws?.region) config.AWS_REGION = s.aws.region;
  return config;
}

export function externalServiceSecretEnv(v: ExternalServiceSecrets): Record<string, pulumi.Input<string>> {
  return {
    ...(v.elasticsearchPassword !== undefined ? { ELASTICSEARCH_PASSWORD: v.elasticsearchPassword } : {}),
    ...(v.aws ? { AWS_ACCESS_KEY_ID: v.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: v.aws.secretAccessKey } : {}),
  };
}

/**
 * A stateless HTTP workload we own (the engine, the command center): what it is, what it reads.
 * The Workload component turns it into a ConfigMap, a Secret, an optional Secret of files, a
 * Deployment and a Service; the builders below turn it into their specs.
 */
export interface WorkloadSpec {
  /** app.kubernetes.io/name and /component; the component also names the container and the Service (`<instance>-<component>`). */
  app: string;
  component: string;
  instance: string;
  image: string;
  /** undefined: an autoscaler owns the replica count, so the Deployment sets none. */
  replicas?: number;
  resources: ResourceSpec;
  port: number;
  uid: number;
  /** Spread the pods over nodes (set when more than one replica can run). */
  spread?: boolean;
  /** How long a stopping pod gets, and what runs before SIGTERM (the engine's graceful shutdown). */
  shutdown?: { terminationGracePeriodSeconds: number; preStop: PreStop };
  /** A second container port (and Service port) named `metrics`, when metrics are not served on `port`. */
  metricsPort?: number;
  /** Set only for a workload that talks to the API server: it then runs as this ServiceAccount with its token mounted. */
  serviceAccountName?: pulumi.Input<string>;
  /** Env the platform fixes (not settings): literal values or Downward API, never secrets. */
  fixedEnv?: EnvVar[];
  /** Non-secret settings: the ConfigMap, one env var per key. */
  config: Record<string, string>;
  /** Secret settings: the Secret, one env var per key (secretKeyRef). The keys are known before any value is. */
  secretEnv: Record<string, pulumi.Input<string>>;
  /** Files from a second Secret, mounted read-only (the engine's license key). */
  files?: { volume: string; mountPath: string; data: Record<string, string> };
}

/** What every workload's settings carry and its spec copies as is. */
export type WorkloadBasics = Pick<WorkloadSpec, "instance" | "image" | "replicas" | "resources">;
export const workloadBasics = (s: WorkloadBasics): WorkloadBasics => ({ instance: s.instance, image: s.image, replicas: s.replicas, resources: s.resources });

export const workloadLabels = (w: Pick<WorkloadSpec, "app" | "component" | "instance">) => standardLabels(w.app, w.component, w.instance);
export const workloadSelector = (w: Pick<WorkloadSpec, "app" | "component" | "instance">) => selectorLabels(w.app, w.component, w.instance);
/** `<instance>-<component>`: the name of the workload's ConfigMap, Secret, Deployment and Service. */
export const workloadName = (w: Pick<WorkloadSpec, "component" | "instance">) => `${w.instance}-${w.component}`;
/** The Secret of files: `<instance>-<component>-<volume>`. */
export const workloadFilesName = (w: Pick<WorkloadSpec, "component" | "instance">, volume: string) => `${workloadName(w)}-${volume}`;

/** What the Deployment refers to once the objects it reads exist. */
export interface WorkloadRefs {
  namespace: pulumi.Input<string>;
  configMapName: pulumi.Input<string>;
  secretName: pulumi.Input<string>;
  filesSecretName?: pulumi.Input<string>;
  /** Rollout checksum of the ConfigMap, Secret and files (configChecksum). */
  checksum: pulumi.Input<string>;
  imagePullSecretName?: string;
}

export function workloadDeploymentArgs(w: WorkloadSpec, r: WorkloadRefs): k8s.apps.v1.DeploymentArgs {
  const labels = workloadLabels(w);
  const files = w.files && r.filesSecretName !== undefined ? { ...w.files, secretName: r.filesSecretName } : undefined;
  return {
    metadata: { name: workloadName(w), namespace: r.namespace, labels },
    spec: {
      ...(w.replicas !== undefined ? { replicas: w.replicas } : {}),
      selector: { matchLabels: workloadSelector(w) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { [CHECKSUM_ANNOTATION]: r.checksum } },
        spec: {
          ...(w.serviceAccountName !== undefined ? { serviceAccountName: w.serviceAccountName } : {}),
          ...hardenedPodBase({ uid: w.uid, mountApiToken: w.serviceAccountName !== undefined, imagePullSecretName: r.imagePullSecretName }),
          ...(w.spread ? { topologySpreadConstraints: topologySpread(workloadSelector(w)) } : {}),
          ...(w.shutdown ? { terminationGracePeriodSeconds: w.shutdown.terminationGracePeriodSeconds } : {}),
          containers: [
            {
              name: w.component,
              image: w.image,
              ports: [
                { name: "http", containerPort: w.port, protocol: "TCP" },
                ...(w.metricsPort !== undefined ? [{ name: METRICS_PORT_NAME, containerPort: w.metricsPort, protocol: "TCP" }] : []),
              ],
              ...(w.shutdown ? { lifecycle: { preStop: preStopHandler(w.shutdown.preStop) } } : {}),
              env: [
                ...(w.fixedEnv ?? []),
                ...envFromConfigMap(r.configMapName, Object.keys(w.config)),
                ...envFromSecret(r.secretName, Object.keys(w.secretEnv)),
              ],
              securityContext: containerSecurityContext(w.uid, w.uid),
              resources: resources(w.resources),
              // TCP probes: they assume nothing about the application's HTTP routes.
              readinessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 6 },
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                ...(files ? [{ name: files.volume, mountPath: files.mountPath, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: {} },
            ...(files
              ? [{ name: files.volume, secret: { secretName: files.secretName, items: Object.keys(files.data).map((f) => ({ key: f, path: f })) } }]
              : []),
          ],
        },
      },
    },
  };
}

export function workloadServiceArgs(w: WorkloadSpec, namespace: pulumi.Input<string>): k8s.core.v1.ServiceArgs {
  const service = clusterIpService(workloadName(w), namespace, workloadLabels(w), workloadSelector(w), w.port, "http");
  if (w.metricsPort === undefined) return service;
  const spec = service.spec as k8s.types.input.core.v1.ServiceSpec;
  const ports = spec.ports as k8s.types.input.core.v1.ServicePort[];
  return { ...service, spec: { ...spec, ports: [...ports, { name: METRICS_PORT_NAME, port: w.metricsPort, targetPort: METRICS_PORT_NAME, protocol: "TCP" }] } };
}

/** The PreStop hook: the built-in sleep action (no binary needed in the image) or a command. */
export function preStopHandler(p: PreStop): k8s.types.input.core.v1.LifecycleHandler {
  return p.kind === "sleep" ? { sleep: { seconds: p.seconds } } : { exec: { command: [...p.command] } };
}
