// The executor sandbox on the real API server (Kubernetes from the toolchain, KWOK nodes), acting
// exactly as the engine does: a token for `engine-executor` from the TokenRequest API, bound to a
// Role with exactly the executor verbs, creating pods in the sandbox namespace.
//
// Proven here for real: admission (Pod Security, LimitRanger, the ServiceAccount plugin, the CEL
// mutating and validating policies, ResourceQuota), RBAC and scheduling. Not proven: that a
// container runs under the RuntimeClass's handler (KWOK runs no container).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executorValidatingBinding, executorValidatingPolicy } from "../../components/builders/admissionPolicy";
import { EXECUTOR_RULES, executorAccountName } from "../../components/builders/rbac";
import { sandboxManifests } from "../../components/builders/sandboxManifests";
import { defaultSandboxSettings, type SandboxSettings } from "../../components/builders/sandboxSettings";
import { kubectl, kubectlJson, kubectlOk, uniqueName, waitFor } from "./harness";
import { applyAll, createPod, deleteNamespaces, type Json, minimalPod, RESTRICTED_CONTAINER } from "./sandboxKube";

const engNs = uniqueName("sbx-adm");
const runtimeClass = `${engNs}-gvisor`;
const NODE_LABEL = "sandbox.agent-platform.io/executors";
const TAINT_KEY = "sandbox.agent-platform.io/dedicated";
const REGISTRY = "registry.example.com/agents";
const IMAGE = `${REGISTRY}/executor:1`;

const settings: SandboxSettings = {
  ...defaultSandboxSettings("ai", engNs),
  imageRegistry: REGISTRY,
  pullSecretName: "registry-pull",
  quota: { pods: 2, cpu: "10", memory: "20Gi" },
  podDefaults: {
    nodeSelector: { [NODE_LABEL]: "true" },
    tolerations: [{ key: TAINT_KEY, operator: "Equal", value: "true", effect: "NoSchedule" }],
    runtimeClassName: runtimeClass,
    activeDeadlineSeconds: 3600,
  },
};
const sbx = settings.executorNamespace;
const EXECUTOR_SA = executorAccountName(settings.instance);
// A namespace without Pod Security enforcement, bound to the same validating policy, to show the
// policy refuses host access on its own (in the sandbox, Pod Security refuses it first).
const noPsa: SandboxSettings = { ...settings, executorNamespace: `${engNs}-nopsa`, podDefaults: {} };

let token = "";
let node = "";

type Pod = {
  metadata: { name: string };
  spec: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: { key?: string; value?: string; effect?: string }[];
    runtimeClassName?: string;
    activeDeadlineSeconds?: number;
    overhead?: Record<string, string>;
    automountServiceAccountToken?: boolean;
    serviceAccountName?: string;
    imagePullSecrets?: { name: string }[];
    volumes?: { name: string; projected?: { sources?: Record<string, unknown>[] } }[];
    containers: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> }; volumeMounts?: { mountPath: string }[] }[];
  };
  status: { phase?: string };
};

const pod = (name: string, mutate: (p: Json & { spec: Json & { containers: Json[] } }) => void = () => {}, ns = sbx): Json => {
  const p = minimalPod(name, ns, IMAGE) as Json & { spec: Json & { containers: Json[] } };
  mutate(p);
  return p;
};

beforeAll(async () => {
  node = (await kubectlOk(["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
  await kubectlOk(["label", "node", node, `${NODE_LABEL}=true`, "--overwrite"]);
  await kubectlOk(["taint", "node", node, `${TAINT_KEY}=true:NoSchedule`, "--overwrite"]);
  await applyAll([{ apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: runtimeClass }, handler: "runsc", overhead: { podFixed: { cpu: "10m", memory: "16Mi" } } }]);
  await kubectlOk(["create", "namespace", engNs]);
  await kubectlOk(["create", "namespace", noPsa.executorNamespace]);

  // Everything the sandbox adds, as built, in the builders' order.
  await applyAll(sandboxManifests(settings));
  await kubectlOk(["create", "secret", "docker-registry", "registry-pull", "-n", sbx, "--docker-server=registry.example.com", "--docker-username=u", "--docker-password=p"]);
  await applyAll([executorValidatingPolicy(noPsa), executorValidatingBinding(noPsa)]);

  // The engine's identity: its ServiceAccount in the engine namespace, the executor Role in the sandbox.
  await applyAll([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: EXECUTOR_SA, namespace: engNs } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "engine-executor", namespace: sbx }, rules: EXECUTOR_RULES },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "engine-executor", namespace: sbx },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "engine-executor" },
      subjects: [{ kind: "ServiceAccount", name: EXECUTOR_SA, namespace: engNs }],
    },
  ]);
  token = (await kubectlOk(["create", "token", EXECUTOR_SA, "-n", engNs, "--duration=1h"])).trim();

  // Policies take effect a moment after they are created: wait until a server-side dry run shows both.
  await waitFor("the quota to be counted", async () => {
    const q = await kubectlJson<{ status?: { hard?: Record<string, string> } }>(["get", "resourcequota", "-n", sbx, `${settings.instance}-executor-quota`]);
    return q.status?.hard?.pods ? true : undefined;
  });
  await waitFor("the validating policy to refuse another registry", async () => {
    const r = await createPod(pod("probe", (p) => { p.spec.containers[0].image = "docker.io/library/busybox:1"; }), token, ["--dry-run=server"]);
    return r.code !== 0 && r.stderr.includes("must come from") ? true : undefined;
  });
  await waitFor("the mutating policy to inject the runtime class", async () => {
    const r = await createPod(pod("probe"), token, ["--dry-run=server", "-o", "json"]);
    return r.code === 0 && (JSON.parse(r.stdout) as Pod).spec.runtimeClassName === runtimeClass ? true : undefined;
  });
  await waitFor("the no-PSA binding", async () => {
    const r = await createPod(pod("probe", (p) => { p.spec.hostNetwork = true; }, noPsa.executorNamespace), undefined, ["--dry-run=server"]);
    return r.code !== 0 && r.stderr.includes("hostNetwork") ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  const cluster = [
    ...sandboxManifests(settings).filter((m) => !("namespace" in m.metadata) && m.kind !== "Namespace"),
    executorValidatingPolicy(noPsa),
    executorValidatingBinding(noPsa),
  ];
  for (const m of cluster) await kubectl(["delete", m.kind.toLowerCase(), m.metadata.name, "--ignore-not-found"]);
  await kubectl(["delete", "runtimeclass", runtimeClass, "--ignore-not-found"]);
  await kubectl(["taint", "node", node, `${TAINT_KEY}-`]);
  await kubectl(["label", "node", node, `${NODE_LABEL}-`]);
  await deleteNamespaces([engNs, sbx, noPsa.executorNamespace]);
});

describe("executor sandbox admission on the real API server", () => {
  it("serves MutatingAdmissionPolicy as admissionregistration.k8s.io/v1 with default flags", async () => {
    const group = JSON.parse(await kubectlOk(["get", "--raw", "/apis/admissionregistration.k8s.io/v1"])) as { resources: { name: string; kind: string }[] };
    const kinds = group.resources.map((r) => r.kind);
    expect(kinds).toContain("MutatingAdmissionPolicy");
    expect(kinds).toContain("MutatingAdmissionPolicyBinding");
    expect(kinds).toContain("ValidatingAdmissionPolicy");
  });

  it("type-checks every CEL expression of the validating policy without a warning", async () => {
    const status = await waitFor("the policy's type-check status", async () => {
      const p = await kubectlJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: { fieldRef: string; warning: string }[] } } }>(
        ["get", "validatingadmissionpolicy", executorValidatingPolicy(settings).metadata.name],
      );
      return p.status?.observedGeneration === p.metadata.generation ? p.status : undefined;
    });
    expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  it("admits a minimal executor pod created as the engine: LimitRange defaults, no token, injected defaults, Running on the matching node", async () => {
    const r = await createPod(pod("executor-1"), token);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const p = await kubectlJson<Pod>(["get", "pod", "-n", sbx, "executor-1"]);
    const c = p.spec.containers[0];
    expect(c.resources?.requests).toEqual(settings.limits.defaultRequest);
    expect(c.resources?.limits).toEqual(settings.limits.default);
    expect(p.spec.serviceAccountName).toBe("default");
    expect(p.spec.automountServiceAccountToken).not.toBe(true);
    const tokenVolumes = (p.spec.volumes ?? []).filter((v) => (v.projected?.sources ?? []).some((s) => "serviceAccountToken" in s));
    expect(tokenVolumes).toEqual([]);
    expect((c.volumeMounts ?? []).map((m) => m.mountPath)).not.toContain("/var/run/secrets/kubernetes.io/serviceaccount");
    expect(p.spec.imagePullSecrets).toEqual([{ name: "registry-pull" }]); // from the default ServiceAccount
    expect(p.spec.nodeSelector).toEqual({ [NODE_LABEL]: "true" });
    expect(p.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: TAINT_KEY, value: "true", effect: "NoSchedule" })]));
    expect(p.spec.runtimeClassName).toBe(runtimeClass);
    // The policy's change re-ran the built-in plugins: the RuntimeClass plugin added its overhead.
    expect(p.spec.overhead).toEqual({ cpu: "10m", memory: "16Mi" });
    expect(p.spec.activeDeadlineSeconds).toBe(3600);
    const running = await waitFor("executor-1 to run", async () => {
      const q = await kubectlJson<Pod>(["get", "pod", "-n", sbx, "executor-1"]);
      return q.status.phase === "Running" ? q : undefined;
    });
    expect(running.spec.nodeName).toBe(node);
  });

  it("activeDeadlineSeconds is an upper bound: a shorter one is kept, a longer one capped", async () => {
    const deadline = async (n: number) => {
      const r = await createPod(pod("deadline", (p) => { p.spec.activeDeadlineSeconds = n; }), token, ["--dry-run=server", "-o", "json"]);
      expect(r.stderr).toBe("");
      return (JSON.parse(r.stdout) as Pod).spec.activeDeadlineSeconds;
    };
    expect(await deadline(60)).toBe(60);
    expect(await deadline(86_400)).toBe(3600);
  });

  it("the pod's own nodeSelector keys are kept, ours win on the same key", async () => {
    const r = await createPod(pod("selector", (p) => { p.spec.nodeSelector = { zone: "a", [NODE_LABEL]: "false" }; }), token, ["--dry-run=server", "-o", "json"]);
    expect(r.stderr).toBe("");
    expect((JSON.parse(r.stdout) as Pod).spec.nodeSelector).toEqual({ zone: "a", [NODE_LABEL]: "true" });
  });

  it("the engine's token can do nothing beyond the executor verbs", async () => {
    const can = async (...args: string[]) => (await kubectl(["auth", "can-i", ...args], { token })).stdout.trim();
    expect(await can("create", "pods", "-n", sbx)).toBe("yes");
    // ("pods/exec" would name a pod called exec: a subresource needs --subresource.)
    expect(await can("create", "pods", "--subresource=exec", "-n", sbx)).toBe("no");
    expect(await can("create", "pods", "--subresource=attach", "-n", sbx)).toBe("yes");
    expect(await can("update", "pods", "-n", sbx)).toBe("no");
    expect(await can("get", "secrets", "-n", sbx)).toBe("no");
    expect(await can("create", "pods", "-n", engNs)).toBe("no");
  });

  const refusals: [string, (p: Json & { spec: Json & { containers: Json[] } }) => void, RegExp][] = [
    ["a privileged container", (p) => { p.spec.containers[0].securityContext = { ...RESTRICTED_CONTAINER, allowPrivilegeEscalation: undefined, privileged: true }; }, /privileged/],
    ["a hostPath volume", (p) => { p.spec.volumes = [{ name: "host", hostPath: { path: "/etc" } }]; }, /hostPath/],
    ["hostNetwork", (p) => { p.spec.hostNetwork = true; }, /hostNetwork/],
    ["an image from another registry", (p) => { p.spec.containers[0].image = "docker.io/library/busybox:1"; }, /executor images must come from registry\.example\.com\/agents\/; refused: docker\.io\/library\/busybox:1/],
    ["an image whose host only starts like the registry", (p) => { p.spec.containers[0].image = "registry.example.com/agents-evil/x:1"; }, /must come from/],
    ["a serviceAccountName other than default", (p) => { p.spec.serviceAccountName = "other"; }, /serviceAccountName: other/],
    ["token automount", (p) => { p.spec.automountServiceAccountToken = true; }, /automountServiceAccountToken must not be true/],
    ["limits above the LimitRange maximum", (p) => { p.spec.containers[0].resources = { limits: { cpu: "4", memory: "1Gi" } }; }, /maximum cpu usage per Container is 2, but limit is 4/],
  ];

  it.each(refusals)("refuses %s, saying why", async (what, mutate, why) => {
    if (what.startsWith("a serviceAccountName")) {
      // An account that exists and mounts no token, so only the name rule can refuse the pod.
      await applyAll([{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "other", namespace: sbx }, automountServiceAccountToken: false }]);
    }
    const name = `refused-${Math.random().toString(36).slice(2, 8)}`;
    const r = await createPod(pod(name, mutate), token);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(why);
    expect((await kubectl(["get", "pod", "-n", sbx, name])).code).not.toBe(0);
  });

  it("the validating policy refuses host access on its own where Pod Security does not enforce", async () => {
    const ns = noPsa.executorNamespace;
    // That namespace's default ServiceAccount is not patched: pods there opt out of the token.
    const limited = (p: Json & { spec: Json & { containers: Json[] } }) => {
      p.spec.containers[0].resources = { limits: { cpu: "1", memory: "1Gi" } };
      p.spec.automountServiceAccountToken = false;
    };
    const cases: [(p: Json & { spec: Json & { containers: Json[] } }) => void, RegExp][] = [
      [(p) => { p.spec.containers[0].securityContext = { privileged: true }; }, /executor containers may not be privileged/],
      [(p) => { p.spec.volumes = [{ name: "host", hostPath: { path: "/etc" } }]; }, /may not mount hostPath volumes/],
      [(p) => { p.spec.hostNetwork = true; }, /may not set hostNetwork/],
      [(p) => { p.spec.hostPID = true; }, /may not set hostPID/],
      [(p) => { p.spec.containers[0].resources = {}; }, /needs cpu and memory limits/],
      // The account there allows automount, so the ServiceAccount plugin adds the token volume.
      [(p) => { delete p.spec.automountServiceAccountToken; }, /may not mount a service-account token \(a projected serviceAccountToken volume\)/],
    ];
    for (const [mutate, why] of cases) {
      const r = await createPod(pod("host-access", (p) => { limited(p); mutate(p); }, ns), undefined, ["--dry-run=server"]);
      expect(r.code, why.source).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
    // Control: the same pod without host access is admitted there.
    const ok = await createPod(pod("plain", limited, ns), undefined, ["--dry-run=server"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
  });

  it("Warn mode admits the pod and says what would have been refused", async () => {
    const ns = noPsa.executorNamespace;
    await applyAll([executorValidatingBinding({ ...noPsa, admissionAction: "Warn" })]);
    const hostNet = pod("warned", (p) => { p.spec.hostNetwork = true; p.spec.containers[0].resources = { limits: { cpu: "1", memory: "1Gi" } }; }, ns);
    const r = await waitFor("the binding to switch to Warn", async () => {
      const x = await createPod(hostNet, undefined, ["--dry-run=server"]);
      return x.code === 0 ? x : undefined;
    });
    expect(r.stderr).toMatch(/Warning: .*may not set hostNetwork/);
  });

  it("refuses the pod past the quota", async () => {
    // executor-1 is running; the quota allows 2 pods.
    const second = await createPod(pod("executor-2"), token);
    expect(second.stderr).toBe("");
    const third = await createPod(pod("executor-3"), token);
    expect(third.code).not.toBe(0);
    expect(third.stderr).toMatch(/exceeded quota: .*requested: pods=1, used: pods=2, limited: pods=2/);
  });
});
