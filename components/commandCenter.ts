import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../config";
import {
  commandCenterConfigData,
  commandCenterDeploymentArgs,
  commandCenterLabels,
  commandCenterSecretData,
  commandCenterSecretKeys,
  commandCenterServiceArgs,
} from "./builders/commandCenter";
import { toSecretData } from "./builders/registry";
import { configChecksum } from "./builders/security";
import { configMapArgs, opaqueSecretArgs } from "./builders/workload";

export interface CommandCenterArgs {
  instanceName: string;
  /** The namespace as an Output (dependency) and as its plain name (for the engine URL). */
  namespace: pulumi.Input<string>;
  namespaceName: string;
  publicUrl: string;
  image: string;
  replicas: number;
  resources: ResourceSpec;
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string };
  secrets: {
    engineApiKey: pulumi.Input<string>;
    authSecret: pulumi.Input<string>;
    elasticsearchPassword?: pulumi.Input<string>;
    awsAccessKeyId?: pulumi.Input<string>;
    awsSecretAccessKey?: pulumi.Input<string>;
  };
  imagePullSecretName?: string;
  /** Key of the rollout-checksum HMAC (GeneratedSecrets.checksumKey). */
  checksumKey: pulumi.Input<string>;
}

/** The command center UI: ConfigMap (BASE_URL = publicUrl), Secret, Deployment, Service. */
export class CommandCenter extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: CommandCenterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:CommandCenter", name, {}, opts);
    const labels = commandCenterLabels(args.instanceName);
    const configData = commandCenterConfigData({
      instance: args.instanceName,
      namespace: args.namespaceName,
      publicUrl: args.publicUrl,
      elasticsearch: args.elasticsearch,
      aws: args.aws,
    });
    const config = new k8s.core.v1.ConfigMap(`${name}-config`, configMapArgs(args.namespace, labels, configData), { parent: this });
    const s = args.secrets;
    const secretValues = pulumi.secret(
      pulumi
        .all([s.engineApiKey, s.authSecret, s.elasticsearchPassword, s.awsAccessKeyId, s.awsSecretAccessKey])
        .apply(([engineApiKey, authSecret, elasticsearchPassword, awsAccessKeyId, awsSecretAccessKey]) =>
          commandCenterSecretData({ engineApiKey, authSecret, elasticsearchPassword, awsAccessKeyId, awsSecretAccessKey }),
        ),
    );
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      opaqueSecretArgs(args.namespace, labels, pulumi.secret(secretValues.apply(toSecretData))),
      { parent: this },
    );
    const checksum = pulumi.unsecret(
      pulumi.all([secretValues, args.checksumKey]).apply(([sv, key]) => configChecksum({ config: configData, secret: sv }, key)),
    );
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      commandCenterDeploymentArgs({
        namespace: args.namespace,
        instance: args.instanceName,
        image: args.image,
        replicas: args.replicas,
        resources: args.resources,
        configMapName: config.metadata.name,
        configKeys: Object.keys(configData),
        secretName: secret.metadata.name,
        secretKeys: commandCenterSecretKeys({
          elasticsearch: s.elasticsearchPassword !== undefined,
          awsCredentials: s.awsAccessKeyId !== undefined && s.awsSecretAccessKey !== undefined,
        }),
        checksum,
        imagePullSecretName: args.imagePullSecretName,
      }),
      { parent: this },
    );
    const service = new k8s.core.v1.Service(`${name}-service`, commandCenterServiceArgs(args.namespace, args.instanceName), { parent: this });
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
