// The in-cluster refresher of the ECR pull secret (registryMode ecr): a CronJob in the engine
// namespace running this project's `ecr-refresh` program (images/tools/ecr-refresh) as its own
// ServiceAccount, which may `get` and `patch` exactly the pull secret's copies (one Role per
// namespace that holds one, `resourceNames` = the pull secret's name) and nothing else. AWS
// credentials come from an existing Secret or, on EKS, from an IAM role on the ServiceAccount
// (IRSA). An ECR token lasts about 12 hours; the default schedule renews it every 6.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { standardLabels } from "./labels";
import type { AddIssue } from "./production";
import { hardenedCronJobArgs } from "./cronJob";

/** The refresher component's type token (the CLI's drift check finds it in the state by it). */
export const PULL_SECRET_REFRESHER_COMPONENT = "agent-platform:index:PullSecretRefresher";

/** `<instance>-ecr-refresh`: the CronJob, its ServiceAccount, and its Role/RoleBinding in each namespace. */
export const refresherName = (instance: string) => `${instance}-ecr-refresh`;
export const REFRESHER_UID = 65534;
/** Where the program is in the image (images/build.sh puts it there in the tools and ecr-refresh images). */
export const REFRESHER_COMMAND = ["/bin/ecr-refresh"];
export const DEFAULT_REFRESH_SCHEDULE = "0 */6 * * *";
/** The default image's repository under registryServer (tag: imageTag), pushed beside the engine's. */
export const DEFAULT_REFRESHER_REPOSITORY = "ecr-refresh";
/** The annotation EKS's pod identity webhook reads to give a ServiceAccount's pods an IAM role. */
export const IRSA_ANNOTATION = "eks.amazonaws.com/role-arn";
/** The keys the credentials Secret must hold (AWS_SESSION_TOKEN is optional). */
export const AWS_SECRET_KEYS = { accessKeyId: "AWS_ACCESS_KEY_ID", secretAccessKey: "AWS_SECRET_ACCESS_KEY", sessionToken: "AWS_SESSION_TOKEN" } as const;

export type RefresherCredentials = { kind: "secret"; secretName: string } | { kind: "irsa"; roleArn: string };

/** The decided settings (validateConfig, ecr mode only). */
export interface PullSecretRefresh {
  schedule: string;
  image: string;
  credentials: RefresherCredentials;
  region: string;
  registryId?: string;
  /** The key of the document's `auths` (the same host the pull secret is built with). */
  registryHost: string;
}

/** `pullSecretRefresh` as the operator wrote it (the config schema's output). */
export interface PullSecretRefreshInput {
  enabled?: boolean;
  schedule?: string;
  image?: string;
  awsCredentialsSecret?: string;
  serviceAccountRoleArn?: string;
}

const KEY = "pullSecretRefresh";
export const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/**
 * Decides the refresher from the config: ecr mode and not disabled needs exactly one source of
 * AWS credentials; outside ecr mode the key must stay empty. Problems go to `add`.
 */
export function pullSecretRefreshRules(
  input: PullSecretRefreshInput,
  registry: { mode: "ecr"; region: string; registryId?: string; server: string; host: string } | { mode: "static" | "none" },
  imageTag: string,
  add: AddIssue,
): PullSecretRefresh | undefined {
  const fields = Object.keys(input);
  if (registry.mode !== "ecr") {
    if (fields.length > 0) add(KEY, `applies only when registryMode is ecr (an ECR token expires; other registries' credentials do not): remove it (${fields.join(", ")})`);
    return undefined;
  }
  if (input.enabled === false) return undefined;
  const secret = input.awsCredentialsSecret;
  const roleArn = input.serviceAccountRoleArn;
  if (secret !== undefined && roleArn !== undefined) {
    add(KEY, "sets both awsCredentialsSecret and serviceAccountRoleArn: set exactly one (serviceAccountRoleArn on EKS with IRSA, awsCredentialsSecret elsewhere)");
    return undefined;
  }
  if (secret === undefined && roleArn === undefined) {
    add(
      KEY,
      "needs AWS credentials for the in-cluster ECR token refresher (registryMode is ecr): set pullSecretRefresh.serviceAccountRoleArn " +
        "(EKS: an IAM role allowed ecr:GetAuthorizationToken, given to the refresher's ServiceAccount by IRSA) or pullSecretRefresh.awsCredentialsSecret " +
        `(an existing Secret in the engine namespace with ${AWS_SECRET_KEYS.accessKeyId} and ${AWS_SECRET_KEYS.secretAccessKey}), ` +
        "or set pullSecretRefresh.enabled false to refresh only with `npm run platform -- refresh-pull-secret` from CI",
    );
    return undefined;
  }
  return {
    schedule: input.schedule ?? DEFAULT_REFRESH_SCHEDULE,
    image: input.image ?? `${registry.server}/${DEFAULT_REFRESHER_REPOSITORY}:${imageTag}`,
    credentials: roleArn !== undefined ? { kind: "irsa", roleArn } : { kind: "secret", secretName: secret as string },
    region: registry.region,
    registryId: registry.registryId,
    registryHost: registry.host,
  };
}

const labels = (instance: string) => standardLabels("ecr-refresh", "registry", instance);

export function refresherServiceAccountArgs(
  instance: string,
  namespace: pulumi.Input<string>,
  s: PullSecretRefresh,
  imagePullSecretName: string,
): k8s.core.v1.ServiceAccountArgs {
  return {
    metadata: {
      name: refresherName(instance),
      namespace,
      labels: labels(instance),
      ...(s.credentials.kind === "irsa" ? { annotations: { [IRSA_ANNOTATION]: s.credentials.roleArn } } : {}),
    },
    // Mounted only into the refresher's pod, which sets automountServiceAccountToken itself.
    automountServiceAccountToken: false,
    imagePullSecrets: [{ name: imagePullSecretName }],
  };
}

/** The only rule: get and patch the pull secret's copy in this namespace, by name. */
export function refresherRules(pullSecretName: string): { apiGroups: string[]; resources: string[]; resourceNames: string[]; verbs: string[] }[] {
  return [{ apiGroups: [""], resources: ["secrets"], resourceNames: [pullSecretName], verbs: ["get", "patch"] }];
}

export function refresherRoleArgs(instance: string, namespace: pulumi.Input<string>, pullSecretName: string): k8s.rbac.v1.RoleArgs {
  return { metadata: { name: refresherName(instance), namespace, labels: labels(instance) }, rules: refresherRules(pullSecretName) };
}

export function refresherRoleBindingArgs(
  instance: string,
  namespace: pulumi.Input<string>,
  roleName: pulumi.Input<string>,
  serviceAccountNamespace: pulumi.Input<string>,
): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: { name: refresherName(instance), namespace, labels: labels(instance) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: refresherName(instance), namespace: serviceAccountNamespace }],
  };
}

/** `ns/name,ns/name`: the copies the program patches (its TARGETS). */
export function refresherTargets(namespaces: readonly string[], pullSecretName: string): string {
  return namespaces.map((ns) => `${ns}/${pullSecretName}`).join(",");
}

export function refresherCronJobArgs(a: {
  instance: string;
  namespace: pulumi.Input<string>;
  settings: PullSecretRefresh;
  serviceAccountName: pulumi.Input<string>;
  pullSecretName: string;
  /** Every namespace holding a copy of the pull secret. */
  targets: pulumi.Input<string>;
}): k8s.batch.v1.CronJobArgs {
  const s = a.settings;
  const fromSecret = (name: string, key: string, optional?: boolean) => ({
    name,
    valueFrom: { secretKeyRef: { name: (s.credentials as { secretName: string }).secretName, key, ...(optional ? { optional } : {}) } },
  });
  const credentialEnv =
    s.credentials.kind === "secret"
      ? [
          fromSecret(AWS_SECRET_KEYS.accessKeyId, AWS_SECRET_KEYS.accessKeyId),
          fromSecret(AWS_SECRET_KEYS.secretAccessKey, AWS_SECRET_KEYS.secretAccessKey),
          fromSecret(AWS_SECRET_KEYS.sessionToken, AWS_SECRET_KEYS.sessionToken, true),
        ]
      : []; // IRSA: EKS's webhook adds AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (and its token volume).
  return hardenedCronJobArgs({
    name: refresherName(a.instance),
    namespace: a.namespace,
    labels: labels(a.instance),
    schedule: s.schedule,
    startingDeadlineSeconds: 600,
    successfulJobsHistoryLimit: 1,
    backoffLimit: 3,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 86400,
    uid: REFRESHER_UID,
    // Its own token: the program patches the Secrets as this ServiceAccount.
    serviceAccountName: a.serviceAccountName,
    imagePullSecretName: a.pullSecretName,
    container: {
      name: "ecr-refresh",
      image: s.image,
      command: [...REFRESHER_COMMAND],
      env: [
        { name: "TARGETS", value: a.targets },
        { name: "REGISTRY_HOST", value: s.registryHost },
        { name: "AWS_REGION", value: s.region },
        ...(s.registryId !== undefined ? [{ name: "REGISTRY_ID", value: s.registryId }] : []),
        // Never the node's instance role: credentials missing from the Secret or IRSA not
        // set up fail the job instead of silently using the node's identity.
        { name: "AWS_EC2_METADATA_DISABLED", value: "true" },
        ...credentialEnv,
      ],
      resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
    },
  });
}
