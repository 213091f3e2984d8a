import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../config";
import {
  LICENSE_FILE,
  engineConfigData,
  engineDeploymentArgs,
  engineLabels,
  engineSecretData,
  engineSecretKeys,
  engineServiceArgs,
} from "./builders/engine";
import { toSecretData } from "./builders/registry";
import { configChecksum } from "./builders/security";
import { configMapArgs, opaqueSecretArgs } from "./builders/workload";

export interface EngineSecretInputs {
  postgresPassword: pulumi.Input<string>;
  credentialEncryptionKey: pulumi.Input<string>;
  engineApiKey: pulumi.Input<string>;
  authSecret: pulumi.Input<string>;
  logEncryptionKey: pulumi.Input<string>;
  elasticsearchPassword?: pulumi.Input<string>;
  awsAccessKeyId?: pulumi.Input<string>;
  awsSecretAccessKey?: pulumi.Input<string>;
}

export interface EngineArgs {
  instanceName: string;
  namespace: pulumi.Input<string>;
  executorNamespace?: string;
  image: string;
  replicas: number;
  resources: ResourceSpec;
  serviceAccountName: pulumi.Input<string>;
  licensePublicKeyPem: string;
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string };
  secrets: EngineSecretInputs;
  imagePullSecretName?: string;
  /** Key of the rollout-checksum HMAC (GeneratedSecrets.checksumKey). */
  checksumKey: pulumi.Input<string>;
}

/** The agent engine: ConfigMap, Secret, license Secret, Deployment (as engine-executor), Service. */
export class Engine extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: EngineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Engine", name, {}, opts);
    const labels = engineLabels(args.instanceName);
    const configData = engineConfigData({ instance: args.instanceName, elasticsearch: args.elasticsearch, aws: args.aws });
    const config = new k8s.core.v1.ConfigMap(`${name}-config`, configMapArgs(args.namespace, labels, configData), { parent: this });

    const s = args.secrets;
    const secretValues = pulumi.secret(
      pulumi
        .all([s.postgresPassword, s.credentialEncryptionKey, s.engineApiKey, s.authSecret, s.logEncryptionKey])
        .apply(([postgresPassword, credentialEncryptionKey, engineApiKey, authSecret, logEncryptionKey]) =>
          pulumi
            .all([s.elasticsearchPassword, s.awsAccessKeyId, s.awsSecretAccessKey])
            .apply(([elasticsearchPassword, awsAccessKeyId, awsSecretAccessKey]) =>
              engineSecretData({
                postgresPassword,
                credentialEncryptionKey,
                engineApiKey,
                authSecret,
                logEncryptionKey,
                elasticsearchPassword,
                awsAccessKeyId,
                awsSecretAccessKey,
              }),
            ),
        ),
    );
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      opaqueSecretArgs(args.namespace, labels, pulumi.secret(secretValues.apply(toSecretData))),
      { parent: this },
    );
    const licenseData = { [LICENSE_FILE]: args.licensePublicKeyPem };
    const license = new k8s.core.v1.Secret(
      `${name}-license`,
      opaqueSecretArgs(args.namespace, labels, toSecretData(licenseData)),
      { parent: this },
    );
    // A value, computed inside apply; the resources themselves are never created in an apply.
    // Not secret: it is an HMAC under a random key (see configChecksum), so the spec stays readable.
    const checksum = pulumi.unsecret(
      pulumi.all([secretValues, args.checksumKey]).apply(([sv, key]) => configChecksum({ config: configData, secret: sv, license: licenseData }, key)),
    );
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      engineDeploymentArgs({
        namespace: args.namespace,
        instance: args.instanceName,
        image: args.image,
        replicas: args.replicas,
        resources: args.resources,
        serviceAccountName: args.serviceAccountName,
        executorNamespace: args.executorNamespace,
        configMapName: config.metadata.name,
        configKeys: Object.keys(configData),
        secretName: secret.metadata.name,
        secretKeys: engineSecretKeys({
          elasticsearch: s.elasticsearchPassword !== undefined,
          awsCredentials: s.awsAccessKeyId !== undefined && s.awsSecretAccessKey !== undefined,
        }),
        licenseSecretName: license.metadata.name,
        checksum,
        imagePullSecretName: args.imagePullSecretName,
      }),
      { parent: this },
    );
    const service = new k8s.core.v1.Service(`${name}-service`, engineServiceArgs(args.namespace, args.instanceName), { parent: this });
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
