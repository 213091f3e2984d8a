// The whole stack configuration: every key declared once (CONFIG_KEYS), read once and validated
// once.
//
// CONFIG_KEYS is the only declaration of a key: its kind, default, secrecy, description, example
// and rule. Everything else is derived from it: the validator's schema and key list, the secret
// and generated-secret key types, the size of each generated secret, and (by `npm run
// gen:config`, checked in `npm test`) the `config:` block of Pulumi.yaml and the table in
// docs/program.md.
//
// `validateConfig` is pure (plain strings in, a typed config or one ConfigError listing every
// problem out) so tests cover each rule without the Pulumi runtime. `loadConfig` reads the
// stack's config through the Pulumi SDK and hands it to `validateConfig`; a secret's value never
// reaches the validator: it learns whether each one is set and, for hand-set generated secrets,
// which rule the value breaks.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
// Types only at load time: validateConfig and its tests never load the Pulumi SDK (about a second).
// loadConfig requires it when it runs.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { pullSecretName } from "./components/builders/registry";
import {
  DEFAULT_DNS,
  DEFAULT_EGRESS_ALLOW,
  DEFAULT_LIMITS,
  DEFAULT_QUOTA,
  defaultExecutorNamespace,
  ingressSourceProblems,
  type SandboxSettings,
  sandboxSettingsProblems,
} from "./components/builders/sandboxSettings";
import type { SecretEncoding } from "./components/secretValueProvider";
import { productionRules, type ProductionSettings } from "./components/builders/production";
import { type PullSecretRefresh, pullSecretRefreshRules, ROLE_ARN } from "./components/builders/pullSecretRefresh";
import { type ExternalPostgres, IN_CLUSTER_ONLY_KEYS, POSTGRES_SSL_MODES, executorReachProblems, externalPostgresRules, isDatabaseHost } from "./components/builders/postgresExternal";
import { isDeepStrictEqual } from "node:util";

export const PROJECT = "agent-platform";

// `privileged` is not offered: executor pods run agent-chosen code, and privileged would let them
// take the node (host namespaces, hostPath, privileged containers). Nothing the platform runs needs it.
export const POD_SECURITY_LEVELS = ["baseline", "restricted"] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

export const REGISTRY_MODES = ["ecr", "static", "none"] as const;
export type RegistryMode = (typeof REGISTRY_MODES)[number];

// ---------------------------------------------------------------------------------------------
// Rules

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_RULE = "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
// The Kubernetes resource.Quantity grammar (apimachinery/pkg/api/resource).
const QUANTITY = /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ACCOUNT_ID = /^\d{12}$/;
const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const REGISTRY_SERVER = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._\/-]*[a-z0-9])?$/;
const IMAGE_REPO = /^[a-z0-9]+([._\/-][a-z0-9]+)*$/;
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/;
const HEX64 = /^[0-9a-f]{64}$/i;

const dnsLabel = z.string().max(63, DNS1123_RULE).regex(DNS1123_LABEL, DNS1123_RULE);
const quantity = z.string({ error: "must be a Kubernetes quantity such as 500m, 1, 512Mi or 2Gi" }).regex(QUANTITY, "must be a Kubernetes quantity such as 500m, 1, 512Mi or 2Gi");
function objectError(shape: string) {
  return (iss: { code?: string; keys?: string[] }) =>
    iss.code === "unrecognized_keys" ? `has unknown field(s) ${(iss.keys ?? []).join(", ")}; expected ${shape}` : `must be an object ${shape}`;
}
const cpuMemory = z.strictObject({ cpu: quantity, memory: quantity }, { error: objectError("{cpu, memory}") });
const resourceSpec = z.strictObject(
  { requests: cpuMemory, limits: cpuMemory },
  { error: objectError("{requests: {cpu, memory}, limits: {cpu, memory}}") },
);

function httpUrl(rule: string, base: z.ZodString = z.string()) {
  return base.refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  }, rule);
}

/** A string that must be set: "is required" when it is missing. */
const requiredString = z.string({ error: (iss) => (iss.input === undefined ? "is required" : "must be a string") });

function intInRange(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);
}

const booleanString = z.enum(["true", "false"], { error: "must be true or false" }).transform((v) => v === "true");

function jsonObject<T extends z.ZodType>(schema: T) {
  return z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      return z.NEVER;
    }
  }).pipe(schema);
}

// The executor sandbox's objects: zod checks their shape here; the rules that need more than one
// field (quantities and their order, CIDRs, ports, label syntax, tolerations) are
// sandboxSettingsProblems' (components/builders/sandboxSettings.ts), run by validateConfig.
// Objects are partial and merged over the defaults, so `pulumi config set --path` of one field works.
const wholeNumber = z.union([z.number(), z.string().regex(/^-?\d+$/, "must be a whole number").transform(Number)], { error: "must be a whole number" });
const labelMap = z.record(z.string(), z.string({ error: "label values must be strings" }), { error: "must be an object of label keys to string values" });
const partialCpuMemory = z.strictObject({ cpu: z.string().optional(), memory: z.string().optional() }, { error: objectError("{cpu?, memory?}") });
const protocol = z.enum(["TCP", "UDP", "SCTP"], { error: "must be TCP, UDP or SCTP" });
const egressEntry = z.strictObject(
  {
    cidr: z.string({ error: "is required: a CIDR such as 203.0.113.0/24" }),
    except: z.array(z.string()).optional(),
    ports: z.array(z.strictObject({ port: wholeNumber, endPort: wholeNumber.optional(), protocol: protocol.optional() }, { error: objectError("{port, endPort?, protocol?}") })).optional(),
  },
  { error: objectError("{cidr, except?, ports?: [{port, endPort?, protocol?}]}") },
);
const ingressSource = z.union(
  [
    z.strictObject({ namespaceLabels: labelMap, podLabels: labelMap.optional() }),
    z.strictObject({ cidr: z.string(), except: z.array(z.string()).optional() }),
  ],
  { error: "each entry must be {namespaceLabels, podLabels?} or {cidr, except?}" },
);
const ingressSources = jsonObject(z.array(ingressSource, { error: "must be a JSON list of {namespaceLabels, podLabels?} or {cidr, except?}" }));
const toleration = z.strictObject(
  {
    key: z.string().optional(),
    operator: z.enum(["Equal", "Exists"], { error: "must be Equal or Exists" }).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"], { error: "must be NoSchedule, PreferNoSchedule or NoExecute" }).optional(),
    tolerationSeconds: wholeNumber.optional(),
  },
  { error: objectError("{key?, operator?, value?, effect?, tolerationSeconds?}") },
);

// ---------------------------------------------------------------------------------------------
// The declarations

/** How Pulumi.yaml declares a key's value (objects and secrets get no CLI `type`: see Pulumi.yaml). */
export type KeyKind = "string" | "integer" | "boolean" | "object";

/** What every declaration has. */
export interface KeyDeclaration {
  kind: KeyKind;
  secret: boolean;
  /** The default declared in Pulumi.yaml; `undefined` = required. "" means "unset". */
  default?: string | number | boolean | Record<string, unknown> | unknown[];
  description: string;
  example: string;
}

interface PlainDeclaration<S extends z.ZodType> extends KeyDeclaration {
  secret: false;
  /** The rule, applied to the value as a string (defaults applied, "" = unset). */
  schema: S;
}

interface SecretDeclaration extends KeyDeclaration {
  kind: "string";
  secret: true;
  default: "";
}

/** A secret the platform generates once when the operator sets none (components/generatedSecrets.ts). */
export interface GeneratedSecretDeclaration extends SecretDeclaration {
  generated: {
    /** Entropy in bytes. */
    bytes: number;
    encoding: SecretEncoding;
    /** Suffix of the generator resource's name (`platform-secrets-<role>`): part of its URN, never change it. */
    role: string;
  };
  /** The rule a hand-set value must meet; returns the broken rule or undefined. */
  check: (value: string) => string | undefined;
}

const plain = <S extends z.ZodType>(d: Omit<PlainDeclaration<S>, "secret">): PlainDeclaration<S> => ({ ...d, secret: false });
const secret = (d: { description: string; example: string }): SecretDeclaration => ({ ...d, kind: "string", secret: true, default: "" });
const atLeast16 = (v: string) => (v.length < 16 ? "must be at least 16 characters" : undefined);
const hex64 = (v: string) => (HEX64.test(v) ? undefined : "must be 64 hexadecimal characters (a 256-bit key)");
const generated = (
  d: { description: string; example: string },
  generated: GeneratedSecretDeclaration["generated"],
  check: GeneratedSecretDeclaration["check"],
): GeneratedSecretDeclaration => ({ ...secret(d), generated, check });

/**
 * The five values the platform generates once and keeps. Size and alphabet are chosen for what
 * the engine does with each.
 */
const GENERATED_SECRETS = {
  // URL-safe, so it can go into a connection string unescaped.
  postgresPassword: generated(
    { description: "Hand-set PostgreSQL password (secret). Empty: the generated one.", example: "pulumi config set --secret postgresPassword <value>" },
    { bytes: 32, encoding: "base64url", role: "postgres-password" },
    atLeast16,
  ),
  // 256-bit keys for AES-256, as 64 hex characters.
  credentialEncryptionKey: generated(
    {
      description: "Hand-set credential encryption key, 64 hex characters (secret). Empty: the generated one.",
      example: "pulumi config set --secret credentialEncryptionKey $(openssl rand -hex 32)",
    },
    { bytes: 32, encoding: "hex", role: "credential-encryption-key" },
    hex64,
  ),
  engineApiKey: generated(
    { description: "Hand-set engine API key (secret). Empty: the generated one.", example: "pulumi config set --secret engineApiKey <value>" },
    { bytes: 32, encoding: "base64url", role: "engine-api-key" },
    atLeast16,
  ),
  authSecret: generated(
    { description: "Hand-set auth secret (secret). Empty: the generated one.", example: "pulumi config set --secret authSecret <value>" },
    { bytes: 48, encoding: "base64url", role: "auth-secret" },
    atLeast16,
  ),
  logEncryptionKey: generated(
    {
      description: "Hand-set log encryption key, 64 hex characters (secret). Empty: the generated one.",
      example: "pulumi config set --secret logEncryptionKey $(openssl rand -hex 32)",
    },
    { bytes: 32, encoding: "hex", role: "log-encryption-key" },
    hex64,
  ),
};
export type GeneratedSecretName = keyof typeof GENERATED_SECRETS;
export const GENERATED_SECRET_NAMES = Object.keys(GENERATED_SECRETS) as GeneratedSecretName[];
/** The generated secrets' declarations, in declaration order. */
export const GENERATED_SECRET_DECLARATIONS: Readonly<Record<GeneratedSecretName, GeneratedSecretDeclaration>> = GENERATED_SECRETS;

const resourcesKey = (component: string, defaults: ResourceSpec, example: string) =>
  plain({
    kind: "object",
    default: { requests: { ...defaults.requests }, limits: { ...defaults.limits } },
    description: `${component} container requests and limits ({requests: {cpu, memory}, limits: {cpu, memory}}).`,
    example,
    schema: jsonObject(resourceSpec),
  });

// Production-readiness keys (see the block before secretRotation in CONFIG_KEYS).
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;
const LABEL_SELECTOR = /^!?[A-Za-z0-9][-A-Za-z0-9_./]*((!=|==|=)[A-Za-z0-9._-]*)?(,!?[A-Za-z0-9][-A-Za-z0-9_./]*((!=|==|=)[A-Za-z0-9._-]*)?)*$/;
const jsonStringArray = z.string().transform((s, ctx) => {
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && x !== "")) return v as string[];
  } catch {
    // reported below
  }
  ctx.addIssue({ code: "custom", message: "must be a JSON array of non-empty strings" });
  return z.NEVER;
});
const autoscalingSchema = z.strictObject(
  {
    minReplicas: z.number().int().min(1).max(50),
    maxReplicas: z.number().int().min(1).max(100),
    cpuUtilization: z.number().int().min(10).max(100),
  },
  { error: objectError("{minReplicas, maxReplicas, cpuUtilization} (whole numbers)") },
).partial();
const autoscalingKey = (component: string, example: string) =>
  plain({
    kind: "object",
    default: {},
    description: `${component} HorizontalPodAutoscaler {minReplicas, maxReplicas, cpuUtilization (percent of requests, default 70)}; it then owns the replica count. {}: no autoscaler.`,
    example,
    schema: jsonObject(autoscalingSchema),
  });
const metricsSchema = z.strictObject(
  {
    port: z.number().int().min(1).max(65535),
    path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, "must be an absolute URL path"),
  },
  { error: objectError("{port, path}") },
);
const metricsKey = (component: string, port: number, example: string) =>
  plain({
    kind: "object",
    default: { port, path: "/metrics" },
    description: `${component} metrics endpoint scraped by its ServiceMonitor ({port, path}); only used when prometheusOperator is true.`,
    example,
    schema: jsonObject(metricsSchema),
  });

/** Every key of the `agent-platform:` namespace, each declared here and nowhere else. */
export const CONFIG_KEYS = {
  imageTag: plain({
    kind: "string",
    description: "Image tag of the engine and command center images (required, no default).",
    example: "0.7.3",
    schema: requiredString.regex(IMAGE_TAG, "must be an image tag: letters, digits, '_', '.', '-', at most 128 characters, not starting with '.' or '-'"),
  }),
  instanceName: plain({
    kind: "string",
    default: "ai-2501",
    description: "Instance name: prefix of Service names and value of app.kubernetes.io/instance (DNS-1123 label, at most 40 characters).",
    example: "ai-2501",
    schema: dnsLabel.max(40, "must be a DNS-1123 label of at most 40 characters (Service names append up to 23)"),
  }),
  namespace: plain({
    kind: "string",
    default: "ai-2501",
    description: "Namespace of the engine, command center and postgres (DNS-1123 label).",
    example: "ai-2501",
    schema: dnsLabel,
  }),
  createNamespaces: plain({
    kind: "boolean",
    default: true,
    description:
      "true: the stack creates namespace (and executorNamespace) and owns them; false: they must exist already, the stack only sets its labels on them (Pod Security included) and never deletes them.",
    example: "false",
    schema: booleanString,
  }),
  executorNamespace: plain({
    kind: "string",
    default: "",
    description:
      "Namespace of the executor pods (DNS-1123 label). Empty: <namespace>-sandbox, a sandbox namespace of their own. Set it to namespace to keep executors in the engine namespace (shared mode: only the NetworkPolicies protect it, see docs/sandbox.md).",
    example: "ai-2501-sandbox",
    schema: dnsLabel.optional(),
  }),
  executorPodSecurityLevel: plain({
    kind: "string",
    default: "restricted",
    description: "Pod Security level enforced where executor pods run: restricted or baseline (warn and audit are always restricted).",
    example: "baseline",
    schema: z.enum(POD_SECURITY_LEVELS, { error: "must be restricted or baseline (privileged is not offered: it would let executor pods use the node)" }),
  }),
  sandboxLimitRange: plain({
    kind: "object",
    default: structuredClone(DEFAULT_LIMITS),
    description:
      "Per executor container ({defaultRequest, default, max}, each {cpu, memory}; fields left out keep their default): requests and limits given to containers without them, and the most one may ask for.",
    example: "pulumi config set --path sandboxLimitRange.max.memory 8Gi",
    schema: jsonObject(
      z.strictObject(
        { defaultRequest: partialCpuMemory.optional(), default: partialCpuMemory.optional(), max: partialCpuMemory.optional() },
        { error: objectError("{defaultRequest?, default?, max?}") },
      ),
    ),
  }),
  sandboxQuota: plain({
    kind: "object",
    default: { ...DEFAULT_QUOTA },
    description: "ResourceQuota of the sandbox namespace ({pods, cpu, memory}; fields left out keep their default): the most executor pods at once and the sum of their CPU and memory limits.",
    example: "pulumi config set --path sandboxQuota.pods 50",
    schema: jsonObject(
      z.strictObject({ pods: wholeNumber.optional(), cpu: z.string().optional(), memory: z.string().optional() }, { error: objectError("{pods?, cpu?, memory?}") }),
    ),
  }),
  sandboxEgressAllow: plain({
    kind: "object",
    // A JSON copy: the defaults share one ports list, which YAML would write as an anchor.
    default: JSON.parse(JSON.stringify(DEFAULT_EGRESS_ALLOW)) as unknown[],
    description:
      "Where executor pods may connect besides cluster DNS: a list of {cidr, except, ports: [{port, endPort?, protocol}]} (no ports: every port). Default: the public internet on TCP 80 and 443 without private, CGNAT and link-local ranges.",
    example: `pulumi config set --path 'sandboxEgressAllow[2]' '{"cidr":"203.0.113.0/24","ports":[{"port":5432,"protocol":"TCP"}]}'`,
    schema: jsonObject(z.array(egressEntry, { error: "must be a JSON list of {cidr, except?, ports?}" })),
  }),
  sandboxDns: plain({
    kind: "object",
    default: { namespaceLabels: { ...DEFAULT_DNS.namespaceLabels }, podLabels: { ...DEFAULT_DNS.podLabels } },
    description: "Where cluster DNS runs ({namespaceLabels, podLabels}): executor pods may query those pods on port 53.",
    example: `pulumi config set --path sandboxDns.podLabels '{"k8s-app":"coredns"}'`,
    schema: jsonObject(z.strictObject({ namespaceLabels: labelMap.optional(), podLabels: labelMap.optional() }, { error: objectError("{namespaceLabels?, podLabels?}") })),
  }),
  sandboxAdmissionAction: plain({
    kind: "string",
    default: "Deny",
    description: "What the executor pod admission policy does with a pod that breaks a rule: Deny, or Warn (admit it with a warning and an audit annotation: a dry run for a live system).",
    example: "Warn",
    schema: z.enum(["Deny", "Warn"], { error: "must be Deny or Warn" }),
  }),
  sandboxImageRegistry: plain({
    kind: "string",
    default: "",
    description: "Prefix (host[:port][/path]) every executor image must start with. Empty: registryServer when set, otherwise any registry.",
    example: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/executors",
    schema: z.string().regex(REGISTRY_SERVER, "must be a registry host with an optional port and path, without a scheme or trailing '/'").optional(),
  }),
  sandboxPodDefaults: plain({
    kind: "object",
    default: {},
    description:
      "Injected into every executor pod at admission by a MutatingAdmissionPolicy (Kubernetes 1.36 or newer): {nodeSelector, tolerations, runtimeClassName, activeDeadlineSeconds}, each optional.",
    example: "pulumi config set --path sandboxPodDefaults.runtimeClassName gvisor",
    schema: jsonObject(
      z.strictObject(
        { nodeSelector: labelMap.optional(), tolerations: z.array(toleration).optional(), runtimeClassName: z.string().optional(), activeDeadlineSeconds: wholeNumber.optional() },
        { error: objectError("{nodeSelector?, tolerations?, runtimeClassName?, activeDeadlineSeconds?}") },
      ),
    ),
  }),
  engineIngressFrom: plain({
    kind: "object",
    default: [],
    description: "Who may reach the engine besides the command center: a list of {namespaceLabels, podLabels?} or {cidr, except?}.",
    example: `pulumi config set --path 'engineIngressFrom[0].namespaceLabels' '{"kubernetes.io/metadata.name":"monitoring"}'`,
    schema: ingressSources,
  }),
  commandCenterIngressFrom: plain({
    kind: "object",
    default: [],
    description: "Who may reach the command center (your ingress controller or load balancer): a list of {namespaceLabels, podLabels?} or {cidr, except?}. Empty: nothing over the pod network.",
    example: `pulumi config set --path 'commandCenterIngressFrom[0].namespaceLabels' '{"kubernetes.io/metadata.name":"ingress-nginx"}'`,
    schema: ingressSources,
  }),
  publicUrl: plain({
    kind: "string",
    description: "Public URL of the command center (http or https); becomes BASE_URL.",
    example: "https://agents.example.com",
    schema: httpUrl("must be an absolute http:// or https:// URL", requiredString),
  }),
  kubeContext: plain({
    kind: "string",
    default: "",
    description: "kubeconfig context to deploy to. Empty: the current context of $KUBECONFIG.",
    example: "prod-eks",
    schema: z.string().optional(),
  }),
  renderYamlToDirectory: plain({
    kind: "string",
    default: "",
    description: "Set only by `npm run platform -- render` on its throwaway stack: the Kubernetes provider writes YAML there instead of contacting a cluster. Never set by hand.",
    example: "/tmp/render-x1y2",
    schema: z.string().regex(/^\//, "must be an absolute directory path").optional(),
  }),
  renderStack: plain({
    kind: "string",
    default: "",
    description: "Set only by `npm run platform -- render` on its throwaway stack: the stack whose manifests are rendered (it owns the objects). Never set by hand.",
    example: "organization/agent-platform/prod",
    schema: z.string().regex(/^[^/\s]+\/[^/\s]+\/[^/\s]+$/, "must be <organization>/<project>/<stack>").optional(),
  }),
  registryMode: plain({
    kind: "string",
    default: "none",
    description: "How images are pulled: ecr (short-lived token from AWS ECR), static (server, username, password) or none (public images, no pull secret).",
    example: "ecr",
    schema: z.enum(REGISTRY_MODES, { error: "must be one of ecr, static, none" }),
  }),
  registryServer: plain({
    kind: "string",
    default: "",
    description: "Image registry prefix (host[/path]). ecr: derived from registryId and registryRegion when empty; static: required; none: optional.",
    example: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    schema: z.string().regex(REGISTRY_SERVER, "must be a registry host with an optional port and path, without a scheme").optional(),
  }),
  registryRegion: plain({
    kind: "string",
    default: "",
    description: "ecr mode: AWS region of the registry.",
    example: "eu-west-1",
    schema: z.string().regex(AWS_REGION, "must be an AWS region name").optional(),
  }),
  registryId: plain({
    kind: "string",
    default: "",
    description: "ecr mode: AWS account id that owns the registry (12 digits).",
    example: "123456789012",
    schema: z.string().regex(ACCOUNT_ID, "must be a 12-digit AWS account id").optional(),
  }),
  registryUsername: plain({
    kind: "string",
    default: "",
    description: "static mode: registry user name.",
    example: "robot$agent-platform",
    schema: z.string().optional(),
  }),
  registryPassword: secret({ description: "static mode: registry password or token (secret).", example: "pulumi config set --secret registryPassword <token>" }),
  // --- The in-cluster ECR pull-secret refresher (rules: pullSecretRefreshRules in components/builders/pullSecretRefresh.ts).
  pullSecretRefresh: plain({
    kind: "object",
    default: {},
    description:
      "ecr mode: the CronJob that renews the ECR pull secret in the cluster {enabled (default true), schedule (cron, default every 6 hours), " +
      "image (must hold /bin/ecr-refresh and be pullable without the ECR token it renews; default <registryServer>/ecr-refresh:<imageTag>), " +
      "serviceAccountRoleArn (EKS IRSA) or awsCredentialsSecret (an existing Secret in the engine namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): exactly one}.",
    example: "pulumi config set --path pullSecretRefresh.serviceAccountRoleArn arn:aws:iam::123456789012:role/ecr-pull-refresh",
    schema: jsonObject(
      z.strictObject(
        {
          enabled: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")], { error: "must be true or false" }).optional(),
          schedule: z.string().regex(CRON, "must be a five-field cron schedule or @hourly, @daily, ...").optional(),
          image: z.string().regex(IMAGE_REF, "must be an image reference").optional(),
          awsCredentialsSecret: z.string().regex(DNS1123_SUBDOMAIN, "must be a Secret name (DNS-1123 subdomain)").optional(),
          serviceAccountRoleArn: z.string().regex(ROLE_ARN, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)").optional(),
        },
        { error: objectError("{enabled?, schedule?, image?, awsCredentialsSecret?, serviceAccountRoleArn?}") },
      ),
    ),
  }),
  engineImageRepository: plain({
    kind: "string",
    default: "engine",
    description: "Repository of the engine image under registryServer.",
    example: "engine",
    schema: z.string().regex(IMAGE_REPO, "must be an image repository path (lowercase)"),
  }),
  commandCenterImageRepository: plain({
    kind: "string",
    default: "command-center",
    description: "Repository of the command center image under registryServer.",
    example: "command-center",
    schema: z.string().regex(IMAGE_REPO, "must be an image repository path (lowercase)"),
  }),
  postgresImage: plain({
    kind: "string",
    default: "postgres:16",
    description: "Full PostgreSQL image reference (a Debian-based image: it runs as uid/gid 999).",
    example: "postgres:16.6",
    schema: z.string().regex(IMAGE_REF, "must be an image reference"),
  }),
  elasticsearchUrl: plain({
    kind: "string",
    default: "",
    description: "Elasticsearch URL (http or https). Empty: no Elasticsearch settings are passed.",
    example: "https://es.example.com:9200",
    schema: httpUrl("must be an absolute http:// or https:// URL").optional(),
  }),
  elasticsearchUsername: plain({
    kind: "string",
    default: "",
    description: "Elasticsearch user (required with elasticsearchUrl).",
    example: "agent-engine",
    schema: z.string().optional(),
  }),
  elasticsearchPassword: secret({
    description: "Elasticsearch password (secret; required with elasticsearchUrl).",
    example: "pulumi config set --secret elasticsearchPassword <password>",
  }),
  awsRegion: plain({
    kind: "string",
    default: "",
    description: "AWS region for the engine (AWS_REGION). Empty: no AWS settings are passed.",
    example: "eu-west-1",
    schema: z.string().regex(AWS_REGION, "must be an AWS region name").optional(),
  }),
  awsAccessKeyId: plain({
    kind: "string",
    default: "",
    description: "AWS access key id for the engine, also used by the ecr-mode AWS provider when set.",
    example: "AKIAIOSFODNN7EXAMPLE",
    schema: z.string().regex(/^[A-Z0-9]{16,128}$/, "must be an AWS access key id (uppercase letters and digits)").optional(),
  }),
  awsSecretAccessKey: secret({
    description: "AWS secret access key (secret; required with awsAccessKeyId).",
    example: "pulumi config set --secret awsSecretAccessKey <key>",
  }),
  licensePublicKey: plain({
    kind: "string",
    default: "",
    description: "License public key as a PEM (set exactly one of licensePublicKey and licensePublicKeyFile).",
    example: "cat license.public.pem | pulumi config set licensePublicKey",
    schema: z.string().optional(),
  }),
  licensePublicKeyFile: plain({
    kind: "string",
    default: "",
    description: "Path (relative to the project) of the license public key PEM file.",
    example: "./license.public.pem",
    schema: z.string().optional(),
  }),
  postgresStorageSize: plain({
    kind: "string",
    default: "10Gi",
    description: "Size of the postgres PersistentVolumeClaim (Kubernetes quantity).",
    example: "20Gi",
    schema: quantity,
  }),
  postgresStorageClass: plain({
    kind: "string",
    default: "",
    description: "StorageClass of the postgres PVC. Empty: the cluster default.",
    example: "gp3",
    schema: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a StorageClass name (DNS-1123 subdomain)").optional(),
  }),
  engineReplicas: plain({ kind: "integer", default: 1, description: "Engine replicas (1-20).", example: "2", schema: intInRange(1, 20) }),
  commandCenterReplicas: plain({ kind: "integer", default: 1, description: "Command center replicas (1-20).", example: "2", schema: intInRange(1, 20) }),
  engineResources: resourcesKey(
    "Engine",
    { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
    "pulumi config set --path engineResources.limits.memory 4Gi",
  ),
  commandCenterResources: resourcesKey(
    "Command center",
    { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    "pulumi config set --path commandCenterResources.requests.cpu 200m",
  ),
  postgresResources: resourcesKey(
    "Postgres",
    { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    "pulumi config set --path postgresResources.limits.memory 2Gi",
  ),
  // --- Production readiness: a way in, availability, graceful shutdown, executor cleanup, monitoring
  // (cross-field rules: productionRules in components/builders/production.ts).
  ingressClassName: plain({
    kind: "string",
    default: "",
    description: "IngressClass of an Ingress for the command center (host and path from publicUrl). Empty: no Ingress.",
    example: "nginx",
    schema: z.string().regex(DNS1123_SUBDOMAIN, "must be an IngressClass name (DNS-1123 subdomain)").optional(),
  }),
  ingressHost: plain({
    kind: "string",
    default: "",
    description: "Optional check of the Ingress/HTTPRoute host: when set it must equal publicUrl's host (the host always comes from publicUrl).",
    example: "agents.example.com",
    schema: z.string().optional(),
  }),
  ingressTlsSecretName: plain({
    kind: "string",
    default: "",
    description: "TLS of the Ingress from an existing kubernetes.io/tls Secret in namespace (exclusive with ingressCertManagerIssuer).",
    example: "agents-example-com-tls",
    schema: z.string().regex(DNS1123_SUBDOMAIN, "must be a Secret name (DNS-1123 subdomain)").optional(),
  }),
  ingressCertManagerIssuer: plain({
    kind: "string",
    default: "",
    description: "TLS of the Ingress from cert-manager: the ClusterIssuer named in the cert-manager.io/cluster-issuer annotation; the certificate goes to Secret <instanceName>-command-center-tls.",
    example: "letsencrypt-prod",
    schema: z.string().regex(DNS1123_SUBDOMAIN, "must be a ClusterIssuer name (DNS-1123 subdomain)").optional(),
  }),
  gatewayParent: plain({
    kind: "string",
    default: "",
    description: "Gateway API: <namespace>/<gateway>[/<listener>] the command center's HTTPRoute attaches to (TLS is the Gateway's). Exclusive with ingressClassName. Empty: no HTTPRoute.",
    example: "gateway-system/public/https",
    schema: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, "must be <namespace>/<gateway> or <namespace>/<gateway>/<listener>").optional(),
  }),
  engineAutoscaling: autoscalingKey("Engine", "pulumi config set --path engineAutoscaling.maxReplicas 6"),
  commandCenterAutoscaling: autoscalingKey("Command center", "pulumi config set --path commandCenterAutoscaling.maxReplicas 4"),
  engineTerminationGracePeriodSeconds: plain({
    kind: "integer",
    default: 300,
    description: "Seconds a stopping engine pod gets (PreStop hook included) before it is killed, so in-flight executor tasks can end (30-86400).",
    example: "600",
    schema: intInRange(30, 86400),
  }),
  enginePreStopCommand: plain({
    kind: "string",
    default: "",
    description: "Engine PreStop hook as a JSON array (exec, e.g. a drain command of the engine image). Empty: a built-in 10-second sleep so endpoints drop the pod before SIGTERM.",
    example: '["/app/bin/engine","drain","--timeout","270"]',
    schema: jsonStringArray.optional(),
  }),
  executorCleanupSchedule: plain({
    kind: "string",
    default: "",
    description: "Cron schedule of a CronJob deleting executor pods older than executorCleanupMaxAgeMinutes. Empty: no cleanup CronJob.",
    example: "*/15 * * * *",
    schema: z.string().regex(CRON, "must be a five-field cron schedule or @hourly, @daily, ...").optional(),
  }),
  executorCleanupMaxAgeMinutes: plain({
    kind: "integer",
    default: 360,
    description: "Age in minutes after which an executor pod counts as orphaned and is deleted by the cleanup CronJob (5-10080).",
    example: "120",
    schema: intInRange(5, 10080),
  }),
  executorCleanupSelector: plain({
    kind: "string",
    default: "",
    description: "Label selector of executor pods for the cleanup (pods of this platform are always excluded). Required when executors share the engine namespace.",
    example: "app.kubernetes.io/managed-by=agent-engine",
    schema: z.string().regex(LABEL_SELECTOR, "must be a label selector (key=value, key!=value, key or !key, comma-separated)").optional(),
  }),
  executorCleanupImage: plain({
    kind: "string",
    default: "",
    description: "Image of the cleanup CronJob; it must have `node` on PATH (the cleanup is a small Node.js program). Empty: the engine image.",
    example: "node:22-alpine",
    schema: z.string().regex(IMAGE_REF, "must be an image reference").optional(),
  }),
  prometheusOperator: plain({
    kind: "boolean",
    default: false,
    description: "true when the Prometheus Operator CRDs are installed: a ServiceMonitor for the engine and one for the command center.",
    example: "true",
    schema: booleanString,
  }),
  postgresAllowMajorUpgrade: plain({
    kind: "boolean",
    default: false,
    description: "true allows deploying a postgresImage of another major version than the one the data claim was last deployed with (only after a dump and restore).",
    example: "true",
    schema: booleanString,
  }),
  postgresBackupSchedule: plain({
    kind: "string",
    default: "",
    description: "Cron schedule of a CronJob running pg_dump (custom format) of the in-cluster PostgreSQL into PVC <instanceName>-postgres-backup. Empty: no backups.",
    example: "30 2 * * *",
    schema: z.string().regex(CRON, "must be a five-field cron schedule or @hourly, @daily, ...").optional(),
  }),
  postgresBackupRetentionDays: plain({
    kind: "integer",
    default: 7,
    description: "Days a backup dump is kept before the backup job deletes it (1-365).",
    example: "14",
    schema: intInRange(1, 365),
  }),
  postgresBackupStorageSize: plain({
    kind: "string",
    default: "20Gi",
    description: "Size of the backup PVC (Kubernetes quantity; StorageClass as postgresStorageClass).",
    example: "50Gi",
    schema: quantity,
  }),
  engineMetrics: metricsKey("Engine", 8080, "pulumi config set --path engineMetrics.path /internal/metrics"),
  commandCenterMetrics: metricsKey("Command center", 3000, "pulumi config set --path commandCenterMetrics.port 9464"),
  // --- An external PostgreSQL and the metrics port's ingress (components/builders/postgresExternal.ts, networkPolicy.ts).
  externalPostgres: plain({
    kind: "object",
    default: {},
    description:
      "An external PostgreSQL instead of the in-cluster one: {host, port (5432), database, user, sslMode (require; disable, allow, prefer, require, verify-ca, verify-full), inClusterDataMigrated}; the password is externalPostgresPassword. {}: the in-cluster PostgreSQL.",
    example: `pulumi config set --path externalPostgres '{"host":"db.example.com","database":"engine","user":"engine","sslMode":"verify-full"}'`,
    schema: jsonObject(
      z.strictObject(
        {
          host: z.string({ error: "must be a string" }).refine(isDatabaseHost, "must be a DNS name or an IP address (no scheme, port or brackets)").optional(),
          port: wholeNumber.pipe(z.number().min(1, "must be a port from 1 to 65535").max(65535, "must be a port from 1 to 65535")).optional(),
          database: z.string({ error: "must be a string" }).optional(),
          user: z.string({ error: "must be a string" }).optional(),
          sslMode: z.enum(POSTGRES_SSL_MODES, { error: `must be one of ${POSTGRES_SSL_MODES.join(", ")}` }).optional(),
          inClusterDataMigrated: z.union([z.boolean(), booleanString], { error: "must be true or false" }).optional(),
        },
        { error: objectError("{host, port?, database, user, sslMode?, inClusterDataMigrated?}") },
      ),
    ),
  }),
  externalPostgresPassword: secret({
    description: "Password of externalPostgres.user (secret; required with externalPostgres).",
    example: "pulumi config set --secret externalPostgresPassword <password>",
  }),
  metricsIngressFrom: plain({
    kind: "object",
    default: [{ namespaceLabels: { "kubernetes.io/metadata.name": "monitoring" } }],
    description:
      "Who may reach the engine's and command center's metrics ports (engineMetrics, commandCenterMetrics) when prometheusOperator is true: a list of {namespaceLabels, podLabels?} or {cidr, except?}. Default: the namespace monitoring. []: nobody.",
    example: `pulumi config set --path 'metricsIngressFrom[0].namespaceLabels' '{"kubernetes.io/metadata.name":"prometheus"}'`,
    schema: ingressSources,
  }),
  secretRotation: plain({
    kind: "object",
    default: {},
    description:
      "Rotation keepers of the generated secrets, set by `npm run platform -- rotate-secret <name>`: a new non-empty value regenerates that secret in place (it stays protected); removing one changes nothing.",
    example: "npm run platform -- rotate-secret engineApiKey --stack prod",
    schema: jsonObject(
      z.partialRecord(z.enum(GENERATED_SECRET_NAMES as [GeneratedSecretName, ...GeneratedSecretName[]]), z.string().min(1, "values must be non-empty strings"), {
        error: `must be an object whose keys are among ${GENERATED_SECRET_NAMES.join(", ")} and whose values are rotation strings`,
      }),
    ),
  }),
  ...GENERATED_SECRETS,
};

type Declarations = typeof CONFIG_KEYS;
export type ConfigKey = keyof Declarations;
export type SecretKey = { [K in ConfigKey]: Declarations[K] extends { secret: true } ? K : never }[ConfigKey];
export type PlainKey = Exclude<ConfigKey, SecretKey>;
export const SECRET_KEYS = (Object.keys(CONFIG_KEYS) as ConfigKey[]).filter((k): k is SecretKey => CONFIG_KEYS[k].secret);
const PLAIN_KEYS = (Object.keys(CONFIG_KEYS) as ConfigKey[]).filter((k): k is PlainKey => !CONFIG_KEYS[k].secret);
const declaration = (key: string): KeyDeclaration | undefined => (CONFIG_KEYS as Record<string, KeyDeclaration>)[key];

const plainSchema = z.object(
  Object.fromEntries(PLAIN_KEYS.map((k) => [k, CONFIG_KEYS[k].schema])) as { [K in PlainKey]: Declarations[K]["schema"] },
);

export interface RawConfig {
  values: Partial<Record<PlainKey, string>>;
  secretsSet: Partial<Record<SecretKey, boolean>>;
  /** Hand-set generated secrets whose value breaks its rule: the rule, never the value. */
  secretProblems?: Partial<Record<GeneratedSecretName, string>>;
}

export interface ResourceSpec {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export type RegistrySettings =
  | { mode: "ecr"; region: string; registryId?: string; server: string; host: string }
  | { mode: "static"; server: string; host: string; username: string }
  | { mode: "none"; server?: string };

/** The validated, typed configuration without secret values (those stay Outputs, see PlatformConfig). */
export interface ValidatedConfig {
  imageTag: string;
  instanceName: string;
  namespace: string;
  /**
   * Where executor pods run, decided here once: `<namespace>-sandbox` unless executorNamespace is
   * set; `separate` is false only when executorNamespace is the engine namespace (shared mode).
   */
  executors: { namespace: string; separate: boolean };
  /** Everything the executor sandbox's objects are built from (components/sandbox.ts), decided here. */
  sandbox: SandboxSettings;
  /** false: the namespaces exist already and are only labelled, never created or deleted. */
  createNamespaces: boolean;
  executorPodSecurityLevel: PodSecurityLevel;
  publicUrl: string;
  kubeContext?: string;
  /** Render mode (see renderYamlToDirectory in CONFIG_KEYS): write manifests, touch no cluster. */
  renderYamlToDirectory?: string;
  /** Render mode: the rendered stack (see renderStack in CONFIG_KEYS). */
  renderStack?: string;
  registry: RegistrySettings;
  /** ecr mode: the in-cluster refresher of the pull secret (components/builders/pullSecretRefresh.ts); undefined otherwise or when disabled. */
  pullSecretRefresh?: PullSecretRefresh;
  images: { engine: string; commandCenter: string; postgres: string };
  elasticsearch?: { url: string; username: string };
  aws?: { region?: string; accessKeyId?: string };
  licensePublicKeyPem: string;
  postgres: { storageSize: string; storageClass?: string; resources: ResourceSpec };
  engine: { replicas: number; resources: ResourceSpec };
  commandCenter: { replicas: number; resources: ResourceSpec };
  secretRotation: Record<GeneratedSecretName, string>;
  /** A way in, availability, engine shutdown, executor cleanup, monitoring (components/builders/production.ts). */
  production: ProductionSettings;
  /** Which generated secrets the operator set by hand. */
  secretOverrides: Record<GeneratedSecretName, boolean>;
  /** The external database; undefined: the in-cluster PostgreSQL (components/builders/postgresExternal.ts). */
  externalPostgres?: ExternalPostgres;
}

export interface PlatformSecrets {
  registryPassword?: pulumi.Output<string>;
  elasticsearchPassword?: pulumi.Output<string>;
  awsSecretAccessKey?: pulumi.Output<string>;
  /** The external database's password (externalPostgres). */
  externalPostgresPassword?: pulumi.Output<string>;
  /** Hand-set values of generated secrets (only those that are set). */
  overrides: Partial<Record<GeneratedSecretName, pulumi.Output<string>>>;
}

export interface PlatformConfig extends ValidatedConfig {
  secrets: PlatformSecrets;
}

export interface ConfigIssue {
  key: string;
  /** The offending value, or "(unset)"; "(secret)" for secret keys: a secret's value is never shown. */
  value: string;
  rule: string;
  example: string;
}

export class ConfigError extends Error {
  constructor(public readonly issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = "ConfigError";
  }
}

function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map(
    (i) => `  - ${PROJECT}:${i.key} = ${i.value}: ${i.rule}. Example: ${i.example}`,
  );
  return `Invalid stack configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}); nothing was deployed:\n${lines.join("\n")}`;
}

export interface ValidateOptions {
  /** Reads licensePublicKeyFile; defaults to fs.readFileSync relative to `baseDir`. */
  readFile?: (file: string) => string;
  baseDir?: string;
}

function display(key: string, values: Record<string, string | undefined>): string {
  const d = declaration(key);
  if (d === undefined) return "(not shown)"; // an unknown key may be a mistyped secret
  if (d.secret) return "(secret)";
  const v = values[key];
  if (v === undefined) return "(unset)";
  const shown = v.length > 120 ? `${v.slice(0, 117)}...` : v;
  return JSON.stringify(shown);
}

function exampleFor(key: string): string {
  return declaration(key)?.example ?? "see the configuration table in docs/program.md";
}

function defaultsApplied(values: Partial<Record<PlainKey, string>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of PLAIN_KEYS) {
    const given = values[key];
    if (given !== undefined && given !== "") {
      out[key] = given;
      continue;
    }
    const d = CONFIG_KEYS[key].default;
    if (d === undefined || d === "") out[key] = undefined;
    else out[key] = typeof d === "string" ? d : JSON.stringify(d);
  }
  return out;
}

/** Edit distance, case-insensitive: how far a mistyped key is from a known one. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length];
}

/** The known key nearest to a mistyped one, when it is near enough to be the likely intent. */
export function nearestKey(unknown: string): ConfigKey | undefined {
  let best: { key: ConfigKey; d: number } | undefined;
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const d = distance(unknown, key);
    if (best === undefined || d < best.d) best = { key, d };
  }
  return best && best.d <= Math.max(2, Math.floor(unknown.length / 3)) ? best.key : undefined;
}

/** Namespaces the cluster itself owns: never this program's, whatever the config says. */
export const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "default"] as const;

/** Validates a whole stack config; throws one ConfigError that lists every problem. */
export function validateConfig(raw: RawConfig, options: ValidateOptions = {}): ValidatedConfig {
  const values = defaultsApplied(raw.values);
  const issues: ConfigIssue[] = [];
  const add = (key: string, rule: string) =>
    issues.push({ key, value: display(key, values), rule, example: exampleFor(key) });

  for (const k of Object.keys(raw.values)) {
    const d = declaration(k);
    if (d === undefined) {
      const near = nearestKey(k);
      add(k, `is not a key this program reads${near ? `; did you mean ${PROJECT}:${near}?` : ""} (every key is listed in docs/program.md)`);
    } else if (d.secret) {
      add(k, `is a secret: set it with \`pulumi config set --secret ${k} <value>\``);
    }
  }

  const parsed = plainSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "(config)");
      const sub = issue.path.slice(1).map(String).join(".");
      add(key, sub ? `${sub}: ${issue.message}` : issue.message);
    }
  }
  const set = (k: SecretKey) => raw.secretsSet[k] === true;

  // Cross-field rules (each reported against the key that has to change).
  // (executorNamespace: sandboxSettingsProblems below checks it, with the namespace it defaults to.)
  if (values.namespace !== undefined && (SYSTEM_NAMESPACES as readonly string[]).includes(values.namespace)) {
    add("namespace", `must not be a namespace the cluster owns (${SYSTEM_NAMESPACES.join(", ")}): choose a namespace of this instance`);
  }
  for (const [name, rule] of Object.entries(raw.secretProblems ?? {})) {
    if (rule !== undefined) add(name, `(hand-set) ${rule}`);
  }

  const mode = values.registryMode;
  let registry: RegistrySettings | undefined;
  const server = values.registryServer;
  const host = server?.split("/")[0];
  if (mode === "ecr") {
    if (values.registryRegion === undefined) add("registryRegion", "is required when registryMode is ecr");
    let registryId = values.registryId;
    const ecrHost = host !== undefined ? ECR_HOST.exec(host) : null;
    if (server !== undefined && ecrHost === null) add("registryServer", "must be an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com[/path]) when registryMode is ecr");
    if (registryId === undefined && ecrHost) registryId = ecrHost[1];
    if (registryId === undefined && server === undefined) add("registryId", "is required when registryMode is ecr and registryServer is empty");
    if (ecrHost && values.registryId !== undefined && ecrHost[1] !== values.registryId) add("registryServer", `must belong to registryId ${values.registryId}`);
    if (ecrHost && values.registryRegion !== undefined && ecrHost[2] !== values.registryRegion) add("registryServer", `must be in registryRegion ${values.registryRegion}`);
    if (values.registryRegion !== undefined && (server !== undefined || registryId !== undefined)) {
      const s = server ?? `${registryId}.dkr.ecr.${values.registryRegion}.amazonaws.com`;
      registry = { mode: "ecr", region: values.registryRegion, registryId, server: s, host: s.split("/")[0] };
    }
    if (set("registryPassword")) add("registryPassword", "is only used when registryMode is static");
  } else if (mode === "static") {
    if (server === undefined) add("registryServer", "is required when registryMode is static");
    if (values.registryUsername === undefined) add("registryUsername", "is required when registryMode is static");
    if (!set("registryPassword")) add("registryPassword", "is required (as a secret) when registryMode is static");
    if (server !== undefined && host !== undefined && values.registryUsername !== undefined) {
      registry = { mode: "static", server, host, username: values.registryUsername };
    }
  } else if (mode === "none") {
    if (set("registryPassword")) add("registryPassword", "is only used when registryMode is static");
    registry = { mode: "none", server };
  }

  if (values.elasticsearchUrl !== undefined) {
    if (values.elasticsearchUsername === undefined) add("elasticsearchUsername", "is required when elasticsearchUrl is set");
    if (!set("elasticsearchPassword")) add("elasticsearchPassword", "is required (as a secret) when elasticsearchUrl is set");
  } else {
    if (values.elasticsearchUsername !== undefined) add("elasticsearchUrl", "is required when elasticsearchUsername is set");
    else if (set("elasticsearchPassword")) add("elasticsearchUrl", "is required when elasticsearchPassword is set");
  }
  if (values.awsAccessKeyId !== undefined && !set("awsSecretAccessKey")) add("awsSecretAccessKey", "is required (as a secret) when awsAccessKeyId is set");
  if (values.awsAccessKeyId === undefined && set("awsSecretAccessKey")) add("awsAccessKeyId", "is required when awsSecretAccessKey is set");

  let licensePublicKeyPem: string | undefined;
  const pemInline = values.licensePublicKey;
  const pemFile = values.licensePublicKeyFile;
  if (pemInline !== undefined && pemFile !== undefined) {
    add("licensePublicKeyFile", "must be empty when licensePublicKey is set (set exactly one of the two)");
  } else if (pemInline === undefined && pemFile === undefined) {
    add("licensePublicKey", "is required: set licensePublicKey (a PEM) or licensePublicKeyFile (a path)");
  } else if (pemInline !== undefined) {
    licensePublicKeyPem = checkPublicKey(pemInline, (rule) => add("licensePublicKey", rule));
  } else if (pemFile !== undefined) {
    const read = options.readFile ?? ((f: string) => fs.readFileSync(path.resolve(options.baseDir ?? process.cwd(), f), "utf8"));
    let text: string | undefined;
    try {
      text = read(pemFile);
    } catch (e) {
      add("licensePublicKeyFile", `must name a readable file (${(e as Error).message})`);
    }
    if (text !== undefined) licensePublicKeyPem = checkPublicKey(text, (rule) => add("licensePublicKeyFile", `must hold a PEM public key: ${rule}`));
  }

  const failedKeys = new Set(parsed.success ? [] : parsed.error.issues.map((i) => String(i.path[0])));
  const sandbox = sandboxSettings(values, failedKeys, registry);
  if (sandbox !== undefined) {
    const explicit = (k: PlainKey) => raw.values[k] !== undefined && raw.values[k] !== "";
    if (sandbox.executorNamespace === sandbox.engineNamespace) {
      // Shared mode: these objects would bind the engine, command center and postgres too, so they
      // are not created; a value set for them would be silently ignored.
      for (const k of ["sandboxLimitRange", "sandboxQuota", "sandboxAdmissionAction", "sandboxImageRegistry"] as const) {
        if (explicit(k)) add(k, "applies only to a sandbox namespace of its own, and executorNamespace is the engine namespace (shared mode): remove it, or leave executorNamespace empty");
      }
    }
    for (const p of sandboxSettingsProblems(sandbox)) {
      const m = /^([A-Za-z]+)(.*)$/.exec(p.key);
      const key = m?.[1] ?? p.key;
      const sub = (m?.[2] ?? "").replace(/^\./, "");
      const defaulted = key === "executorNamespace" && !explicit("executorNamespace") ? ` (unset: the default ${sandbox.executorNamespace})` : "";
      issues.push({ key, value: display(key, values), rule: `${sub ? `${sub}: ` : ""}${p.rule}${defaulted}`, example: p.example });
    }
  }

  let production: ProductionSettings | undefined;
  // Where executor pods run, decided once from the sandbox settings.
  const executors = sandbox !== undefined ? { namespace: sandbox.executorNamespace, separate: sandbox.executorNamespace !== sandbox.engineNamespace } : undefined;
  if (parsed.success && executors !== undefined) {
    const p = parsed.data;
    // Pulumi hands the program Pulumi.yaml's defaults as if set: a replica count other than its
    // default is what counts as set by hand.
    const explicitlySet = (k: "engineReplicas" | "commandCenterReplicas") => values[k] !== undefined && values[k] !== String(CONFIG_KEYS[k].default);
    production = productionRules(
      {
        ...p,
        replicasSet: { engineReplicas: explicitlySet("engineReplicas"), commandCenterReplicas: explicitlySet("commandCenterReplicas") },
        executors,
        engineImage: `${registry?.server ? `${registry.server}/` : ""}${p.engineImageRepository}:${p.imageTag}`,
      },
      add,
    );
    // The sandbox's NetworkPolicies deny ingress in the engine namespace: a way in needs its
    // controller's (or Gateway's) pods allowed to the command center.
    if (production.exposure.kind !== "none" && sandbox !== undefined && sandbox.commandCenterIngressFrom.length === 0) {
      add("commandCenterIngressFrom", "is required when ingressClassName or gatewayParent is set: the engine namespace denies ingress by default, so allow the ingress controller's or Gateway's namespace");
    }
  }

  const pullSecretRefresh = parsed.success && registry !== undefined ? pullSecretRefreshRules(parsed.data.pullSecretRefresh, registry, parsed.data.imageTag, add) : undefined;
  // An external database instead of the in-cluster one; the metrics ports' ingress.
  let externalPostgres: ExternalPostgres | undefined;
  if (parsed.success) {
    const p = parsed.data;
    const isDefault = (k: (typeof IN_CLUSTER_ONLY_KEYS)[number]) => {
      const v = raw.values[k];
      if (v === undefined || v === "") return true;
      const d = CONFIG_KEYS[k].default;
      if (typeof d !== "object") return v === String(d);
      try {
        return isDeepStrictEqual(JSON.parse(v), d);
      } catch {
        return false;
      }
    };
    externalPostgres = externalPostgresRules(
      p.externalPostgres,
      IN_CLUSTER_ONLY_KEYS.filter((k) => !isDefault(k)),
      { externalPostgresPassword: set("externalPostgresPassword"), postgresPassword: set("postgresPassword") },
      add,
    );
    // Executors must not reach the database: refuse an allow-list that would let them.
    if (externalPostgres !== undefined && sandbox !== undefined) for (const r of executorReachProblems(externalPostgres, sandbox.egressAllow)) add(r.key, r.rule);
    for (const q of ingressSourceProblems("metricsIngressFrom", p.metricsIngressFrom)) {
      const m = /^metricsIngressFrom(.*)$/.exec(q.key);
      issues.push({ key: "metricsIngressFrom", value: display("metricsIngressFrom", values), rule: `${(m?.[1] ?? "").replace(/^\./, "")}: ${q.rule}`, example: q.example });
    }
    if (!p.prometheusOperator && !isDeepStrictEqual(p.metricsIngressFrom, CONFIG_KEYS.metricsIngressFrom.default)) {
      add("metricsIngressFrom", "is only used when prometheusOperator is true (it opens the metrics ports to Prometheus): set prometheusOperator true, or remove metricsIngressFrom");
    }
  }

  if (issues.length > 0 || !parsed.success || registry === undefined || licensePublicKeyPem === undefined || sandbox === undefined || executors === undefined || production === undefined) {
    if (issues.length === 0) add("(config)", "could not be validated");
    throw new ConfigError(issues);
  }
  const d = parsed.data;
  const prefix = registry.server ? `${registry.server}/` : "";
  const rotation = Object.fromEntries(GENERATED_SECRET_NAMES.map((n) => [n, d.secretRotation[n] ?? ""])) as Record<GeneratedSecretName, string>;
  const overrides = Object.fromEntries(GENERATED_SECRET_NAMES.map((n) => [n, set(n)])) as Record<GeneratedSecretName, boolean>;
  return {
    imageTag: d.imageTag,
    instanceName: d.instanceName,
    namespace: d.namespace,
    createNamespaces: d.createNamespaces,
    executors,
    // The engine namespace's NetworkPolicies follow where the database is and whether metrics are scraped.
    sandbox: {
      ...sandbox,
      ...(externalPostgres !== undefined ? { inClusterPostgres: false as const } : {}),
      ...(production.postgresBackup !== undefined && externalPostgres === undefined ? { postgresBackup: true as const } : {}),
      ...(production.monitoring !== undefined
        ? { metricsIngress: { from: d.metricsIngressFrom, enginePort: production.monitoring.engine.port, commandCenterPort: production.monitoring.commandCenter.port } }
        : {}),
    },
    executorPodSecurityLevel: d.executorPodSecurityLevel,
    publicUrl: d.publicUrl,
    kubeContext: d.kubeContext,
    renderYamlToDirectory: d.renderYamlToDirectory,
    renderStack: d.renderStack,
    registry,
    pullSecretRefresh,
    images: {
      engine: `${prefix}${d.engineImageRepository}:${d.imageTag}`,
      commandCenter: `${prefix}${d.commandCenterImageRepository}:${d.imageTag}`,
      postgres: d.postgresImage,
    },
    elasticsearch: d.elasticsearchUrl !== undefined && d.elasticsearchUsername !== undefined ? { url: d.elasticsearchUrl, username: d.elasticsearchUsername } : undefined,
    aws: d.awsRegion !== undefined || d.awsAccessKeyId !== undefined ? { region: d.awsRegion, accessKeyId: d.awsAccessKeyId } : undefined,
    licensePublicKeyPem,
    postgres: { storageSize: d.postgresStorageSize, storageClass: d.postgresStorageClass, resources: d.postgresResources },
    engine: { replicas: d.engineReplicas, resources: d.engineResources },
    commandCenter: { replicas: d.commandCenterReplicas, resources: d.commandCenterResources },
    secretRotation: rotation,
    secretOverrides: overrides,
    production,
    externalPostgres,
  };
}

/** The keys the sandbox settings are made of (besides namespace and instanceName). */
const SANDBOX_KEYS = [
  "executorNamespace",
  "executorPodSecurityLevel",
  "sandboxLimitRange",
  "sandboxQuota",
  "sandboxEgressAllow",
  "sandboxDns",
  "sandboxAdmissionAction",
  "sandboxImageRegistry",
  "sandboxPodDefaults",
  "engineIngressFrom",
  "commandCenterIngressFrom",
] as const satisfies readonly PlainKey[];

type Parsed<K extends PlainKey> = z.output<Declarations[K]["schema"]>;

/**
 * The sandbox settings, decided once: each key parsed on its own, so the rules between fields
 * (sandboxSettingsProblems) still run when an unrelated key is wrong; a key whose shape is wrong
 * (already reported) counts as its default. Undefined when instanceName or namespace is wrong:
 * every sandbox name derives from them.
 */
function sandboxSettings(
  values: Record<string, string | undefined>,
  failed: Set<string>,
  registry: RegistrySettings | undefined,
): SandboxSettings | undefined {
  if (failed.has("instanceName") || failed.has("namespace") || values.instanceName === undefined || values.namespace === undefined) return undefined;
  function get<K extends (typeof SANDBOX_KEYS)[number]>(k: K): Parsed<K> {
    const declared = CONFIG_KEYS[k];
    const fallback = declared.default === "" ? undefined : typeof declared.default === "string" ? declared.default : JSON.stringify(declared.default);
    const r = declared.schema.safeParse(failed.has(k) ? fallback : values[k]);
    if (!r.success) throw new Error(`the default of ${k} does not pass its own rule`);
    return r.data as Parsed<K>;
  }
  const instance = values.instanceName;
  const engineNamespace = values.namespace;
  const limits = get("sandboxLimitRange");
  const quota = get("sandboxQuota");
  const dns = get("sandboxDns");
  const pod = get("sandboxPodDefaults");
  const imageRegistry = get("sandboxImageRegistry") ?? registry?.server;
  return {
    instance,
    engineNamespace,
    executorNamespace: get("executorNamespace") ?? defaultExecutorNamespace(engineNamespace),
    podSecurity: get("executorPodSecurityLevel"),
    limits: {
      defaultRequest: { ...DEFAULT_LIMITS.defaultRequest, ...limits.defaultRequest },
      default: { ...DEFAULT_LIMITS.default, ...limits.default },
      max: { ...DEFAULT_LIMITS.max, ...limits.max },
    },
    quota: { ...DEFAULT_QUOTA, ...quota },
    egressAllow: get("sandboxEgressAllow").map((e) => ({
      cidr: e.cidr,
      except: e.except ?? [],
      ports: (e.ports ?? []).map((p) => ({ port: p.port, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}), protocol: p.protocol ?? "TCP" })),
    })),
    dns: { namespaceLabels: dns.namespaceLabels ?? { ...DEFAULT_DNS.namespaceLabels }, podLabels: dns.podLabels ?? { ...DEFAULT_DNS.podLabels } },
    engineIngressFrom: get("engineIngressFrom"),
    commandCenterIngressFrom: get("commandCenterIngressFrom"),
    admissionAction: get("sandboxAdmissionAction"),
    imageRegistry,
    // The pull secret the namespace's default ServiceAccount references: the copy RegistryPullSecret puts there.
    pullSecretName: registry !== undefined && registry.mode !== "none" ? pullSecretName(instance) : undefined,
    podDefaults: {
      ...(pod.nodeSelector !== undefined && Object.keys(pod.nodeSelector).length > 0 ? { nodeSelector: pod.nodeSelector } : {}),
      ...(pod.tolerations !== undefined && pod.tolerations.length > 0
        ? { tolerations: pod.tolerations.map((t) => ({ ...t, operator: t.operator ?? "Equal" })) }
        : {}),
      ...(pod.runtimeClassName !== undefined && pod.runtimeClassName !== "" ? { runtimeClassName: pod.runtimeClassName } : {}),
      ...(pod.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: pod.activeDeadlineSeconds } : {}),
    },
  };
}

function checkPublicKey(pem: string, report: (rule: string) => void): string | undefined {
  const text = pem.trim() + "\n";
  if (!/-----BEGIN PUBLIC KEY-----/.test(text)) {
    report("must be a PEM public key (-----BEGIN PUBLIC KEY-----); a private key or certificate is not accepted");
    return undefined;
  }
  try {
    crypto.createPublicKey(text);
    return text;
  } catch (e) {
    report(`must be a PEM public key that parses (${(e as Error).message})`);
    return undefined;
  }
}

/**
 * Reads and validates the stack config through the Pulumi SDK. Throws ConfigError before anything
 * is registered. Every key of the project's namespace is looked at, so a mistyped key is reported
 * too. Secret values stay Outputs (`requireSecret`); the validator learns whether each is set and,
 * for a hand-set generated secret, which rule its value breaks, never the value.
 */
export function loadConfig(options: ValidateOptions = {}): PlatformConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk: typeof import("@pulumi/pulumi") = require("@pulumi/pulumi");
  const cfg = new sdk.Config(PROJECT);
  const values: Record<string, string> = {};
  const secretsSet: Partial<Record<SecretKey, boolean>> = {};
  const secretProblems: Partial<Record<GeneratedSecretName, string>> = {};
  const prefix = `${PROJECT}:`;
  for (const [fullKey, value] of Object.entries(sdk.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const d = declaration(key);
    if (d?.secret) {
      secretsSet[key as SecretKey] = value !== "";
      const generatedSecret = (GENERATED_SECRET_DECLARATIONS as Record<string, GeneratedSecretDeclaration>)[key];
      const problem = value !== "" ? generatedSecret?.check(value) : undefined;
      if (problem !== undefined) secretProblems[key as GeneratedSecretName] = problem;
    } else {
      values[key] = value;
    }
  }
  const validated = validateConfig({ values: values as Partial<Record<PlainKey, string>>, secretsSet, secretProblems }, options);
  const secretIfSet = (key: SecretKey): pulumi.Output<string> | undefined => (secretsSet[key] ? cfg.requireSecret(key) : undefined);
  const overrides: Partial<Record<GeneratedSecretName, pulumi.Output<string>>> = {};
  for (const name of GENERATED_SECRET_NAMES) {
    const v = secretIfSet(name);
    if (v) overrides[name] = v;
  }
  return {
    ...validated,
    secrets: {
      registryPassword: secretIfSet("registryPassword"),
      elasticsearchPassword: secretIfSet("elasticsearchPassword"),
      awsSecretAccessKey: secretIfSet("awsSecretAccessKey"),
      externalPostgresPassword: secretIfSet("externalPostgresPassword"),
      overrides,
    },
  };
}
