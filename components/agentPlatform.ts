import type { Provider as AwsProvider } from "@pulumi/aws/provider";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../config";
import { CommandCenter } from "./commandCenter";
import { Engine } from "./engine";
import { ExecutorAccess } from "./executorAccess";
import { GeneratedSecrets } from "./generatedSecrets";
import { Namespaces } from "./namespaces";
import { Postgres } from "./postgres";
import { RegistryPullSecret } from "./registryPullSecret";

export interface AgentPlatformArgs {
  config: PlatformConfig;
  /** ecr mode only: the explicit provider the ECR token is requested through. */
  awsProvider?: AwsProvider;
}

/**
 * The whole stack: namespaces, executor RBAC, generated secrets, registry pull secret, postgres,
 * engine and command center. The Kubernetes provider comes in through `opts.providers` and is
 * inherited by every child.
 */
export class AgentPlatform extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly executorNamespace: pulumi.Output<string>;
  public readonly engineServiceName: pulumi.Output<string>;
  public readonly commandCenterServiceName: pulumi.Output<string>;
  public readonly postgresServiceName: pulumi.Output<string>;
  public readonly executorServiceAccountName: pulumi.Output<string>;
  public readonly pullSecretName: string | undefined;
  public readonly pullSecretExpiresAt: pulumi.Output<string | undefined>;
  public readonly engineApiKey: pulumi.Output<string>;

  constructor(name: string, args: AgentPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:AgentPlatform", name, {}, opts);
    const c = args.config;
    const instanceName = c.instanceName;

    const namespaces = new Namespaces(
      `${name}-namespaces`,
      {
        instanceName,
        namespace: c.namespace,
        executorNamespace: c.executorNamespace,
        executorPodSecurityLevel: c.executorPodSecurityLevel,
      },
      { parent: this },
    );
    const separateExecutors = c.executorNamespace !== undefined;

    const pull = new RegistryPullSecret(
      `${name}-registry`,
      {
        instanceName,
        registry: c.registry,
        namespaces: separateExecutors
          ? { workloads: namespaces.namespace, executors: namespaces.executorNamespace }
          : { workloads: namespaces.namespace },
        password: c.secrets.registryPassword,
        awsProvider: args.awsProvider,
      },
      { parent: this },
    );

    const access = new ExecutorAccess(
      `${name}-executor-access`,
      {
        instanceName,
        namespace: namespaces.namespace,
        executorNamespace: separateExecutors ? namespaces.executorNamespace : undefined,
        imagePullSecretName: pull.secretName,
      },
      { parent: this },
    );

    const secrets = new GeneratedSecrets(
      `${name}-secrets`,
      { overrides: c.secrets.overrides, rotation: c.secretRotation },
      { parent: this },
    );

    const postgres = new Postgres(
      `${name}-postgres`,
      {
        instanceName,
        namespace: namespaces.namespace,
        image: c.images.postgres,
        resources: c.postgres.resources,
        storageSize: c.postgres.storageSize,
        storageClass: c.postgres.storageClass,
        password: secrets.values.postgresPassword,
        imagePullSecretName: pull.secretName,
        checksumKey: secrets.checksumKey,
      },
      { parent: this },
    );

    const elasticsearchPassword = c.elasticsearch ? c.secrets.elasticsearchPassword : undefined;
    const awsCredentials =
      c.aws?.accessKeyId !== undefined && c.secrets.awsSecretAccessKey !== undefined
        ? { awsAccessKeyId: c.aws.accessKeyId, awsSecretAccessKey: c.secrets.awsSecretAccessKey }
        : {};

    const engine = new Engine(
      `${name}-engine`,
      {
        instanceName,
        namespace: namespaces.namespace,
        executorNamespace: c.executorNamespace,
        image: c.images.engine,
        replicas: c.engine.replicas,
        resources: c.engine.resources,
        serviceAccountName: access.serviceAccountName,
        licensePublicKeyPem: c.licensePublicKeyPem,
        elasticsearch: c.elasticsearch,
        aws: c.aws,
        secrets: {
          postgresPassword: secrets.values.postgresPassword,
          credentialEncryptionKey: secrets.values.credentialEncryptionKey,
          engineApiKey: secrets.values.engineApiKey,
          authSecret: secrets.values.authSecret,
          logEncryptionKey: secrets.values.logEncryptionKey,
          elasticsearchPassword,
          ...awsCredentials,
        },
        imagePullSecretName: pull.secretName,
        checksumKey: secrets.checksumKey,
      },
      { parent: this },
    );

    const commandCenter = new CommandCenter(
      `${name}-command-center`,
      {
        instanceName,
        namespace: namespaces.namespace,
        namespaceName: c.namespace,
        publicUrl: c.publicUrl,
        image: c.images.commandCenter,
        replicas: c.commandCenter.replicas,
        resources: c.commandCenter.resources,
        elasticsearch: c.elasticsearch,
        aws: c.aws,
        secrets: {
          engineApiKey: secrets.values.engineApiKey,
          authSecret: secrets.values.authSecret,
          elasticsearchPassword,
          ...awsCredentials,
        },
        imagePullSecretName: pull.secretName,
        checksumKey: secrets.checksumKey,
      },
      { parent: this },
    );

    this.namespace = namespaces.namespace;
    this.executorNamespace = namespaces.executorNamespace;
    this.engineServiceName = engine.serviceName;
    this.commandCenterServiceName = commandCenter.serviceName;
    this.postgresServiceName = postgres.serviceName;
    this.executorServiceAccountName = access.serviceAccountName;
    this.pullSecretName = pull.secretName;
    this.pullSecretExpiresAt = pull.expiresAt;
    this.engineApiKey = secrets.values.engineApiKey;
    this.registerOutputs({
      namespace: this.namespace,
      executorNamespace: this.executorNamespace,
      engineServiceName: this.engineServiceName,
      commandCenterServiceName: this.commandCenterServiceName,
      postgresServiceName: this.postgresServiceName,
      executorServiceAccountName: this.executorServiceAccountName,
    });
  }
}
