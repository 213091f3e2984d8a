// The executor sandbox as the program deploys it: a throwaway stack of the real program (through
// the CI command line) on the real local cluster, with the sandbox defaults plus executor pod
// defaults (a nodeSelector and tolerations matching a KWOK node, a RuntimeClass created here, a
// deadline) and a small quota. Then the test acts exactly as the engine does: a TokenRequest token
// of the stack's executor ServiceAccount, creating pods in the sandbox namespace.
//
// Proven here for real: admission (Pod Security, LimitRanger, the ServiceAccount plugin, the CEL
// mutating and validating policies, ResourceQuota), RBAC and scheduling, all as the program
// configured them. The NetworkPolicies are read back from the cluster and judged by cyclonus, an
// independent evaluator: the local cluster has no CNI, so nothing drops a packet here, and a user's
// cluster needs a NetworkPolicy-enforcing CNI. Not proven: that a container runs under the
// RuntimeClass's handler (KWOK runs no container).
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_CENTER_PORT, commandCenterSelector } from "../../components/builders/commandCenter";
import { ENGINE_PORT, engineSelector } from "../../components/builders/engine";
import { POSTGRES_PORT, postgresSelector } from "../../components/builders/postgres";
import { executorAccountName } from "../../components/builders/rbac";
import { cliRunner, devStackFile, kubectl, kubectlJson, kubectlOk, tempBackend, uniqueName, waitFor } from "./harness";
import { evaluateTraffic, type PodPeer, type TrafficRow } from "./netpolEval";
import { applyAll, createPod, deleteNamespaces, type Json, minimalPod, RESTRICTED_CONTAINER } from "./sandboxKube";

const backend = tempBackend();
const stack = uniqueName("it-sandbox");
const instance = "isb";
const ns = uniqueName("sbx");
const sbx = `${ns}-sandbox`;
/** A namespace without Pod Security enforcement, bound to the program's validating policy by this test. */
const noPsa = `${ns}-nopsa`;
const runtimeClass = `${ns}-gvisor`;
/** Another RuntimeClass the cluster has: a pod asking for it still gets ours. */
const otherRuntimeClass = `${ns}-runc`;
const NODE_LABEL = "sandbox.agent-platform.io/executors";
const TAINT_KEY = "sandbox.agent-platform.io/dedicated";
const REGISTRY = "registry.example.test/agents";
const IMAGE = `${REGISTRY}/executor:1`;
const EXECUTOR_SA = executorAccountName(instance);
const QUOTA_PODS = 2;
const podDefaults = {
  nodeSelector: { [NODE_LABEL]: "true" },
  tolerations: [{ key: TAINT_KEY, operator: "Equal", value: "true", effect: "NoSchedule" }],
  runtimeClassName: runtimeClass,
  activeDeadlineSeconds: 3600,
};
// (Keys the dev stack file sets already are given with --config on the first up.)
const stackFile = devStackFile(stack, {
  namespace: ns,
  instanceName: instance,
  registryUsername: "robot",
  sandboxPodDefaults: JSON.stringify(podDefaults),
  sandboxQuota: JSON.stringify({ pods: QUOTA_PODS }),
});
const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env, IT_REGISTRY_PASSWORD: "sandbox-registry-token" }));

let token = "";
let node = "";
let validatingPolicy = "";
const TEST_BINDING = `${ns}-nopsa-binding`;

type Pod = {
  metadata: { name: string; labels: Record<string, string> };
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
  status: { phase?: string; podIP?: string };
};
type MutablePod = Json & { spec: Json & { containers: Json[] } };

const pod = (name: string, mutate: (p: MutablePod) => void = () => {}, namespace = sbx): Json => {
  const p = minimalPod(name, namespace, IMAGE) as MutablePod;
  mutate(p);
  return p;
};

beforeAll(async () => {
  // What a cluster offering sandboxed executors has: a labelled, tainted node pool and a RuntimeClass.
  node = (await kubectlOk(["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
  await kubectlOk(["label", "node", node, `${NODE_LABEL}=true`, "--overwrite"]);
  await kubectlOk(["taint", "node", node, `${TAINT_KEY}=true:NoSchedule`, "--overwrite"]);
  await applyAll([
    { apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: runtimeClass }, handler: "runsc", overhead: { podFixed: { cpu: "10m", memory: "16Mi" } } },
    { apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: otherRuntimeClass }, handler: "runc" },
  ]);

  const up = await cli([
    "up", "--create", "--yes",
    "--config", "registryMode=static",
    "--config", `registryServer=${REGISTRY}`,
    "--secret-config", "registryPassword=IT_REGISTRY_PASSWORD",
  ]);
  expect(up.doc.status, up.log.slice(-4000)).toBe("ok");
  expect(up.code).toBe(0);

  validatingPolicy = (await kubectlOk(["get", "validatingadmissionpolicy", "-l", `app.kubernetes.io/instance=${instance}`, "-o", "jsonpath={.items[0].metadata.name}"])).trim();
  token = (await kubectlOk(["create", "token", EXECUTOR_SA, "-n", ns, "--duration=1h"])).trim();

  // Policies take effect a moment after they are created: wait until server-side dry runs show them.
  await waitFor("the validating policy to refuse another registry", async () => {
    const r = await createPod(pod("probe", (p) => { p.spec.containers[0].image = "docker.io/library/busybox:1"; }), token, ["--dry-run=server"]);
    return r.code !== 0 && r.stderr.includes("must come from") ? true : undefined;
  });
  await waitFor("the mutating policy to inject the runtime class", async () => {
    const r = await createPod(pod("probe"), token, ["--dry-run=server", "-o", "json"]);
    return r.code === 0 && (JSON.parse(r.stdout) as Pod).spec.runtimeClassName === runtimeClass ? true : undefined;
  });
  await waitFor("the quota to be counted", async () => {
    const q = await kubectlJson<{ items: { status?: { hard?: Record<string, string> } }[] }>(["get", "resourcequota", "-n", sbx]);
    return q.items[0]?.status?.hard?.pods ? true : undefined;
  });
}, 300_000);

afterAll(async () => {
  try {
    await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "validatingadmissionpolicybinding", TEST_BINDING, "--ignore-not-found"]);
    await kubectl(["delete", "runtimeclass", runtimeClass, otherRuntimeClass, "--ignore-not-found"]);
    if (node) {
      await kubectl(["taint", "node", node, `${TAINT_KEY}-`]);
      await kubectl(["label", "node", node, `${NODE_LABEL}-`]);
    }
    await deleteNamespaces([ns, sbx, noPsa]);
    rmSync(stackFile, { force: true });
    backend.remove();
  }
});

describe("the executor sandbox deployed by the program", () => {
  it("puts executors in <namespace>-sandbox under Pod Security restricted, and points the engine there", async () => {
    const labels = JSON.parse(await kubectlOk(["get", "namespace", sbx, "-o", "jsonpath={.metadata.labels}"])) as Record<string, string>;
    expect(labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const env = JSON.parse(await kubectlOk(["get", "deployment", `${instance}-engine`, "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].env}"])) as { name: string; value?: string }[];
    expect(env).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", value: sbx });
    const group = JSON.parse(await kubectlOk(["get", "--raw", "/apis/admissionregistration.k8s.io/v1"])) as { resources: { kind: string }[] };
    expect(group.resources.map((r) => r.kind)).toContain("MutatingAdmissionPolicy");
  });

  it("the API server type-checks every CEL expression of the deployed validating policy without a warning", async () => {
    const status = await waitFor("the policy's type-check status", async () => {
      const p = await kubectlJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } } }>(
        ["get", "validatingadmissionpolicy", validatingPolicy],
      );
      return p.status?.observedGeneration === p.metadata.generation ? p.status : undefined;
    });
    expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  it("admits a minimal executor pod created as the engine: LimitRange defaults, the pull secret, no token, the injected defaults, Running on the matching node", async () => {
    const r = await createPod(pod("executor-1"), token);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const p = await kubectlJson<Pod>(["get", "pod", "-n", sbx, "executor-1"]);
    const c = p.spec.containers[0];
    // The config's defaults (sandboxLimitRange), given by the LimitRange the program created.
    expect(c.resources?.requests).toEqual({ cpu: "250m", memory: "512Mi" });
    expect(c.resources?.limits).toEqual({ cpu: "500m", memory: "1Gi" });
    expect(p.spec.serviceAccountName).toBe("default");
    expect(p.spec.automountServiceAccountToken).not.toBe(true);
    const tokenVolumes = (p.spec.volumes ?? []).filter((v) => (v.projected?.sources ?? []).some((s) => "serviceAccountToken" in s));
    expect(tokenVolumes).toEqual([]);
    expect((c.volumeMounts ?? []).map((m) => m.mountPath)).not.toContain("/var/run/secrets/kubernetes.io/serviceaccount");
    // From the sandbox's default ServiceAccount, patched by the program: the copy of the pull secret there.
    expect(p.spec.imagePullSecrets).toEqual([{ name: `${instance}-registry` }]);
    expect((await kubectl(["get", "secret", `${instance}-registry`, "-n", sbx])).code).toBe(0);
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

  it("activeDeadlineSeconds is an upper bound; the pod's own nodeSelector keys are kept, ours win on the same key; ours is the runtime class", async () => {
    const dryRun = async (mutate: (p: MutablePod) => void) => {
      const r = await createPod(pod("dry", mutate), token, ["--dry-run=server", "-o", "json"]);
      expect(r.stderr).toBe("");
      return (JSON.parse(r.stdout) as Pod).spec;
    };
    expect((await dryRun((p) => { p.spec.activeDeadlineSeconds = 60; })).activeDeadlineSeconds).toBe(60);
    expect((await dryRun((p) => { p.spec.activeDeadlineSeconds = 86_400; })).activeDeadlineSeconds).toBe(3600);
    expect((await dryRun((p) => { p.spec.nodeSelector = { zone: "a", [NODE_LABEL]: "false" }; })).nodeSelector).toEqual({ zone: "a", [NODE_LABEL]: "true" });
    expect((await dryRun((p) => { p.spec.runtimeClassName = otherRuntimeClass; })).runtimeClassName).toBe(runtimeClass);
  });

  it("the engine's token can do nothing beyond the executor verbs", async () => {
    const can = async (...args: string[]) => (await kubectl(["auth", "can-i", ...args], { token })).stdout.trim();
    expect(await can("create", "pods", "-n", sbx)).toBe("yes");
    expect(await can("create", "pods", "--subresource=attach", "-n", sbx)).toBe("yes");
    // ("pods/exec" would name a pod called exec: a subresource needs --subresource.)
    expect(await can("create", "pods", "--subresource=exec", "-n", sbx)).toBe("no");
    expect(await can("update", "pods", "-n", sbx)).toBe("no");
    expect(await can("get", "secrets", "-n", sbx)).toBe("no");
    expect(await can("create", "pods", "-n", ns)).toBe("no");
    expect(await can("patch", "serviceaccounts", "-n", sbx)).toBe("no");
  });

  const refusals: [string, (p: MutablePod) => void, RegExp][] = [
    ["a privileged container", (p) => { p.spec.containers[0].securityContext = { ...RESTRICTED_CONTAINER, allowPrivilegeEscalation: undefined, privileged: true }; }, /privileged/],
    ["a hostPath volume", (p) => { p.spec.volumes = [{ name: "host", hostPath: { path: "/etc" } }]; }, /hostPath/],
    ["hostNetwork", (p) => { p.spec.hostNetwork = true; }, /hostNetwork/],
    ["an image from another registry", (p) => { p.spec.containers[0].image = "docker.io/library/busybox:1"; }, /executor images must come from registry\.example\.test\/agents\/; refused: docker\.io\/library\/busybox:1/],
    ["an image whose path only starts like the registry's", (p) => { p.spec.containers[0].image = "registry.example.test/agents-evil/x:1"; }, /must come from/],
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

  it("the deployed validating policy refuses host access on its own where Pod Security does not enforce; Warn only warns", async () => {
    await kubectlOk(["create", "namespace", noPsa]);
    const binding = (actions: string[]) => ({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: TEST_BINDING },
      spec: { policyName: validatingPolicy, validationActions: actions, matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": noPsa } } } },
    });
    await applyAll([binding(["Deny"])]);
    // That namespace has no pod defaults: the runtime class the policy requires is set by hand.
    const limited = (p: MutablePod) => {
      p.spec.containers[0].resources = { limits: { cpu: "1", memory: "1Gi" } };
      p.spec.automountServiceAccountToken = false;
      p.spec.runtimeClassName = runtimeClass;
    };
    await waitFor("the test binding", async () => {
      const r = await createPod(pod("probe", (p) => { limited(p); p.spec.hostPID = true; }, noPsa), undefined, ["--dry-run=server"]);
      return r.code !== 0 && r.stderr.includes("hostPID") ? true : undefined;
    });
    const cases: [(p: MutablePod) => void, RegExp][] = [
      [(p) => { p.spec.containers[0].securityContext = { privileged: true }; }, /executor containers may not be privileged/],
      [(p) => { p.spec.volumes = [{ name: "host", hostPath: { path: "/etc" } }]; }, /may not mount hostPath volumes/],
      [(p) => { p.spec.hostNetwork = true; }, /may not set hostNetwork/],
      [(p) => { p.spec.hostIPC = true; }, /may not set hostIPC/],
      [(p) => { p.spec.containers[0].resources = {}; }, /needs cpu and memory limits/],
      // No mutating policy there: the validating one still requires the configured runtime class.
      [(p) => { delete p.spec.runtimeClassName; }, /must run with runtimeClassName .*; got: \(none\)/],
      // That namespace's default account allows automount: the ServiceAccount plugin adds the token volume.
      [(p) => { delete p.spec.automountServiceAccountToken; }, /may not mount a service-account token \(a projected serviceAccountToken volume\)/],
    ];
    for (const [mutate, why] of cases) {
      const r = await createPod(pod("host-access", (p) => { limited(p); mutate(p); }, noPsa), undefined, ["--dry-run=server"]);
      expect(r.code, why.source).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
    const ok = await createPod(pod("plain", limited, noPsa), undefined, ["--dry-run=server"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);

    await applyAll([binding(["Warn", "Audit"])]);
    const hostNet = pod("warned", (p) => { limited(p); p.spec.hostNetwork = true; }, noPsa);
    const warned = await waitFor("the binding to switch to Warn", async () => {
      const x = await createPod(hostNet, undefined, ["--dry-run=server"]);
      return x.code === 0 ? x : undefined;
    });
    expect(warned.stderr).toMatch(/Warning: .*may not set hostNetwork/);
  });

  it("refuses the pod past the quota", async () => {
    // executor-1 is running; the quota allows QUOTA_PODS pods.
    const second = await createPod(pod("executor-2"), token);
    expect(second.stderr).toBe("");
    const third = await createPod(pod("executor-3"), token);
    expect(third.code).not.toBe(0);
    expect(third.stderr).toMatch(new RegExp(`exceeded quota: ${instance}-executor-quota, requested: pods=1, used: pods=${QUOTA_PODS}, limited: pods=${QUOTA_PODS}`));
  });

  describe("NetworkPolicies as the cluster stores them, evaluated by cyclonus", () => {
    let policies: Json[] = [];
    const peers = {} as Record<"engine" | "commandCenter" | "postgres" | "executor" | "executor2" | "dns", PodPeer>;

    const nsLabels = async (n: string) => (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", n])).metadata.labels;
    /** A pod as the cluster has it: its namespace's labels, its labels and its IP (KWOK assigns one). */
    async function podPeer(namespace: string, selector: string): Promise<PodPeer> {
      const p = await waitFor(`a pod ${selector} in ${namespace} with an IP`, async () => {
        const l = await kubectlJson<{ items: Pod[] }>(["get", "pods", "-n", namespace, ...(selector.includes("=") ? ["-l", selector] : ["--field-selector", `metadata.name=${selector}`])]);
        return l.items.find((x) => x.status.podIP);
      });
      return { namespace, namespaceLabels: await nsLabels(namespace), podLabels: p.metadata.labels, ip: p.status.podIP ?? "" };
    }

    beforeAll(async () => {
      // The platform's own pods, deployed by the program, and the executor pods created above.
      const selector = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
      peers.engine = await podPeer(ns, selector(engineSelector(instance)));
      peers.commandCenter = await podPeer(ns, selector(commandCenterSelector(instance)));
      peers.postgres = await podPeer(ns, selector(postgresSelector(instance)));
      peers.executor = await podPeer(sbx, "executor-1");
      peers.executor2 = await podPeer(sbx, "executor-2");
      // CoreDNS as kubeadm, EKS, GKE and k3s label it, in kube-system as this cluster labels it.
      peers.dns = { namespace: "kube-system", namespaceLabels: await nsLabels("kube-system"), podLabels: { "k8s-app": "kube-dns" }, ip: "10.96.0.10" };
      for (const n of [ns, sbx]) policies.push(...(await kubectlJson<{ items: Json[] }>(["get", "networkpolicy", "-n", n])).items);
    });

    const table = (): (TrafficRow & { expect: "allowed" | "denied" })[] => [
      { name: "executor -> postgres 5432", from: peers.executor, to: peers.postgres, port: POSTGRES_PORT, protocol: "TCP", expect: "denied" },
      { name: "executor -> engine 8080", from: peers.executor, to: peers.engine, port: ENGINE_PORT, protocol: "TCP", expect: "denied" },
      { name: "executor -> command center 3000", from: peers.executor, to: peers.commandCenter, port: COMMAND_CENTER_PORT, protocol: "TCP", expect: "denied" },
      { name: "executor -> command center 443", from: peers.executor, to: peers.commandCenter, port: 443, protocol: "TCP", expect: "denied" },
      { name: "executor -> cloud metadata 169.254.169.254:80", from: peers.executor, to: { ip: "169.254.169.254" }, port: 80, protocol: "TCP", expect: "denied" },
      { name: "executor -> AWS IPv6 metadata [fd00:ec2::254]:80", from: peers.executor, to: { ip: "fd00:ec2::254" }, port: 80, protocol: "TCP", expect: "denied" },
      { name: "executor -> 10.0.0.10:443 (private)", from: peers.executor, to: { ip: "10.0.0.10" }, port: 443, protocol: "TCP", expect: "denied" },
      { name: "executor -> Kubernetes API service 10.96.0.1:443", from: peers.executor, to: { ip: "10.96.0.1" }, port: 443, protocol: "TCP", expect: "denied" },
      { name: "executor -> 100.64.1.1:443 (CGNAT)", from: peers.executor, to: { ip: "100.64.1.1" }, port: 443, protocol: "TCP", expect: "denied" },
      { name: "executor -> 192.168.1.1:80", from: peers.executor, to: { ip: "192.168.1.1" }, port: 80, protocol: "TCP", expect: "denied" },
      { name: "executor -> cluster DNS 53/UDP", from: peers.executor, to: peers.dns, port: 53, protocol: "UDP", expect: "allowed" },
      { name: "executor -> cluster DNS 53/TCP", from: peers.executor, to: peers.dns, port: 53, protocol: "TCP", expect: "allowed" },
      { name: "executor -> public 203.0.113.10:443", from: peers.executor, to: { ip: "203.0.113.10" }, port: 443, protocol: "TCP", expect: "allowed" },
      { name: "executor -> public [2001:db8::10]:443", from: peers.executor, to: { ip: "2001:db8::10" }, port: 443, protocol: "TCP", expect: "allowed" },
      { name: "executor -> public 203.0.113.10:22", from: peers.executor, to: { ip: "203.0.113.10" }, port: 22, protocol: "TCP", expect: "denied" },
      { name: "command center -> engine 8080", from: peers.commandCenter, to: peers.engine, port: ENGINE_PORT, protocol: "TCP", expect: "allowed" },
      { name: "engine -> postgres 5432", from: peers.engine, to: peers.postgres, port: POSTGRES_PORT, protocol: "TCP", expect: "allowed" },
      { name: "command center -> postgres 5432", from: peers.commandCenter, to: peers.postgres, port: POSTGRES_PORT, protocol: "TCP", expect: "allowed" },
      { name: "postgres -> engine 8080", from: peers.postgres, to: peers.engine, port: ENGINE_PORT, protocol: "TCP", expect: "denied" },
      { name: "engine -> command center 3000 (no ingress source configured)", from: peers.engine, to: peers.commandCenter, port: COMMAND_CENTER_PORT, protocol: "TCP", expect: "denied" },
      { name: "engine -> executor 8080", from: peers.engine, to: peers.executor, port: 8080, protocol: "TCP", expect: "denied" },
      { name: "command center -> executor 22", from: peers.commandCenter, to: peers.executor, port: 22, protocol: "TCP", expect: "denied" },
      { name: "executor -> other executor 8080", from: peers.executor2, to: peers.executor, port: 8080, protocol: "TCP", expect: "denied" },
      { name: "outside 203.0.113.10 -> executor 443", from: { ip: "203.0.113.10" }, to: peers.executor, port: 443, protocol: "TCP", expect: "denied" },
      { name: "cluster DNS -> executor 53/UDP", from: peers.dns, to: peers.executor, port: 53, protocol: "UDP", expect: "denied" },
    ];

    it("the program's policies are there: two in the sandbox, three in the engine namespace", () => {
      const where = policies.map((p) => `${(p.metadata as { namespace: string }).namespace === sbx ? "sandbox" : "engine"} ${(p.metadata as { name: string }).name}`).sort();
      expect(where).toEqual([
        `engine ${instance}-default-deny-ingress`,
        `engine ${instance}-engine-ingress`,
        `engine ${instance}-postgres-ingress`,
        `sandbox ${instance}-executor-deny-all`,
        `sandbox ${instance}-executor-egress`,
      ]);
    });

    it("each row of the issue's traffic table is allowed or denied as required", async () => {
      const rows = table();
      const verdicts = await evaluateTraffic(policies, rows);
      expect(verdicts.map((v) => `${v.name}: ${v.allowed ? "allowed" : "denied"}`)).toEqual(rows.map((r) => `${r.name}: ${r.expect}`));
    });

    it("without the policies every row is allowed (the denials above come from them)", async () => {
      const verdicts = await evaluateTraffic([], table());
      expect(verdicts.every((v) => v.allowed)).toBe(true);
    });

    it("the engine-side policies alone still keep executors from postgres; blocking metadata is the sandbox egress policy's", async () => {
      const engineOnly = policies.filter((p) => (p.metadata as { namespace: string }).namespace === ns);
      const [pg, meta] = await evaluateTraffic(engineOnly, [
        { name: "pg", from: peers.executor, to: peers.postgres, port: POSTGRES_PORT, protocol: "TCP" },
        { name: "meta", from: peers.executor, to: { ip: "169.254.169.254" }, port: 80, protocol: "TCP" },
      ]);
      expect(pg.allowed).toBe(false);
      expect(meta.allowed).toBe(true);
    });
  });

  it("a second run finds nothing to change (preview exit 0)", async () => {
    const preview = await cli(["preview"]);
    expect(preview.doc.changes, JSON.stringify(preview.doc.changes)).toEqual([]);
    expect(preview.code).toBe(0);
  });
});
