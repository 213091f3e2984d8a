// The executor sandbox builders: settings checks, namespace controls, NetworkPolicies and the
// CEL admission policies. Selectors are checked against the labels the workload builders
// really put on pod templates; CEL is checked for shape here and compiled and run by the real
// API server in test/integration/sandbox.test.ts (the program deployed to the local cluster).
import type * as k8s from "@pulumi/kubernetes";
import { describe, expect, it } from "vitest";
import {
  celString,
  executorMutatingBinding,
  executorMutatingPolicy,
  executorPodMutations,
  executorValidatingBinding,
  executorValidatingPolicy,
  jsonPointerToken,
  validationActions,
} from "../../components/builders/admissionPolicy";
import { commandCenterLabels, COMMAND_CENTER_PORT } from "../../components/builders/commandCenter";
import { engineLabels, ENGINE_PORT } from "../../components/builders/engine";
import {
  engineNetworkPolicies,
  type LabelSelector,
  type NetworkPolicyManifest,
  type NetworkPolicyPeer,
  sandboxNetworkPolicies,
} from "../../components/builders/networkPolicy";
import { postgresDeploymentArgs, POSTGRES_PORT } from "../../components/builders/postgres";
import { sandboxDefaultServiceAccountPatch, sandboxLimitRange, sandboxNamespace, sandboxResourceQuota } from "../../components/builders/sandbox";
import { sandboxManifests } from "../../components/builders/sandboxManifests";
import { parseServerVersion } from "../../components/clusterReader";
import {
  cidrStrictlyWithin,
  clusterRequirementProblems,
  defaultSandboxSettings,
  parseCidr,
  parseCpu,
  parseMemory,
  type SandboxSettings,
  sandboxSettingsProblems,
} from "../../components/builders/sandboxSettings";

const base = (): SandboxSettings => ({ ...defaultSandboxSettings("ai-2501", "ai-2501"), pullSecretName: "ai-2501-registry" });
const res = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } };

// The labels each Deployment's pods really carry, taken from the workload builders.
type Obj = Record<string, unknown>;
const templateLabels = (d: unknown): Record<string, string> => (((d as Obj).spec as Obj).template as { metadata: { labels: Record<string, string> } }).metadata.labels;
// (The workload builders put exactly these labels on the pod templates: test/unit/builders.test.ts.)
const enginePod = engineLabels("ai-2501");
const ccPod = commandCenterLabels("ai-2501");
const pgPod = templateLabels(
  postgresDeploymentArgs({ namespace: "ai-2501", instance: "ai-2501", image: "p", resources: res, secretName: "s", pvcName: "v", checksum: "x" }),
);
const executorPod = { "agent-engine.io/executor": "run-1" };

/** Label-selector semantics (matchLabels AND matchExpressions), as the API defines them. */
function selects(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (sel === undefined) return true;
  const okLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const okExpr = (sel.matchExpressions ?? []).every((e) => {
    const has = e.key in labels;
    switch (e.operator) {
      case "In": return has && (e.values ?? []).includes(labels[e.key]);
      case "NotIn": return !has || !(e.values ?? []).includes(labels[e.key]);
      case "Exists": return has;
      case "DoesNotExist": return !has;
    }
    return false;
  });
  return okLabels && okExpr;
}

/** Does a peer (same-namespace semantics when no namespaceSelector) admit this pod? */
function peerAdmits(peer: NetworkPolicyPeer, policyNs: string, pod: { ns: string; nsLabels: Record<string, string>; labels: Record<string, string> }): boolean {
  if (peer.ipBlock) return false;
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, pod.nsLabels) : pod.ns === policyNs;
  return nsOk && selects(peer.podSelector, pod.labels);
}

/** A small ingress evaluator over our own policies (the independent check is cyclonus, in integration). */
function ingressAllowed(pols: NetworkPolicyManifest[], dest: { ns: string; labels: Record<string, string> }, src: { ns: string; labels: Record<string, string> }, port: number): boolean {
  const nsLabels = (ns: string) => ({ "kubernetes.io/metadata.name": ns });
  const applying = pols.filter((p) => p.metadata.namespace === dest.ns && p.spec.policyTypes.includes("Ingress") && selects(p.spec.podSelector, dest.labels));
  if (applying.length === 0) return true;
  return applying.some((p) =>
    (p.spec.ingress ?? []).some(
      (r) =>
        (r.ports === undefined || r.ports.some((x) => x.port === port)) &&
        r.from.some((peer) => peerAdmits(peer, p.metadata.namespace ?? "", { ns: src.ns, nsLabels: nsLabels(src.ns), labels: src.labels })),
    ),
  );
}

describe("sandbox settings", () => {
  it("defaults pass, and the default executor namespace is a separate <namespace>-sandbox", () => {
    const s = defaultSandboxSettings("ai-2501", "ai-2501");
    expect(sandboxSettingsProblems(s)).toEqual([]);
    expect(s.executorNamespace).not.toBe(s.engineNamespace);
    expect(s.podSecurity).toBe("restricted");
    expect(s.admissionAction).toBe("Deny");
  });

  it("reports every problem at once, each with its key, rule and an example", () => {
    const s = base();
    s.executorNamespace = "Kube_System";
    s.podSecurity = "privileged" as SandboxSettings["podSecurity"];
    s.limits.default.cpu = "4"; // above max (2)
    s.limits.defaultRequest.memory = "lots";
    s.quota.pods = 0;
    s.quota.memory = "1Gi"; // below max memory
    s.egressAllow = [{ cidr: "10.0.0.1/8", except: [], ports: [{ port: 70000, protocol: "TCP" }] }, { cidr: "0.0.0.0/0", except: ["fc00::/7"], ports: [] }];
    s.admissionAction = "Audit" as SandboxSettings["admissionAction"];
    s.imageRegistry = "https://registry.example.com/";
    s.podDefaults = { tolerations: [{ operator: "Exists", value: "x" }], runtimeClassName: "GVisor", activeDeadlineSeconds: 0 };
    s.commandCenterIngressFrom = [{ cidr: "not-a-cidr" }];
    s.dns = { namespaceLabels: {}, podLabels: { "bad key!": "v" } };
    const problems = sandboxSettingsProblems(s);
    const keys = problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        "executorNamespace",
        "executorPodSecurityLevel",
        "sandboxLimitRange.default.cpu",
        "sandboxLimitRange.defaultRequest.memory",
        "sandboxQuota.pods",
        "sandboxQuota.memory",
        "sandboxEgressAllow[0].cidr",
        "sandboxEgressAllow[0].ports[0].port",
        "sandboxEgressAllow[1].except[0]",
        "sandboxAdmissionAction",
        "sandboxImageRegistry",
        "sandboxPodDefaults.tolerations[0].value",
        "sandboxPodDefaults.runtimeClassName",
        "sandboxPodDefaults.activeDeadlineSeconds",
        "commandCenterIngressFrom[0].cidr",
        "sandboxDns.namespaceLabels",
        "sandboxDns.podLabels.bad key!",
      ]),
    );
    for (const p of problems) {
      expect(p.rule.length).toBeGreaterThan(10);
      expect(p.example.length).toBeGreaterThan(0);
    }
  });

  it("refuses system namespaces and pod defaults that nothing would inject in the shared mode", () => {
    const sys = { ...base(), executorNamespace: "kube-system" };
    expect(sandboxSettingsProblems(sys).map((p) => p.key)).toEqual(["executorNamespace"]);
    const shared = { ...base(), executorNamespace: "ai-2501", podDefaults: { runtimeClassName: "gvisor" } };
    expect(sandboxSettingsProblems(shared).map((p) => p.key)).toEqual(["sandboxPodDefaults"]);
  });

  it("parses quantities and CIDRs the way the API server reads them", () => {
    expect(parseCpu("500m")).toBe(0.5);
    expect(parseCpu("2")).toBe(2);
    expect(parseCpu("2Gi")).toBeUndefined();
    expect(parseMemory("1Gi")).toBe(2 ** 30);
    expect(parseMemory("512M")).toBe(512e6);
    expect(parseMemory("1x")).toBeUndefined();
    expect(parseCidr("10.0.0.0/8")).toBeDefined();
    expect(parseCidr("10.0.0.1/8")).toBeUndefined(); // host bits set: the API server refuses it
    expect(parseCidr("256.0.0.0/8")).toBeUndefined();
    expect(parseCidr("fd00:ec2::/32")).toBeDefined();
    expect(parseCidr("fd00::1/64")).toBeUndefined();
    const within = (a: string, b: string) => cidrStrictlyWithin(parseCidr(a)!, parseCidr(b)!);
    expect(within("169.254.0.0/16", "0.0.0.0/0")).toBe(true);
    expect(within("0.0.0.0/0", "0.0.0.0/0")).toBe(false);
    expect(within("10.0.0.0/8", "192.168.0.0/16")).toBe(false);
    expect(within("fc00::/7", "0.0.0.0/0")).toBe(false);
  });

  it("says which Kubernetes version the mutating policy needs, and only when pod defaults are set", () => {
    const plain = base();
    expect(clusterRequirementProblems(plain, { major: 1, minor: 34 })).toEqual([]);
    const withDefaults = { ...base(), podDefaults: { runtimeClassName: "gvisor" } };
    const old = clusterRequirementProblems(withDefaults, { major: 1, minor: 35 });
    expect(old.map((p) => p.key)).toEqual(["sandboxPodDefaults"]);
    expect(old[0].rule).toContain("1.36");
    expect(old[0].rule).toContain("1.35");
    expect(clusterRequirementProblems(withDefaults, { major: 1, minor: 36 })).toEqual([]);
    expect(clusterRequirementProblems(plain, { major: 1, minor: 29 }).map((p) => p.key)).toEqual(["executorNamespace"]);
  });

  it("reads the server version as managed clusters report it", () => {
    expect(parseServerVersion({ major: "1", minor: "36", gitVersion: "v1.36.3" })).toEqual({ major: 1, minor: 36, gitVersion: "v1.36.3" });
    expect(parseServerVersion({ major: "1", minor: "35+", gitVersion: "v1.35.2-eks-1a2b3c" })).toMatchObject({ major: 1, minor: 35 });
    expect(parseServerVersion({ major: "", minor: "", gitVersion: "v1.34.1-gke.100" })).toMatchObject({ major: 1, minor: 34 });
    expect(() => parseServerVersion({ gitVersion: "unknown" })).toThrow(/version this program cannot read/);
  });
});

describe("sandbox namespace controls", () => {
  it("enforces restricted by default and baseline when asked; warn and audit stay restricted", () => {
    const l = sandboxNamespace(base()).metadata.labels ?? {};
    expect(l["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const b = sandboxNamespace({ ...base(), podSecurity: "baseline" }).metadata.labels ?? {};
    expect(b["pod-security.kubernetes.io/enforce"]).toBe("baseline");
    expect(b["pod-security.kubernetes.io/warn"]).toBe("restricted");
    expect(b["pod-security.kubernetes.io/audit"]).toBe("restricted");
    expect(sandboxNamespace(base()).metadata.name).toBe("ai-2501-sandbox");
  });

  it("LimitRange gives containers the configured defaults and caps them", () => {
    const s = base();
    s.limits.max.memory = "8Gi";
    const lr = sandboxLimitRange(s);
    expect(lr.metadata.namespace).toBe(s.executorNamespace);
    expect(lr.spec.limits).toHaveLength(1);
    const [c] = lr.spec.limits;
    expect(c.type).toBe("Container");
    expect(parseCpu(c.defaultRequest.cpu)! <= parseCpu(c.default.cpu)!).toBe(true);
    expect(c.max.memory).toBe("8Gi");
    expect(c.default).toEqual(s.limits.default);
  });

  it("ResourceQuota bounds pods and the sum of limits (which makes limits mandatory)", () => {
    const s = { ...base(), quota: { pods: 7, cpu: "3", memory: "6Gi" } };
    const q = sandboxResourceQuota(s);
    expect(q.metadata.namespace).toBe(s.executorNamespace);
    expect(q.spec.hard).toEqual({ pods: "7", "limits.cpu": "3", "limits.memory": "6Gi" });
  });

  it("the default ServiceAccount mounts no token and carries the pull secret", () => {
    const sa = sandboxDefaultServiceAccountPatch(base());
    expect(sa.metadata).toEqual({ name: "default", namespace: "ai-2501-sandbox" });
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.imagePullSecrets).toEqual([{ name: "ai-2501-registry" }]);
    expect(sandboxDefaultServiceAccountPatch({ ...base(), pullSecretName: undefined }).imagePullSecrets).toBeUndefined();
  });

  it("plain manifests are valid Pulumi args (compile-time check)", () => {
    const s = base();
    const ns: k8s.core.v1.NamespaceArgs = sandboxNamespace(s);
    const lr: k8s.core.v1.LimitRangeArgs = sandboxLimitRange(s);
    const q: k8s.core.v1.ResourceQuotaArgs = sandboxResourceQuota(s);
    const sa: k8s.core.v1.ServiceAccountPatchArgs = sandboxDefaultServiceAccountPatch(s);
    const np: k8s.networking.v1.NetworkPolicyArgs = sandboxNetworkPolicies(s)[0];
    const vap: k8s.admissionregistration.v1.ValidatingAdmissionPolicyArgs = executorValidatingPolicy(s);
    const vapb: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingArgs = executorValidatingBinding(s);
    expect([ns, lr, q, sa, np, vap, vapb].every((o) => o !== undefined)).toBe(true);
  });
});

describe("sandbox NetworkPolicies", () => {
  const s = base();
  const pols = sandboxNetworkPolicies(s);

  it("isolate every pod in the sandbox for ingress and egress, with no ingress rule at all", () => {
    const isolating = pols.filter((p) => selects(p.spec.podSelector, executorPod));
    expect(isolating.length).toBe(2);
    expect(new Set(isolating.flatMap((p) => p.spec.policyTypes))).toEqual(new Set(["Ingress", "Egress"]));
    expect(isolating.flatMap((p) => p.spec.ingress ?? [])).toEqual([]);
    expect(pols.every((p) => p.metadata.namespace === "ai-2501-sandbox")).toBe(true);
  });

  it("allow DNS to kube-dns in kube-system on 53/UDP and 53/TCP only", () => {
    const egress = pols.flatMap((p) => p.spec.egress ?? []);
    const kubeSystem = { ns: "kube-system", nsLabels: { "kubernetes.io/metadata.name": "kube-system" }, labels: { "k8s-app": "kube-dns" } };
    const dnsRules = egress.filter((r) => r.to.some((peer) => peerAdmits(peer, "ai-2501-sandbox", kubeSystem)));
    expect(dnsRules).toHaveLength(1);
    expect(dnsRules[0].ports).toEqual(expect.arrayContaining([{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]));
    expect(dnsRules[0].ports).toHaveLength(2);
    // Another pod in kube-system (the API server's own, say) is not a DNS peer.
    expect(egress.some((r) => r.to.some((peer) => peerAdmits(peer, "ai-2501-sandbox", { ...kubeSystem, labels: { component: "kube-apiserver" } })))).toBe(false);
    // No rule reaches pods in the engine namespace.
    const enginePeer = { ns: "ai-2501", nsLabels: { "kubernetes.io/metadata.name": "ai-2501" }, labels: pgPod };
    expect(egress.some((r) => r.to.some((peer) => peerAdmits(peer, "ai-2501-sandbox", enginePeer)))).toBe(false);
  });

  it("allow the public internet on 80/443 only, excluding RFC 1918, CGNAT and link-local (metadata)", () => {
    const blocks = pols.flatMap((p) => p.spec.egress ?? []).filter((r) => r.to.some((x) => x.ipBlock));
    const v4 = blocks.find((r) => r.to[0].ipBlock?.cidr === "0.0.0.0/0");
    expect(v4).toBeDefined();
    const except = v4!.to[0].ipBlock?.except ?? [];
    for (const addr of ["10.1.2.3/32", "172.20.0.1/32", "192.168.1.1/32", "100.100.100.100/32", "169.254.169.254/32"]) {
      expect(except.some((x) => cidrStrictlyWithin(parseCidr(addr)!, parseCidr(x)!))).toBe(true);
    }
    expect(except.some((x) => cidrStrictlyWithin(parseCidr("93.184.216.34/32")!, parseCidr(x)!))).toBe(false);
    expect(v4!.ports?.map((p) => p.port).sort()).toEqual([443, 80]);
    expect(v4!.ports?.every((p) => p.protocol === "TCP")).toBe(true);
    // Every rule names its destinations: an empty `to` would mean anywhere.
    expect(pols.flatMap((p) => p.spec.egress ?? []).every((r) => r.to.length > 0)).toBe(true);
  });

  it("an allow-list entry without ports allows every port to that range; a range keeps endPort", () => {
    const e = sandboxNetworkPolicies({ ...base(), egressAllow: [{ cidr: "203.0.113.0/24", except: [], ports: [] }, { cidr: "198.51.100.0/24", except: [], ports: [{ port: 8000, endPort: 8100, protocol: "TCP" }] }] });
    const rules = e.flatMap((p) => p.spec.egress ?? []).filter((r) => r.to[0].ipBlock);
    expect(rules[0]).toEqual({ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }] });
    expect(rules[1].ports).toEqual([{ protocol: "TCP", port: 8000, endPort: 8100 }]);
  });

  it("shared mode: only an egress policy, for pods that are not the platform's own", () => {
    const shared = { ...base(), executorNamespace: "ai-2501" };
    const p = sandboxNetworkPolicies(shared);
    expect(p).toHaveLength(1);
    expect(p[0].spec.policyTypes).toEqual(["Egress"]);
    expect(selects(p[0].spec.podSelector, executorPod)).toBe(true);
    for (const ours of [enginePod, ccPod, pgPod]) expect(selects(p[0].spec.podSelector, ours)).toBe(false);
    expect(sandboxManifests(shared).every((m) => m.kind === "NetworkPolicy")).toBe(true);
  });
});

describe("engine namespace NetworkPolicies", () => {
  const at = (ns: string, labels: Record<string, string>) => ({ ns, labels });
  const ENG = "ai-2501";

  it("postgres accepts the engine and the command center on 5432, nothing else", () => {
    const pols = engineNetworkPolicies(base());
    const pg = at(ENG, pgPod);
    expect(ingressAllowed(pols, pg, at(ENG, enginePod), POSTGRES_PORT)).toBe(true);
    expect(ingressAllowed(pols, pg, at(ENG, ccPod), POSTGRES_PORT)).toBe(true);
    expect(ingressAllowed(pols, pg, at(ENG, executorPod), POSTGRES_PORT)).toBe(false);
    expect(ingressAllowed(pols, pg, at("ai-2501-sandbox", executorPod), POSTGRES_PORT)).toBe(false);
    expect(ingressAllowed(pols, pg, at("other", enginePod), POSTGRES_PORT)).toBe(false); // same labels, other namespace
    expect(ingressAllowed(pols, pg, at(ENG, enginePod), 22)).toBe(false);
  });

  it("the engine accepts the command center and the configured sources; the command center only configured sources", () => {
    const s = { ...base(), engineIngressFrom: [{ namespaceLabels: { "kubernetes.io/metadata.name": "monitoring" } }], commandCenterIngressFrom: [{ namespaceLabels: { "kubernetes.io/metadata.name": "ingress-nginx" }, podLabels: { "app.kubernetes.io/name": "ingress-nginx" } }] };
    const pols = engineNetworkPolicies(s);
    const eng = at(ENG, enginePod);
    const cc = at(ENG, ccPod);
    expect(ingressAllowed(pols, eng, at(ENG, ccPod), ENGINE_PORT)).toBe(true);
    expect(ingressAllowed(pols, eng, at("monitoring", { any: "pod" }), ENGINE_PORT)).toBe(true);
    expect(ingressAllowed(pols, eng, at(ENG, pgPod), ENGINE_PORT)).toBe(false);
    expect(ingressAllowed(pols, eng, at("ai-2501-sandbox", executorPod), ENGINE_PORT)).toBe(false);
    expect(ingressAllowed(pols, cc, at("ingress-nginx", { "app.kubernetes.io/name": "ingress-nginx" }), COMMAND_CENTER_PORT)).toBe(true);
    expect(ingressAllowed(pols, cc, at("ingress-nginx", { "app.kubernetes.io/name": "other" }), COMMAND_CENTER_PORT)).toBe(false);
    expect(ingressAllowed(pols, cc, at(ENG, enginePod), COMMAND_CENTER_PORT)).toBe(false);
  });

  it("with no command center source configured, nothing reaches it and no rule has an empty `from`", () => {
    const pols = engineNetworkPolicies(base());
    expect(ingressAllowed(pols, at(ENG, ccPod), at("ingress-nginx", {}), COMMAND_CENTER_PORT)).toBe(false);
    expect(pols.flatMap((p) => p.spec.ingress ?? []).every((r) => r.from.length > 0)).toBe(true);
    // Default deny covers any other pod of the namespace.
    expect(ingressAllowed(pols, at(ENG, { other: "pod" }), at(ENG, enginePod), 80)).toBe(false);
    expect(pols.every((p) => p.metadata.namespace === ENG && !p.spec.policyTypes.includes("Egress"))).toBe(true);
  });

  it("a CIDR source becomes an ipBlock peer", () => {
    const pols = engineNetworkPolicies({ ...base(), commandCenterIngressFrom: [{ cidr: "10.0.0.0/16", except: ["10.0.5.0/24"] }] });
    const cc = pols.find((p) => selects(p.spec.podSelector, ccPod) && p.spec.ingress);
    expect(cc?.spec.ingress?.[0].from).toEqual([{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.5.0/24"] } }]);
  });
});

/** CEL shape: balanced brackets outside string literals, and only object/variables as roots. */
function celShapeProblems(expr: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (quote) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if ("([{".includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) out.push(`unbalanced ${ch} at ${i}`);
  }
  if (quote) out.push("unterminated string");
  if (stack.length) out.push(`unclosed ${stack.join("")}`);
  return out;
}

describe("executor pod admission policies", () => {
  it("validating policy: pods in the sandbox only, CREATE and UPDATE, fail closed, every expression well formed", () => {
    const s = { ...base(), imageRegistry: "registry.example.com/agents", podDefaults: { runtimeClassName: "gvisor" } };
    const vap = executorValidatingPolicy(s);
    expect(vap.spec.failurePolicy).toBe("Fail");
    expect(vap.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }]);
    const exprs = [...vap.spec.variables.map((v) => v.expression), ...vap.spec.validations.flatMap((v) => [v.expression, v.messageExpression ?? "''"])];
    for (const e of exprs) expect(celShapeProblems(e), e).toEqual([]);
    for (const v of vap.spec.validations) expect(v.message ?? v.messageExpression).toBeTruthy();
    const b = executorValidatingBinding(s);
    expect(b.spec.policyName).toBe(vap.metadata.name);
    expect(b.spec.matchResources.namespaceSelector.matchLabels).toEqual({ "kubernetes.io/metadata.name": "ai-2501-sandbox" });
  });

  it("registry rule only when a registry is configured, anchored at a path boundary", () => {
    const without = executorValidatingPolicy(base()).spec.validations;
    expect(without.some((v) => v.expression.includes("startsWith"))).toBe(false);
    const withReg = executorValidatingPolicy({ ...base(), imageRegistry: "registry.example.com" }).spec.validations;
    const rule = withReg.find((v) => v.expression.includes("startsWith"));
    // "registry.example.com.evil.io/x" must not pass: the prefix ends with "/".
    expect(rule?.expression).toContain(celString("registry.example.com/"));
    expect(rule?.expression).toContain("variables.images");
  });

  it("checks each listed control, covering init and ephemeral containers", () => {
    const vap = executorValidatingPolicy(base());
    const all = vap.spec.validations.map((v) => v.expression).join("\n");
    for (const needle of ["hostNetwork", "hostPID", "hostIPC", "hostPath", "privileged", "serviceAccountName", "automountServiceAccountToken", "serviceAccountToken", "'cpu' in c.resources.limits", "'memory' in c.resources.limits"]) {
      expect(all).toContain(needle);
    }
    const vars = Object.fromEntries(vap.spec.variables.map((v) => [v.name, v.expression]));
    expect(vars.containers).toContain("initContainers");
    expect(vars.ephemeral).toContain("ephemeralContainers");
    expect(vars.images).toContain("variables.ephemeral");
  });

  it("Deny by default; Warn + Audit as a dry run", () => {
    expect(validationActions("Deny")).toEqual(["Deny"]);
    expect(validationActions("Warn")).toEqual(["Warn", "Audit"]);
    expect(executorValidatingBinding({ ...base(), admissionAction: "Warn" }).spec.validationActions).toEqual(["Warn", "Audit"]);
  });

  it("mutating policy only when a pod default is set; on CREATE of sandbox pods", () => {
    expect(executorMutatingPolicy(base())).toBeUndefined();
    expect(executorMutatingBinding(base())).toBeUndefined();
    expect(sandboxManifests(base()).some((m) => m.kind === "MutatingAdmissionPolicy")).toBe(false);
    const s = { ...base(), podDefaults: { nodeSelector: { sandbox: "true" }, runtimeClassName: "gvisor", activeDeadlineSeconds: 3600, tolerations: [{ key: "sandbox", operator: "Equal" as const, value: "true", effect: "NoSchedule" as const }] } };
    const map = executorMutatingPolicy(s)!;
    expect(map.apiVersion).toBe("admissionregistration.k8s.io/v1");
    expect(map.spec.matchConstraints.resourceRules[0].operations).toEqual(["CREATE"]);
    expect(map.spec.mutations).toHaveLength(4);
    for (const m of map.spec.mutations) {
      const e = m.applyConfiguration?.expression ?? m.jsonPatch?.expression ?? "";
      expect(celShapeProblems(e), e).toEqual([]);
    }
    expect(executorMutatingBinding(s)?.spec.policyName).toBe(map.metadata.name);
    const kinds = sandboxManifests(s).map((m) => m.kind);
    // Mutating before validating policy, policy before its binding.
    expect(kinds.indexOf("MutatingAdmissionPolicy")).toBeLessThan(kinds.indexOf("MutatingAdmissionPolicyBinding"));
    expect(kinds.indexOf("ValidatingAdmissionPolicy")).toBeLessThan(kinds.indexOf("ValidatingAdmissionPolicyBinding"));
  });

  it("tolerations are appended (the pod keeps its own); nodeSelector patched per key; activeDeadlineSeconds is an upper bound", () => {
    const [tol] = executorPodMutations({ tolerations: [{ key: "a", operator: "Exists", effect: "NoSchedule" }] });
    expect(tol.patchType).toBe("JSONPatch");
    expect(tol.jsonPatch?.expression).toContain('"/spec/tolerations/-"');
    expect(tol.jsonPatch?.expression).toMatch(/^has\(object\.spec\.tolerations\) \?/);
    // nodeSelector is an atomic map: JSON patches per key, "/" in a key escaped as "~1".
    const [sel] = executorPodMutations({ nodeSelector: { "example.com/pool": "sandbox" } });
    expect(sel.patchType).toBe("JSONPatch");
    expect(sel.jsonPatch?.expression).toContain('"/spec/nodeSelector/example.com~1pool"');
    expect(jsonPointerToken("a~b/c")).toBe("a~0b~1c");
    const [ads] = executorPodMutations({ activeDeadlineSeconds: 600 });
    expect(ads.applyConfiguration?.expression).toContain("object.spec.activeDeadlineSeconds < 600");
    expect(executorPodMutations({})).toEqual([]);
  });

  it("CEL string literals escape quotes and backslashes", () => {
    expect(celString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(celShapeProblems(`x == ${celString('he said "hi"')}`)).toEqual([]);
  });
});
