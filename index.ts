// agent-platform: load and validate the stack config, check that nothing this stack would create
// belongs to someone else, build explicit providers, create the platform, return what operators
// and CI need. Nothing else lives here.
//
// The program is an async function (Pulumi awaits it and exports what it returns): the ownership
// check reads the cluster before the first resource is registered, so a refusal changes nothing.

// The aws provider class alone: loading all of @pulumi/aws costs about a third of a second for a
// program that, outside ECR mode, uses none of it.
import { Provider as AwsProvider } from "@pulumi/aws/provider";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AgentPlatform } from "./components/agentPlatform";
import { plannedObjects } from "./components/builders/inventory";
import { claimRef, postgresClaimName, postgresDeploymentRef } from "./components/builders/postgres";
import { POSTGRES_MAJOR_ANNOTATION, majorChangeProblem } from "./components/builders/postgresVersion";
import { externalSwitchProblem, inClusterPostgresRefs } from "./components/builders/postgresSwitch";
import { describeRef, type LiveObject, OWNER_ANNOTATION, ownerId, ownershipProblem, ownershipReport } from "./components/builders/ownership";
import { clusterRequirementProblems } from "./components/builders/sandboxSettings";
import { type ClusterAccess, type ClusterReader, kubeconfigCluster, type ServerVersionReader } from "./components/clusterReader";
import { NodejsDynamicProvider } from "./components/nodejsDynamicProvider";
import { runtimeNodeProblem } from "./components/nodeVersion";
import { ConfigError, type PlatformConfig, loadConfig } from "./config";

// One ConfigError listing every problem, before any resource is registered; RunError makes
// Pulumi print just that list, without a stack trace.
function validatedConfig(): PlatformConfig {
  try {
    return loadConfig({ baseDir: __dirname });
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/**
 * Reads every object the stack would create and refuses, all at once, those that are not ours.
 * Returns what it read (the one read of each object the other checks use too).
 */
async function checkOwnership(config: PlatformConfig, owner: string, read: ClusterReader): Promise<Map<string, LiveObject | undefined>> {
  const refs = plannedObjects(config);
  const problems: string[] = [];
  const seen = new Map<string, LiveObject | undefined>();
  try {
    const live = await Promise.all(refs.map((r) => read(r)));
    refs.forEach((r, i) => seen.set(describeRef(r), live[i]));
    refs.forEach((r, i) => {
      const p = ownershipProblem(r, live[i], owner, config.instanceName);
      if (p !== undefined) problems.push(p);
    });
    if (!config.createNamespaces) {
      const namespaces = [config.namespace, ...(config.executors.separate ? [config.executors.namespace] : [])];
      const found = await Promise.all(namespaces.map((name) => read({ apiVersion: "v1", kind: "Namespace", plural: "namespaces", name })));
      namespaces.forEach((name, i) => {
        if (found[i] === undefined) {
          problems.push(`Namespace ${name} does not exist, and createNamespaces is false: create it (kubectl create namespace ${name}) or set agent-platform:createNamespaces true`);
        }
      });
    }
  } catch (e) {
    throw new pulumi.RunError(`Nothing was changed: could not check what already exists in the cluster: ${(e as Error).message}`);
  }
  const report = ownershipReport(problems);
  if (report !== undefined) throw new pulumi.RunError(report);
  return seen;
}

/**
 * Refuses, before anything is registered, settings the cluster cannot honour (a setting silently
 * ignored would be worse): the mutating policy for sandboxPodDefaults needs Kubernetes 1.36.
 */
async function checkClusterRequirements(config: PlatformConfig, serverVersion: ServerVersionReader): Promise<void> {
  let version;
  try {
    version = await serverVersion();
  } catch (e) {
    throw new pulumi.RunError(`Nothing was changed: could not read the cluster's Kubernetes version: ${(e as Error).message}`);
  }
  const problems = clusterRequirementProblems(config.sandbox, version);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  - agent-platform:${p.key}: ${p.rule}. Fix: ${p.example}`);
    throw new pulumi.RunError(`Nothing was changed: this cluster (${version.gitVersion}) cannot honour the stack's sandbox settings:\n${lines.join("\n")}`);
  }
}

/**
 * Refuses a postgresImage of another major version than the data claim records (unless allowed).
 * The claim is the one the live postgres Deployment mounts: a claim taken over by `adopt` or kept
 * from a release before stable names has another name than `<instance>-postgres-data`.
 */
async function checkPostgresMajor(config: PlatformConfig, seen: Map<string, LiveObject | undefined>, read: ClusterReader): Promise<void> {
  // With an external database the in-cluster image is not deployed (checkExternalSwitch guards that switch).
  if (config.externalPostgres !== undefined) return;
  const ns = config.namespace;
  const deployment = seen.get(describeRef(postgresDeploymentRef(config.instanceName, ns)));
  const claim = claimRef(deployment?.claimNames?.[0] ?? postgresClaimName(config.instanceName), ns);
  let live: LiveObject | undefined;
  try {
    live = seen.has(describeRef(claim)) ? seen.get(describeRef(claim)) : await read(claim);
  } catch (e) {
    throw new pulumi.RunError(`Nothing was changed: could not read the postgres data claim ${ns}/${claim.name}: ${(e as Error).message}`);
  }
  const problem = majorChangeProblem(live?.annotations?.[POSTGRES_MAJOR_ANNOTATION], config.images.postgres, config.production.postgresAllowMajorUpgrade, `${ns}/${claim.name}`);
  if (problem !== undefined) throw new pulumi.RunError(problem);
}

/** With externalPostgres: refuses, before anything changes, to leave this stack's in-cluster PostgreSQL behind unannounced. */
async function checkExternalSwitch(config: PlatformConfig, owner: string, read: ClusterReader): Promise<void> {
  if (config.externalPostgres === undefined) return;
  const refs = inClusterPostgresRefs(config.instanceName, config.namespace, `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::`);
  let live: (LiveObject | undefined)[];
  try {
    live = await Promise.all(refs.map((r) => read(r.ref)));
  } catch (e) {
    throw new pulumi.RunError(`Nothing was changed: could not check for this stack's in-cluster PostgreSQL: ${(e as Error).message}`);
  }
  const ours = refs.filter((_, i) => live[i]?.annotations?.[OWNER_ANNOTATION] === owner).map((r) => ({ ref: describeRef(r.ref), protectedUrn: r.protectedUrn }));
  const problem = externalSwitchProblem(config.externalPostgres, ours);
  if (problem !== undefined) throw new pulumi.RunError(problem);
}

/** Puts the owner annotation on every Kubernetes object of the platform (not on patches of objects we do not own). */
function markOwner(owner: string): pulumi.ResourceTransformation {
  return ({ type, props, opts }) => {
    if (!type.startsWith("kubernetes:") || type.endsWith("Patch")) return undefined;
    const metadata = (props.metadata ?? {}) as Record<string, unknown>;
    const annotations = { ...((metadata.annotations as Record<string, string> | undefined) ?? {}), [OWNER_ANNOTATION]: owner };
    return { props: { ...props, metadata: { ...metadata, annotations } }, opts };
  };
}

/** `cluster`: what the unit tests script instead of a real cluster. */
export = async (cluster?: Partial<ClusterAccess>) => {
  const nodeProblem = runtimeNodeProblem(__dirname);
  if (nodeProblem !== undefined) throw new pulumi.RunError(nodeProblem);
  const config = validatedConfig();
  const owner = config.renderStack ?? ownerId(pulumi.getOrganization(), pulumi.getProject(), pulumi.getStack());
  // Render mode has no cluster to read: it writes manifests only.
  if (!config.renderYamlToDirectory) {
    // (Lazy: the kubeconfig is loaded on the first read.)
    const real = kubeconfigCluster(config.kubeContext);
    // The checks read at once (one round trip of wall time, not three); a refusal of the
    // cluster's version is still reported first.
    const read = cluster?.read ?? real.read;
    const [requirements, ownership, externalSwitch] = await Promise.allSettled([
      checkClusterRequirements(config, cluster?.serverVersion ?? real.serverVersion),
      checkOwnership(config, owner, read),
      checkExternalSwitch(config, owner, read),
    ]);
    if (requirements.status === "rejected") throw requirements.reason;
    if (ownership.status === "rejected") throw ownership.reason;
    await checkPostgresMajor(config, ownership.value, read);
    if (externalSwitch.status === "rejected") throw externalSwitch.reason;
  }

  // Default providers are disabled in the stack files: every resource uses one of these.
  // In render mode (`npm run platform -- render`, on a throwaway stack) the same provider writes
  // the manifests to a directory instead of talking to a cluster.
  const k8sProvider = new k8s.Provider(
    "k8s",
    config.renderYamlToDirectory
      ? // An empty kubeconfig: the SDK would otherwise take $KUBECONFIG, which render mode refuses.
        { renderYamlToDirectory: config.renderYamlToDirectory, kubeconfig: "" }
      : // Empty kubeContext: the current context of $KUBECONFIG (or ~/.kube/config).
        { context: config.kubeContext },
  );

  const awsProvider =
    config.registry.mode === "ecr"
      ? new AwsProvider("ecr", {
          region: config.registry.region,
          // The engine's AWS credentials when set; otherwise the standard AWS credential chain.
          accessKey: config.aws?.accessKeyId,
          secretKey: config.aws?.accessKeyId ? config.secrets.awsSecretAccessKey : undefined,
        })
      : undefined;

  // The generated secrets are dynamic resources: they need the pulumi-nodejs provider explicitly too.
  const dynamicProvider = new NodejsDynamicProvider("dynamic");

  const platform = new AgentPlatform(
    "platform",
    { config, awsProvider },
    { providers: [k8sProvider, dynamicProvider], transformations: [markOwner(owner)] },
  );

  return {
    // The stack every object is marked with (render reads it to mark rendered objects the same way).
    owner,
    namespace: platform.namespace,
    executorNamespace: platform.executorNamespace,
    engineServiceName: platform.engineServiceName,
    commandCenterServiceName: platform.commandCenterServiceName,
    postgresServiceName: platform.postgresServiceName,
    executorServiceAccount: platform.executorServiceAccountName,
    // null (not undefined) outside ECR/static modes, so the outputs exist with a clear "none".
    pullSecretName: platform.pullSecretName ?? null,
    pullSecretExpiresAt: platform.pullSecretExpiresAt.apply((t) => t ?? null),
    engineApiKey: pulumi.secret(platform.engineApiKey),
  };
};
