import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";
import { engineUrl } from "./engine";
import { selectorLabels, standardLabels } from "./labels";
import { CHECKSUM_ANNOTATION, containerSecurityContext, hardenedPodBase } from "./security";
import { clusterIpService, envFromConfigMap, envFromSecret, resources } from "./workload";

export const COMMAND_CENTER_PORT = 3000;
export const COMMAND_CENTER_UID = 1000;

const APP = "command-center";
const COMPONENT = "command-center";

export const commandCenterLabels = (instance: string) => standardLabels(APP, COMPONENT, instance);
export const commandCenterSelector = (instance: string) => selectorLabels(APP, COMPONENT, instance);
export const commandCenterServiceName = (instance: string) => `${instance}-command-center`;

export function commandCenterConfigData(s: {
  instance: string;
  namespace: string;
  publicUrl: string;
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string };
}): Record<string, string> {
  const data: Record<string, string> = {
    NODE_ENV: "production",
    PORT: String(COMMAND_CENTER_PORT),
    BASE_URL: s.publicUrl,
    ENGINE_URL: engineUrl(s.instance, s.namespace),
  };
  if (s.elasticsearch) {
    data.ELASTICSEARCH_URL = s.elasticsearch.url;
    data.ELASTICSEARCH_USERNAME = s.elasticsearch.username;
  }
  if (s.aws?.region) data.AWS_REGION = s.aws.region;
  return data;
}

export interface CommandCenterSecretValues {
  engineApiKey: string;
  authSecret: string;
  elasticsearchPassword?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
}

export function commandCenterSecretData(v: CommandCenterSecretValues): Record<string, string> {
  const data: Record<string, string> = { ENGINE_API_KEY: v.engineApiKey, AUTH_SECRET: v.authSecret };
  if (v.elasticsearchPassword !== undefined) data.ELASTICSEARCH_PASSWORD = v.elasticsearchPassword;
  if (v.awsAccessKeyId !== undefined) data.AWS_ACCESS_KEY_ID = v.awsAccessKeyId;
  if (v.awsSecretAccessKey !== undefined) data.AWS_SECRET_ACCESS_KEY = v.awsSecretAccessKey;
  return data;
}

export function commandCenterSecretKeys(opts: { elasticsearch: boolean; awsCredentials: boolean }): string[] {
  const keys = ["ENGINE_API_KEY", "AUTH_SECRET"];
  if (opts.elasticsearch) keys.push("ELASTICSEARCH_PASSWORD");
  if (opts.awsCredentials) keys.push("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
  return keys;
}

export interface CommandCenterDeploymentArgs {
  namespace: pulumi.Input<string>;
  instance: string;
  image: string;
  replicas: number;
  resources: ResourceSpec;
  configMapName: pulumi.Input<string>;
  configKeys: string[];
  secretName: pulumi.Input<string>;
  secretKeys: string[];
  checksum: pulumi.Input<string>;
  imagePullSecretName?: string;
}

export function commandCenterDeploymentArgs(a: CommandCenterDeploymentArgs): k8s.apps.v1.DeploymentArgs {
  return {
    metadata: { namespace: a.namespace, labels: commandCenterLabels(a.instance) },
    spec: {
      replicas: a.replicas,
      selector: { matchLabels: commandCenterSelector(a.instance) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: commandCenterLabels(a.instance), annotations: { [CHECKSUM_ANNOTATION]: a.checksum } },
        spec: {
          ...hardenedPodBase({ uid: COMMAND_CENTER_UID, mountApiToken: false, imagePullSecretName: a.imagePullSecretName }),
          containers: [
            {
              name: "command-center",
              image: a.image,
              ports: [{ name: "http", containerPort: COMMAND_CENTER_PORT, protocol: "TCP" }],
              env: [...envFromConfigMap(a.configMapName, a.configKeys), ...envFromSecret(a.secretName, a.secretKeys)],
              securityContext: containerSecurityContext(COMMAND_CENTER_UID, COMMAND_CENTER_UID),
              resources: resources(a.resources),
              readinessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 6 },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

export function commandCenterServiceArgs(namespace: pulumi.Input<string>, instance: string): k8s.core.v1.ServiceArgs {
  return clusterIpService(
    commandCenterServiceName(instance),
    namespace,
    commandCenterLabels(instance),
    commandCenterSelector(instance),
    COMMAND_CENTER_PORT,
    "http",
  );
}
