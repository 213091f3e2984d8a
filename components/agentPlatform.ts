import type { Provider as AwsProvider } from "@pulumi/aws/provider";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../config";
import { Availability } from "./availability";
import { COMMAND_CENTER_PORT, commandCenterLabels, commandCenterSelector, commandCenterWorkload } from "./builders/commandCenter";
import { ENGINE_PORT, engineLabels, engineSelector } from "./builders/engine";
import type { Metrics } from "./builders/production";
import { workloadName } from "./builders/workload";
import { CommandCenterIngress } from "./ingress";
import { ExecutorCleanup } from "./executorCleanup";
import { Monitoring } from "./monitoring";
import { postgresName } from "./builders/postgres";
import { PostgresBackup } from "./postgresBackup";
import { externalTarget } from "./builders/postgresExternal";
import type { Rollout } from "./rollout";
import { engineUrl, engineWorkload } from "./builders/engine";
import { ExecutorAccess } from "./executorAccess";
import { GeneratedSecrets } from "./generatedSecrets";
import { Namespaces } from "./namespaces";
import { Postgres } from "./postgres";
import { PullSecretRefresher } from "./pullSecretRefresher";
import { RegistryPullSecret } from "./registryPullSecret";
import { Sandbox } from "./sandbox";
import { Workload } from "./workload";

export interface AgentPlatformArgs {
  config: PlatformConfig;
  /** ecr mode only: the explicit provider the ECR token is requested through. */
  awsProvider?: AwsProvider;
}

/**
 * The whole stack: namespaces, executor RBAC, the executor sandbox, generated secrets, registry
 * pull secret, postgres, engine and command center. The Kubernetes provider comes in through `opts.providers` and is
 * inherited by every child. Decisions are made here (or in config.ts) once and passed down.
 */
export class AgentPlatform extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly executorNamespace: pulumi.Output<string>;
  public readonly engineServiceName: pulumi.Output<string>;
  public readonly commandCenterServiceName: pulumi.Output<string>;
  /** null with an external database (externalPostgres). */
  public readonly postgresServiceName: pulumi.Output<string | null>;
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
      { instanceName, namespace: c.namespace, executors: c.executors, executorPodSecurityLevel: c.executorPodSecurityLevel, create: c.createNamespaces },
      { parent: this },
    );

    const pullSecretNamespaces: Record<string, pulumi.Input<string>> = c.executors.separate
      ? { workloads: namespaces.namespace, executors: namespaces.executorNamespace }
      : { workloads: namespaces.namespace };
    const pull = new RegistryPullSecret(
      `${name}-registry`,
      {
        instanceName,
        registry: c.registry,
        namespaces: pullSecretNamespaces,
        password: c.secrets.registryPassword,
        awsProvider: args.awsProvider,
      },
      { parent: this },
    );
    // ecr mode: renews every copy of the pull secret in the cluster between `up`s.
    if (c.pullSecretRefresh && pull.secretName) {
      new PullSecretRefresher(
        `${name}-registry-refresh`,
        { instanceName, settings: c.pullSecretRefresh, namespace: namespaces.namespace, pullSecretName: pull.secretName, pullSecretNamespaces },
        { parent: this, dependsOn: [pull] },
      );
    }

    // After the pull secret: the sandbox's default ServiceAccount references its copy there.
    const sandbox = new Sandbox(
      `${name}-sandbox`,
      { settings: c.sandbox, engineNamespace: namespaces.namespace, executorNamespace: namespaces.executorNamespace },
      { parent: this, dependsOn: [pull] },
    );

    // After the sandbox: the engine's identity may create executor pods only once the policies,
    // quota and NetworkPolicies that confine them are stored, and the engine (below) starts only
    // after that right exists. (A child waits for its parent, and the parent for its dependsOn.)
    const access = new ExecutorAccess(
      `${name}-executor-access`,
      { instanceName, namespace: namespaces.namespace, executorNamespace: namespaces.executorNamespace, imagePullSecretName: pull.secretName },
      { parent: this, dependsOn: [sandbox] },
    );

    const secrets = new GeneratedSecrets(`${name}-secrets`, { overrides: c.secrets.overrides, rotation: c.secretRotation }, { parent: this });
    // Render mode writes no Secret, and its throwaway stack's generated values differ per run:
    // its checksums cover the config only, so two renders are byte-identical.
    const rollout: Rollout = c.renderYamlToDirectory ? { kind: "config-only" } : { kind: "hmac", key: secrets.checksumKey };

    // With an external database (externalPostgres) no postgres object is deployed; the engine is
    // pointed at it. The generated postgres password stays in the stack (protected, unused), so
    // switching back finds the same one.
    const externalDb = c.externalPostgres;
    const externalDbPassword = c.secrets.externalPostgresPassword;
    if (externalDb !== undefined && externalDbPassword === undefined) {
      throw new pulumi.ResourceError("agent-platform:externalPostgres is set without its password: pulumi config set --secret externalPostgresPassword <password>", this);
    }
    const postgres = externalDb !== undefined ? undefined : new Postgres(
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
        rollout,
      },
      { parent: this },
    );

    // Elasticsearch and AWS: the same settings and credentials for the engine and the command center.
    const external = { elasticsearch: c.elasticsearch, aws: c.aws };
    const externalSecrets = {
      elasticsearchPassword: c.elasticsearch ? c.secrets.elasticsearchPassword : undefined,
      aws:
        c.aws?.accessKeyId !== undefined && c.secrets.awsSecretAccessKey !== undefined
          ? { accessKeyId: c.aws.accessKeyId, secretAccessKey: c.secrets.awsSecretAccessKey }
          : undefined,
    };
    const workload = { namespace: namespaces.namespace, imagePullSecretName: pull.secretName, rollout };

    // Production readiness (components/builders/production.ts): decided in validateConfig.
    const prod = c.production;
    const metricsPort = (m: Metrics | undefined, appPort: number) => (m !== undefined && m.port !== appPort ? m.port : undefined);

    const engine = new Workload(
      `${name}-engine`,
      {
        ...workload,
        spec: {
          ...engineWorkload({
          instance: instanceName,
          image: c.images.engine,
          replicas: c.engine.replicas,
          resources: c.engine.resources,
          serviceAccountName: access.serviceAccountName,
          executors: c.executors,
          licensePublicKeyPem: c.licensePublicKeyPem,
          ...(externalDb !== undefined ? { database: externalTarget(externalDb) } : {}),
          ...external,
          secrets: {
            postgresPassword: (externalDb !== undefined ? externalDbPassword : undefined) ?? secrets.values.postgresPassword,
            credentialEncryptionKey: secrets.values.credentialEncryptionKey,
            engineApiKey: secrets.values.engineApiKey,
            authSecret: secrets.values.authSecret,
            logEncryptionKey: secrets.values.logEncryptionKey,
            ...externalSecrets,
          },
          }),
          replicas: prod.engine.replicas,
          spread: prod.engine.spread,
          shutdown: prod.engineShutdown,
          metricsPort: metricsPort(prod.monitoring?.engine, ENGINE_PORT),
        },
      },
      // Formerly its own component type: the alias keeps every child's identity. After the executor
      // access (its RoleBinding), and so after the sandbox.
      { parent: this, aliases: [{ type: "agent-platform:index:Engine" }], dependsOn: [access] },
    );

    const commandCenter = new Workload(
      `${name}-command-center`,
      {
        ...workload,
        spec: {
          ...commandCenterWorkload({
          instance: instanceName,
          image: c.images.commandCenter,
          replicas: c.commandCenter.replicas,
          resources: c.commandCenter.resources,
          publicUrl: c.publicUrl,
          engineUrl: engineUrl(instanceName, c.namespace),
          ...external,
          secrets: { engineApiKey: secrets.values.engineApiKey, authSecret: secrets.values.authSecret, ...externalSecrets },
          }),
          replicas: prod.commandCenter.replicas,
          spread: prod.commandCenter.spread,
          metricsPort: metricsPort(prod.monitoring?.commandCenter, COMMAND_CENTER_PORT),
        },
      },
      { parent: this, aliases: [{ type: "agent-platform:index:CommandCenter" }] },
    );

    const engineName = workloadName({ component: "engine", instance: instanceName });
    const commandCenterName = workloadName({ component: "command-center", instance: instanceName });
    const ns = namespaces.namespace;
    for (const [role, settings, target] of [
      ["engine", prod.engine, { name: engineName, namespace: ns, labels: engineLabels(instanceName), selector: engineSelector(instanceName) }],
      ["command-center", prod.commandCenter, { name: commandCenterName, namespace: ns, labels: commandCenterLabels(instanceName), selector: commandCenterSelector(instanceName) }],
    ] as const) {
      if (settings.spread || settings.autoscaling) new Availability(`${name}-${role}-availability`, { settings, target }, { parent: this, dependsOn: [engine, commandCenter] });
    }
    if (prod.exposure.kind !== "none") {
      new CommandCenterIngress(
        `${name}-way-in`,
        { exposure: prod.exposure, target: { name: commandCenterName, namespace: ns, labels: commandCenterLabels(instanceName), servicePort: COMMAND_CENTER_PORT } },
        { parent: this, dependsOn: [commandCenter] },
      );
    }
    if (prod.executorCleanup) {
      new ExecutorCleanup(
        `${name}-executor-cleanup`,
        { instanceName, settings: prod.executorCleanup, namespace: ns, executorNamespace: namespaces.executorNamespace, imagePullSecretName: pull.secretName },
        { parent: this },
      );
    }
    if (prod.postgresBackup && postgres !== undefined) {
      new PostgresBackup(
        `${name}-postgres-backup`,
        {
          instanceName,
          namespace: ns,
          settings: prod.postgresBackup,
          image: c.images.postgres,
          secretName: postgresName(instanceName),
          storageClass: c.postgres.storageClass,
          resources: c.postgres.resources,
          imagePullSecretName: pull.secretName,
        },
        { parent: this, dependsOn: [postgres] },
      );
    }
    if (prod.monitoring) {
      const m = prod.monitoring;
      new Monitoring(
        `${name}-monitoring`,
        {
          targets: [
            { role: "engine", metrics: m.engine, target: { name: engineName, namespace: ns, labels: engineLabels(instanceName), serviceSelector: engineSelector(instanceName), appPort: ENGINE_PORT } },
            {
              role: "command-center",
              metrics: m.commandCenter,
              target: { name: commandCenterName, namespace: ns, labels: commandCenterLabels(instanceName), serviceSelector: commandCenterSelector(instanceName), appPort: COMMAND_CENTER_PORT },
            },
          ],
        },
        { parent: this, dependsOn: [engine, commandCenter] },
      );
    }

    this.namespace = namespaces.namespace;
    this.executorNamespace = namespaces.executorNamespace;
    this.engineServiceName = engine.serviceName;
    this.commandCenterServiceName = commandCenter.serviceName;
    this.postgresServiceName = postgres !== undefined ? postgres.serviceName : pulumi.output(null);
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
