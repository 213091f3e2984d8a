// The executor sandbox's settings: one typed object that drives every sandbox builder
// (sandbox.ts, networkPolicy.ts, admissionPolicy.ts), its defaults, and a pure check that reports
// every problem at once as {key, rule, example}. The stack config keys that fill it are declared
// in config.ts (CONFIG_KEYS), which decides the settings once and runs this check with the rest.
import type { Labels } from "./labels";

export type SandboxPodSecurityLevel = "baseline" | "restricted";
/** `Deny` refuses a pod that breaks a rule; `Warn` admits it with a warning and an audit annotation. */
export type SandboxAdmissionAction = "Deny" | "Warn";
export type NetworkProtocol = "TCP" | "UDP" | "SCTP";

export interface CpuMemory {
  cpu: string;
  memory: string;
}

export interface PortRange {
  port: number;
  /** Inclusive end of a range starting at `port`. */
  endPort?: number;
  protocol: NetworkProtocol;
}

/** One egress allow-list entry: a CIDR minus some sub-ranges, on some ports ([] = every port). */
export interface EgressAllowEntry {
  cidr: string;
  except: string[];
  ports: PortRange[];
}

/** Where cluster DNS runs: pods matching `podLabels` in namespaces matching `namespaceLabels`. */
export interface DnsSelector {
  namespaceLabels: Labels;
  podLabels: Labels;
}

/**
 * An ingress source in the engine namespace: pods (optionally narrowed by labels) in the
 * namespaces a label selector picks, or an address range (a load balancer's, say).
 */
export type IngressSource = { namespaceLabels: Labels; podLabels?: Labels } | { cidr: string; except?: string[] };

export interface Toleration {
  key?: string;
  operator: "Equal" | "Exists";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

/** Executor pod defaults injected at admission (MutatingAdmissionPolicy); all optional. */
export interface ExecutorPodDefaults {
  /** Merged into the pod's nodeSelector (these keys win). */
  nodeSelector?: Labels;
  /** Appended to the pod's tolerations. */
  tolerations?: Toleration[];
  /** Set on every executor pod (gVisor or Kata): also required by the validating policy. */
  runtimeClassName?: string;
  /** Upper bound: a pod that asks for less keeps its own value. */
  activeDeadlineSeconds?: number;
}

export interface SandboxSettings {
  /** Instance name: object names and app.kubernetes.io/instance. */
  instance: string;
  /** Where the engine, command center and postgres run. */
  engineNamespace: string;
  /**
   * Where executor pods run. Equal to `engineNamespace`: the shared mode, where only the
   * NetworkPolicies apply (see docs/sandbox.md); anything else: a sandbox namespace of its own.
   */
  executorNamespace: string;
  podSecurity: SandboxPodSecurityLevel;
  /** Per executor container: LimitRange defaults and maximum. */
  limits: { defaultRequest: CpuMemory; default: CpuMemory; max: CpuMemory };
  /** The sandbox namespace in all: executor pods (concurrency) and total CPU and memory limits. */
  quota: { pods: number; cpu: string; memory: string };
  egressAllow: EgressAllowEntry[];
  dns: DnsSelector;
  /** Who may reach the command center (besides nobody); [] = nothing over the pod network. */
  commandCenterIngressFrom: IngressSource[];
  /** Who may reach the engine besides the command center. */
  engineIngressFrom: IngressSource[];
  admissionAction: SandboxAdmissionAction;
  /** Image prefix (host[:port][/path]) executor images must start with; undefined = any registry. */
  imageRegistry?: string;
  /** The pull secret in the sandbox namespace, referenced by its default ServiceAccount. */
  pullSecretName?: string;
  podDefaults: ExecutorPodDefaults;
  /** false when the database is external (externalPostgres): no postgres pods, so no postgres policy. Unset: in-cluster. */
  inClusterPostgres?: false;
  /** true when the backup CronJob runs (postgresBackupSchedule): its pods may reach postgres. */
  postgresBackup?: true;
  /** With ServiceMonitors (prometheusOperator): who may reach the metrics ports (metricsIngressFrom), and those ports. */
  metricsIngress?: { from: IngressSource[]; enginePort: number; commandCenterPort: number };
}

/** Private and link-local IPv4 ranges kept out of the default egress allow-list. */
export const PRIVATE_IPV4_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"];
/** The IPv6 counterparts: unique-local (fc00::/7, where AWS's fd00:ec2::254 metadata lives) and link-local. */
export const PRIVATE_IPV6_RANGES = ["fc00::/7", "fe80::/10"];

const WEB_PORTS: PortRange[] = [
  { port: 80, protocol: "TCP" },
  { port: 443, protocol: "TCP" },
];

/** The public internet on 80/443, both address families, minus the private and link-local ranges. */
export const DEFAULT_EGRESS_ALLOW: EgressAllowEntry[] = [
  { cidr: "0.0.0.0/0", except: PRIVATE_IPV4_RANGES, ports: WEB_PORTS },
  { cidr: "::/0", except: PRIVATE_IPV6_RANGES, ports: WEB_PORTS },
];

/** kube-dns / CoreDNS as most distributions label it. */
export const DEFAULT_DNS: DnsSelector = {
  namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" },
  podLabels: { "k8s-app": "kube-dns" },
};

/** Mage's executor resource defaults (its Kubernetes executor documentation) as LimitRange defaults. */
export const DEFAULT_LIMITS: SandboxSettings["limits"] = {
  defaultRequest: { cpu: "250m", memory: "512Mi" },
  default: { cpu: "500m", memory: "1Gi" },
  max: { cpu: "2", memory: "4Gi" },
};
export const DEFAULT_QUOTA: SandboxSettings["quota"] = { pods: 20, cpu: "10", memory: "20Gi" };

export const defaultExecutorNamespace = (engineNamespace: string) => `${engineNamespace}-sandbox`;

/** True when executor pods share the engine namespace (no sandbox namespace of their own). */
export const isSharedNamespace = (s: Pick<SandboxSettings, "engineNamespace" | "executorNamespace">) =>
  s.executorNamespace === s.engineNamespace;

/** The settings with every default, for a given instance and engine namespace. */
export function defaultSandboxSettings(instance: string, engineNamespace: string): SandboxSettings {
  return {
    instance,
    engineNamespace,
    executorNamespace: defaultExecutorNamespace(engineNamespace),
    podSecurity: "restricted",
    limits: structuredClone(DEFAULT_LIMITS),
    quota: { ...DEFAULT_QUOTA },
    egressAllow: structuredClone(DEFAULT_EGRESS_ALLOW),
    dns: structuredClone(DEFAULT_DNS),
    commandCenterIngressFrom: [],
    engineIngressFrom: [],
    admissionAction: "Deny",
    podDefaults: {},
  };
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface SandboxProblem {
  key: string;
  rule: string;
  example: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)$/;
const REGISTRY_PREFIX = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._\/-]*[a-z0-9])?$/;
const SYSTEM_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
const CPU_QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m)?$/;
const MEMORY_QUANTITY = /^(\d+(\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const MEMORY_FACTOR: Record<string, number> = {
  "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** CPU in cores ("500m" = 0.5), or undefined when it is not a CPU quantity. */
export function parseCpu(q: string): number | undefined {
  const m = CPU_QUANTITY.exec(q);
  if (!m) return undefined;
  return Number(m[1]) / (m[3] ? 1000 : 1);
}

/** Memory in bytes ("1Gi" = 2^30), or undefined when it is not a memory quantity. */
export function parseMemory(q: string): number | undefined {
  const m = MEMORY_QUANTITY.exec(q);
  if (!m) return undefined;
  return Number(m[1]) * MEMORY_FACTOR[m[3] ?? ""];
}

/** A parsed CIDR: family, the address as a bigint and the prefix length. */
interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255 || (p.length > 1 && p.startsWith("0"))) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(s) || s.split("::").length > 2) return undefined;
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8 || (tail !== undefined && h.length + t.length > 7)) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** Parses "a.b.c.d/n" or an IPv6 "x::/n"; undefined when malformed or when host bits are set. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const family: 4 | 6 = m[1].includes(":") ? 6 : 4;
  const width = family === 4 ? 32 : 128;
  const bits = Number(m[2]);
  const base = family === 4 ? parseIpv4(m[1]) : parseIpv6(m[1]);
  if (base === undefined || bits > width) return undefined;
  const hostMask = (1n << BigInt(width - bits)) - 1n;
  if ((base & hostMask) !== 0n) return undefined;
  return { family, base, bits };
}

/** True when `inner` is a strict sub-range of `outer` (same family, longer prefix, inside it). */
export function cidrStrictlyWithin(inner: Cidr, outer: Cidr): boolean {
  if (inner.family !== outer.family || inner.bits <= outer.bits) return false;
  const width = inner.family === 4 ? 32 : 128;
  const shift = BigInt(width - outer.bits);
  return inner.base >> shift === outer.base >> shift;
}

export function sandboxSettingsProblems(s: SandboxSettings): SandboxProblem[] {
  const out: SandboxProblem[] = [];
  const add = (key: string, rule: string, example: string) => out.push({ key, rule, example });

  if (s.executorNamespace.length > 63 || !DNS1123_LABEL.test(s.executorNamespace)) {
    add("executorNamespace", "must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)", defaultExecutorNamespace(s.engineNamespace));
  } else if (SYSTEM_NAMESPACES.has(s.executorNamespace)) {
    add("executorNamespace", `must not be a system namespace (${[...SYSTEM_NAMESPACES].join(", ")})`, defaultExecutorNamespace(s.engineNamespace));
  }
  if (s.podSecurity !== "restricted" && s.podSecurity !== "baseline") {
    add("executorPodSecurityLevel", "must be restricted or baseline (privileged would allow host access from executor pods)", "restricted");
  }

  const cpuOf = (key: string, q: string, ex: string): number | undefined => {
    const v = parseCpu(q);
    if (v === undefined || v <= 0) add(key, "must be a positive CPU quantity such as 500m or 2", ex);
    return v;
  };
  const memOf = (key: string, q: string, ex: string): number | undefined => {
    const v = parseMemory(q);
    if (v === undefined || v <= 0) add(key, "must be a positive memory quantity such as 512Mi or 4Gi", ex);
    return v;
  };
  const lr = "sandboxLimitRange";
  const tiers = ["defaultRequest", "default", "max"] as const;
  const cpus = tiers.map((t) => cpuOf(`${lr}.${t}.cpu`, s.limits[t].cpu, DEFAULT_LIMITS[t].cpu));
  const mems = tiers.map((t) => memOf(`${lr}.${t}.memory`, s.limits[t].memory, DEFAULT_LIMITS[t].memory));
  for (let i = 0; i + 1 < tiers.length; i++) {
    const [a, b] = [tiers[i], tiers[i + 1]];
    const [ca, cb, ma, mb] = [cpus[i], cpus[i + 1], mems[i], mems[i + 1]];
    if (ca !== undefined && cb !== undefined && ca > cb) add(`${lr}.${a}.cpu`, `must not exceed ${lr}.${b}.cpu (${s.limits[b].cpu})`, s.limits[b].cpu);
    if (ma !== undefined && mb !== undefined && ma > mb) add(`${lr}.${a}.memory`, `must not exceed ${lr}.${b}.memory (${s.limits[b].memory})`, s.limits[b].memory);
  }

  if (!Number.isInteger(s.quota.pods) || s.quota.pods < 1 || s.quota.pods > 10_000) {
    add("sandboxQuota.pods", "must be a whole number from 1 to 10000 (the most executor pods at once)", String(DEFAULT_QUOTA.pods));
  }
  const qc = cpuOf("sandboxQuota.cpu", s.quota.cpu, DEFAULT_QUOTA.cpu);
  const qm = memOf("sandboxQuota.memory", s.quota.memory, DEFAULT_QUOTA.memory);
  if (qc !== undefined && cpus[2] !== undefined && qc < cpus[2]) add("sandboxQuota.cpu", `must be at least ${lr}.max.cpu (${s.limits.max.cpu}), or no pod at the maximum fits`, s.limits.max.cpu);
  if (qm !== undefined && mems[2] !== undefined && qm < mems[2]) add("sandboxQuota.memory", `must be at least ${lr}.max.memory (${s.limits.max.memory}), or no pod at the maximum fits`, s.limits.max.memory);

  s.egressAllow.forEach((e, i) => checkAddressRange(`sandboxEgressAllow[${i}]`, e.cidr, e.except, add));
  s.egressAllow.forEach((e, i) =>
    e.ports.forEach((p, j) => checkPort(`sandboxEgressAllow[${i}].ports[${j}]`, p, add)),
  );

  checkLabels("sandboxDns.namespaceLabels", s.dns.namespaceLabels, true, add);
  checkLabels("sandboxDns.podLabels", s.dns.podLabels, false, add);

  checkIngressSources("commandCenterIngressFrom", s.commandCenterIngressFrom, add);
  checkIngressSources("engineIngressFrom", s.engineIngressFrom, add);

  if (s.admissionAction !== "Deny" && s.admissionAction !== "Warn") {
    add("sandboxAdmissionAction", "must be Deny, or Warn (admit, warn and audit: a dry run)", "Deny");
  }
  if (s.imageRegistry !== undefined && !REGISTRY_PREFIX.test(s.imageRegistry)) {
    add("sandboxImageRegistry", "must be a registry host with an optional port and path, without a scheme or trailing '/'", "registry.example.com/agents");
  }

  const d = s.podDefaults;
  if (isSharedNamespace(s) && needsMutatingPolicy(s)) {
    add("sandboxPodDefaults", "applies only to a sandbox namespace of its own: executorNamespace equals the engine namespace, so nothing would inject these", "pulumi config rm sandboxPodDefaults, or set executorNamespace to <namespace>-sandbox");
  }
  if (d.nodeSelector) checkLabels("sandboxPodDefaults.nodeSelector", d.nodeSelector, true, add);
  (d.tolerations ?? []).forEach((t, i) => checkToleration(`sandboxPodDefaults.tolerations[${i}]`, t, add));
  if (d.runtimeClassName !== undefined && (d.runtimeClassName.length > 253 || !DNS1123_SUBDOMAIN.test(d.runtimeClassName))) {
    add("sandboxPodDefaults.runtimeClassName", "must be a RuntimeClass name (DNS-1123 subdomain)", "gvisor");
  }
  if (d.activeDeadlineSeconds !== undefined && (!Number.isInteger(d.activeDeadlineSeconds) || d.activeDeadlineSeconds < 1)) {
    add("sandboxPodDefaults.activeDeadlineSeconds", "must be a whole number of seconds, at least 1", "3600");
  }
  return out;
}

type Add = (key: string, rule: string, example: string) => void;

/** The problems of an ingress source list of another key (metricsIngressFrom): the same rules as the engine's and command center's. */
export function ingressSourceProblems(name: string, list: readonly IngressSource[]): SandboxProblem[] {
  const out: SandboxProblem[] = [];
  checkIngressSources(name, list, (key, rule, example) => out.push({ key, rule, example }));
  return out;
}

/** Each source of an ingress list: an address range (with its exceptions) or namespace/pod labels. */
function checkIngressSources(name: string, list: readonly IngressSource[], add: Add): void {
  list.forEach((src, i) => {
    const key = `${name}[${i}]`;
    if ("cidr" in src) checkAddressRange(key, src.cidr, src.except ?? [], add);
    else {
      checkLabels(`${key}.namespaceLabels`, src.namespaceLabels, false, add);
      if (src.podLabels) checkLabels(`${key}.podLabels`, src.podLabels, false, add);
    }
  });
}

function checkAddressRange(key: string, cidr: string, except: string[], add: Add): void {
  const outer = parseCidr(cidr);
  if (!outer) {
    add(`${key}.cidr`, "must be a CIDR with no host bits set (IPv4 or IPv6)", "203.0.113.0/24");
    return;
  }
  except.forEach((x, i) => {
    const inner = parseCidr(x);
    if (!inner) add(`${key}.except[${i}]`, "must be a CIDR with no host bits set", "10.0.0.0/8");
    else if (!cidrStrictlyWithin(inner, outer)) add(`${key}.except[${i}]`, `must be a strict sub-range of ${cidr} (NetworkPolicy rejects others)`, outer.family === 4 ? "10.0.0.0/8" : "fc00::/7");
  });
}

function checkPort(key: string, p: PortRange, add: Add): void {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!valid(p.port)) add(`${key}.port`, "must be a port number from 1 to 65535", "443");
  if (p.endPort !== undefined && (!valid(p.endPort) || p.endPort < p.port)) add(`${key}.endPort`, "must be a port number not below port", "8443");
  if (!["TCP", "UDP", "SCTP"].includes(p.protocol)) add(`${key}.protocol`, "must be TCP, UDP or SCTP", "TCP");
}

/** Label keys (optionally with a DNS-subdomain prefix) and values as Kubernetes accepts them. */
function checkLabels(key: string, labels: Labels, nonEmpty: boolean, add: Add): void {
  const entries = Object.entries(labels);
  if (nonEmpty && entries.length === 0) add(key, "must have at least one label", '{"kubernetes.io/metadata.name":"kube-system"}');
  for (const [k, v] of entries) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    const keyOk = name.length <= 63 && LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
    if (!keyOk) add(`${key}.${k}`, "must be a label key ([prefix/]name, name at most 63 characters)", "node-role.example.com/sandbox");
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) add(`${key}.${k}`, "must be a label value (at most 63 letters, digits, '-', '_', '.')", "true");
  }
}

function checkToleration(key: string, t: Toleration, add: Add): void {
  if (t.operator !== "Equal" && t.operator !== "Exists") add(`${key}.operator`, "must be Equal or Exists", "Equal");
  if (t.operator === "Exists" && t.value !== undefined && t.value !== "") add(`${key}.value`, "must be empty with operator Exists", "(remove value)");
  if (t.operator === "Equal" && (t.key === undefined || t.key === "")) add(`${key}.key`, "is required with operator Equal", "sandbox.example.com/dedicated");
  if (t.effect !== undefined && !["NoSchedule", "PreferNoSchedule", "NoExecute"].includes(t.effect)) add(`${key}.effect`, "must be NoSchedule, PreferNoSchedule or NoExecute", "NoSchedule");
  if (t.tolerationSeconds !== undefined && (t.effect !== "NoExecute" || !Number.isInteger(t.tolerationSeconds))) {
    add(`${key}.tolerationSeconds`, "must be a whole number and needs effect NoExecute", "300");
  }
}

/**
 * What the cluster must serve for these settings, as messages for a preview to fail with.
 * `serverVersion` is the API server's major and minor version (e.g. from /version).
 */
export function clusterRequirementProblems(s: SandboxSettings, serverVersion: { major: number; minor: number }): SandboxProblem[] {
  const out: SandboxProblem[] = [];
  const atLeast = (minor: number) => serverVersion.major > 1 || (serverVersion.major === 1 && serverVersion.minor >= minor);
  const v = `${serverVersion.major}.${serverVersion.minor}`;
  if (isSharedNamespace(s)) return out;
  if (!atLeast(30)) {
    out.push({ key: "executorNamespace", rule: `the sandbox's ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) needs Kubernetes 1.30 or newer; this cluster is ${v}`, example: "upgrade the cluster, or set executorNamespace to the engine namespace (shared mode, fewer protections)" });
  }
  if (needsMutatingPolicy(s) && !atLeast(36)) {
    out.push({ key: "sandboxPodDefaults", rule: `injecting executor pod defaults needs MutatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.36 or newer); this cluster is ${v}`, example: "pulumi config rm sandboxPodDefaults, or upgrade the cluster to 1.36" });
  }
  return out;
}

/** True when some pod default is set, so the MutatingAdmissionPolicy is needed. */
export function needsMutatingPolicy(s: Pick<SandboxSettings, "podDefaults">): boolean {
  const d = s.podDefaults;
  return (
    Object.keys(d.nodeSelector ?? {}).length > 0 ||
    (d.tolerations ?? []).length > 0 ||
    d.runtimeClassName !== undefined ||
    d.activeDeadlineSeconds !== undefined
  );
}
