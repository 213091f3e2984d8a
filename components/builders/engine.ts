import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";
import { selectorLabels, standardLabels } from "./labels";
import { POSTGRES_DB, POSTGRES_PORT, POSTGRES_USER, postgresServiceName } from "./postgres";
import { CHECKSUM_ANNOTATION, containerSecurityContext, hardenedPodBase } from "./security";
import { clusterIpService, envFromConfigMap, envFromSecret, resources } from "./workload";

export const ENGINE_PORT = 8080;
export const ENGINE_UID = 1000;
export const SERVICE_ACCOUNT_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
export const LICENSE_DIR = "/etc/2501/license";
export const LICENSE_FILE = "license.public.pem";

const APP = "agent-engine";
const COMPONENT = "engine";

export const engineLabels = (instance: string) => standardLabels(APP, COMPONENT, instance);
export const engineSelector = (instance: string) => selectorLabels(APP, COMPONENT, instance);
export const engineServiceName = (instance: string) => `${instance}-engine`;
export const engineUrl = (instance: string, namespace: string) =>
  `http://${engineServiceName(instance)}.${namespace}.svc:${ENGINE_PORT}`;

export interface EngineSettings {
  instance: string;
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string };
}

/** Non-secret engine settings: the engine's ConfigMap. */
export function engineConfigData(s: EngineSettings): Record<string, string> {
  const data: Record<string, string> = {
    NODE_ENV: "production",
    PORT: String(ENGINE_PORT),
    DB_HOST: postgresServiceName(s.instance),
    DB_PORT: String(POSTGRES_PORT),
    DB_NAME: POSTGRES_DB,
    DB_USER: POSTGRES_USER,
    LICENSE_PUBLIC_KEY_PATH: `${LICENSE_DIR}/${LICENSE_FILE}`,
  };
  if (s.elasticsearch) {
    data.ELASTICSEARCH_URL = s.elasticsearch.url;
    data.ELASTICSEARCH_USERNAME = s.elasticsearch.username;
  }
  if (s.aws?.region) data.AWS_REGION = s.aws.region;
  return data;
}

export interface EngineSecretValues {
  postgresPassword: string;
  credentialEncryptionKey: string;
  engineApiKey: string;
  authSecret: string;
  logEncryptionKey: string;
  elasticsearchPassword?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
}

/** Secret engine settings: the engine's Secret (every key reaches the pod through a secretKeyRef). */
export function engineSecretData(v: EngineSecretValues): Record<string, string> {
  const data: Record<string, string> = {
    DB_PASSWORD: v.postgresPassword,
    CREDENTIAL_ENCRYPTION_KEY: v.credentialEncryptionKey,
    ENGINE_API_KEY: v.engineApiKey,
    AUTH_SECRET: v.authSecret,
    LOG_ENCRYPTION_KEY: v.logEncryptionKey,
  };
  if (v.elasticsearchPassword !== undefined) data.ELASTICSEARCH_PASSWORD = v.elasticsearchPassword;
  if (v.awsAccessKeyId !== undefined) data.AWS_ACCESS_KEY_ID = v.awsAccessKeyId;
  if (v.awsSecretAccessKey !== undefined) data.AWS_SECRET_ACCESS_KEY = v.awsSecretAccessKey;
  return data;
}

/** Keys of engineSecretData for a given configuration, known before any secret value is. */
export function engineSecretKeys(opts: { elasticsearch: boolean; awsCredentials: boolean }): string[] {
  const keys = ["DB_PASSWORD", "CREDENTIAL_ENCRYPTION_KEY", "ENGINE_API_KEY", "AUTH_SECRET", "LOG_ENCRYPTION_KEY"];
  if (opts.elasticsearch) keys.push("ELASTICSEARCH_PASSWORD");
  if (opts.awsCredentials) keys.push("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
  return keys;
}

/**
 * Env the platform fixes (not operator settings): the kube executor backend, the cluster CA for
 * Node's TLS, and the executor namespace: a literal when a separate one is configured, otherwise
 * the engine's own namespace from the Downward API (sources/000, "Required access").
 */
export function engineFixedEnv(executorNamespace: string | undefined): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "EXECUTOR_MCP_BACKEND", value: "kube" },
    { name: "NODE_EXTRA_CA_CERTS", value: SERVICE_ACCOUNT_CA },
    executorNamespace
      ? { name: "EXECUTOR_MCP_K8S_NAMESPACE", value: executorNamespace }
      : { name: "EXECUTOR_MCP_K8S_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  ];
}

export interface EngineDeploymentArgs {
  namespace: pulumi.Input<string>;
  instance: string;
  image: string;
  replicas: number;
  resources: ResourceSpec;
  /** The executor ServiceAccount's name (an Output, so the Deployment waits for it). */
  serviceAccountName: pulumi.Input<string>;
  executorNamespace?: string;
  configMapName: pulumi.Input<string>;
  configKeys: string[];
  secretName: pulumi.Input<string>;
  secretKeys: string[];
  licenseSecretName: pulumi.Input<string>;
  checksum: pulumi.Input<string>;
  imagePullSecretName?: string;
}

export function engineDeploymentArgs(a: EngineDeploymentArgs): k8s.apps.v1.DeploymentArgs {
  return {
    metadata: { namespace: a.namespace, labels: engineLabels(a.instance) },
    spec: {
      replicas: a.replicas,
      selector: { matchLabels: engineSelector(a.instance) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: engineLabels(a.instance), annotations: { [CHECKSUM_ANNOTATION]: a.checksum } },
        spec: {
          serviceAccountName: a.serviceAccountName,
          ...hardenedPodBase({ uid: ENGINE_UID, mountApiToken: true, imagePullSecretName: a.imagePullSecretName }),
          containers: [
            {
              name: "engine",
              image: a.image,
              ports: [{ name: "http", containerPort: ENGINE_PORT, protocol: "TCP" }],
              env: [
                ...engineFixedEnv(a.executorNamespace),
                ...envFromConfigMap(a.configMapName, a.configKeys),
                ...envFromSecret(a.secretName, a.secretKeys),
              ],
              securityContext: containerSecurityContext(ENGINE_UID, ENGINE_UID),
              resources: resources(a.resources),
              // TCP probes: they assume nothing about the engine's HTTP routes.
              readinessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 6 },
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "license", mountPath: LICENSE_DIR, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "license", secret: { secretName: a.licenseSecretName, items: [{ key: LICENSE_FILE, path: LICENSE_FILE }] } },
          ],
        },
      },
    },
  };
}

export function engineServiceArgs(namespace: pulumi.Input<string>, instance: string): k8s.core.v1.ServiceArgs {
  return clusterIpService(engineServiceName(instance), namespace, engineLabels(instance), engineSelector(instance), ENGINE_PORT, "http");
}
