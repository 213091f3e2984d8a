// agent-platform: load and validate the stack config, build explicit providers, create the
// platform, export what operators and CI need. Nothing else lives here.

// The aws provider class alone: loading all of @pulumi/aws costs about a third of a second for a
// program that, outside ECR mode, uses none of it.
import { Provider as AwsProvider } from "@pulumi/aws/provider";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AgentPlatform } from "./components/agentPlatform";
import { NodejsDynamicProvider } from "./components/nodejsDynamicProvider";
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
const config = validatedConfig();

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

const platform = new AgentPlatform("platform", { config, awsProvider }, { providers: [k8sProvider, dynamicProvider] });

export const namespace = platform.namespace;
export const executorNamespace = platform.executorNamespace;
export const engineServiceName = platform.engineServiceName;
export const commandCenterServiceName = platform.commandCenterServiceName;
export const postgresServiceName = platform.postgresServiceName;
export const executorServiceAccount = platform.executorServiceAccountName;
// null (not undefined) outside ECR/static modes, so the outputs exist with a clear "none".
export const pullSecretName = platform.pullSecretName ?? null;
export const pullSecretExpiresAt = platform.pullSecretExpiresAt.apply((t) => t ?? null);
export const engineApiKey = pulumi.secret(platform.engineApiKey);
