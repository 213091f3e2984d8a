// The sandbox's and the engine namespace's NetworkPolicies (components/builders/networkPolicy.ts),
// enforced for real: the same policies sandbox.test.ts has cyclonus judge are applied to
// real pods on the real node (kube-router enforces them), and each row of the traffic table
// between pods is measured with a real TCP connection, next to cyclonus's answer for the same
// row with the same pods' addresses and labels.
//
// Measured: every row between pods (executor, engine, command center, postgres, a stand-in for
// cluster DNS, a stand-in for Prometheus in a monitoring namespace: the metrics policies that
// ServiceMonitors bring, with metricsIngressFrom naming that namespace). Not measured: rows to
// addresses outside the cluster (cloud metadata, private and
// public addresses): no traffic here may go to an address outside the network namespaces this
// project creates, and the node has no route there, so a refused connection would prove nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandCenterLabels, COMMAND_CENTER_PORT } from "../../components/builders/commandCenter";
import { engineLabels, ENGINE_PORT } from "../../components/builders/engine";
import { engineNetworkPolicies, sandboxNetworkPolicies } from "../../components/builders/networkPolicy";
import { postgresDeploymentArgs, POSTGRES_PORT } from "../../components/builders/postgres";
import { sandboxNamespace } from "../../components/builders/sandbox";
import { defaultSandboxSettings, type SandboxSettings } from "../../components/builders/sandboxSettings";
import { kubectl, kubectlJson, kubectlOk, uniqueName, waitFor } from "./harness";
import { evaluateTraffic, type PodPeer } from "./netpolEval";
import { execIn, onRealNode, realNode, realNodeMissing, restrictedContainer, restrictedPod, waitRunning } from "./realnode-harness";
import { applyAll, deleteNamespaces } from "./sandboxKube";

const missing = realNodeMissing();
const instance = "ai";
const engNs = uniqueName("rn-net");
const monNs = `${engNs}-mon`;
// The engine's and command center's metrics on ports of their own (engineMetrics and
// commandCenterMetrics), open to the monitoring namespace only (metricsIngressFrom).
const ENGINE_METRICS = 9090;
const COMMAND_CENTER_METRICS = 9091;
const settings: SandboxSettings = {
  ...defaultSandboxSettings(instance, engNs),
  metricsIngress: { from: [{ namespaceLabels: { "kubernetes.io/metadata.name": monNs } }], enginePort: ENGINE_METRICS, commandCenterPort: COMMAND_CENTER_METRICS },
};
const sbxNs = settings.executorNamespace;
const dnsPod = uniqueName("rn-dns");

const res = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } };
const templateLabels = (d: unknown): Record<string, string> =>
  ((d as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels);

type Who = "engine" | "commandCenter" | "postgres" | "executor" | "executor2" | "dns" | "prometheus";
const pods: Record<Who, { ns: string; name: string; labels: Record<string, string>; ports: number[] }> = {
  engine: { ns: engNs, name: "engine", labels: engineLabels(instance), ports: [ENGINE_PORT, ENGINE_METRICS] },
  commandCenter: { ns: engNs, name: "command-center", labels: commandCenterLabels(instance), ports: [COMMAND_CENTER_PORT, 443, COMMAND_CENTER_METRICS] },
  postgres: {
    ns: engNs,
    name: "postgres",
    labels: templateLabels(postgresDeploymentArgs({ namespace: engNs, instance, image: "p", resources: res, secretName: "s", pvcName: "v", checksum: "x" })),
    ports: [POSTGRES_PORT],
  },
  executor: { ns: sbxNs, name: "executor-1", labels: {}, ports: [8080, 22] },
  executor2: { ns: sbxNs, name: "executor-2", labels: {}, ports: [8080] },
  // Cluster DNS as kubeadm, EKS, GKE and k3s label it, in kube-system (TCP 53 only: the probe speaks TCP).
  dns: { ns: "kube-system", name: dnsPod, labels: { "k8s-app": "kube-dns" }, ports: [53] },
  // A scraper where metricsIngressFrom points (it also listens, so rows towards it are measured).
  prometheus: { ns: monNs, name: "prometheus", labels: { "app.kubernetes.io/name": "prometheus" }, ports: [9090] },
};
const peers = {} as Record<Who, PodPeer>;

interface Row {
  name: string;
  from: Who;
  to: Who;
  port: number;
  expect: "allowed" | "denied";
}
// The pod-to-pod rows of sandbox-netpol.test.ts's table (TCP).
const rows: Row[] = [
  { name: "executor -> postgres 5432", from: "executor", to: "postgres", port: POSTGRES_PORT, expect: "denied" },
  { name: "executor -> engine 8080", from: "executor", to: "engine", port: ENGINE_PORT, expect: "denied" },
  { name: "executor -> command center 3000", from: "executor", to: "commandCenter", port: COMMAND_CENTER_PORT, expect: "denied" },
  { name: "executor -> command center 443", from: "executor", to: "commandCenter", port: 443, expect: "denied" },
  { name: "executor -> cluster DNS 53/TCP", from: "executor", to: "dns", port: 53, expect: "allowed" },
  { name: "command center -> engine 8080", from: "commandCenter", to: "engine", port: ENGINE_PORT, expect: "allowed" },
  { name: "engine -> postgres 5432", from: "engine", to: "postgres", port: POSTGRES_PORT, expect: "allowed" },
  { name: "command center -> postgres 5432", from: "commandCenter", to: "postgres", port: POSTGRES_PORT, expect: "allowed" },
  { name: "postgres -> engine 8080", from: "postgres", to: "engine", port: ENGINE_PORT, expect: "denied" },
  { name: "engine -> command center 3000 (no ingress source configured)", from: "engine", to: "commandCenter", port: COMMAND_CENTER_PORT, expect: "denied" },
  { name: "engine -> executor 8080", from: "engine", to: "executor", port: 8080, expect: "denied" },
  { name: "command center -> executor 22", from: "commandCenter", to: "executor", port: 22, expect: "denied" },
  { name: "executor -> other executor 8080", from: "executor2", to: "executor", port: 8080, expect: "denied" },
  // The metrics policies (components/builders/networkPolicy.ts metricsNetworkPolicies).
  { name: "monitoring -> engine metrics 9090", from: "prometheus", to: "engine", port: ENGINE_METRICS, expect: "allowed" },
  { name: "monitoring -> command center metrics 9091", from: "prometheus", to: "commandCenter", port: COMMAND_CENTER_METRICS, expect: "allowed" },
  { name: "monitoring -> engine 8080 (not a metrics port)", from: "prometheus", to: "engine", port: ENGINE_PORT, expect: "denied" },
  { name: "monitoring -> postgres 5432", from: "prometheus", to: "postgres", port: POSTGRES_PORT, expect: "denied" },
  { name: "executor -> engine metrics 9090", from: "executor", to: "engine", port: ENGINE_METRICS, expect: "denied" },
  { name: "command center -> engine metrics 9090", from: "commandCenter", to: "engine", port: ENGINE_METRICS, expect: "denied" },
  { name: "kube-system -> command center metrics 9091", from: "dns", to: "commandCenter", port: COMMAND_CENTER_METRICS, expect: "denied" },
];

/** One real TCP connection from a pod: "allowed" if it was made and answered. */
async function measure(r: Row, timeout = "2s"): Promise<"allowed" | "denied"> {
  const from = pods[r.from];
  const out = await execIn(from.ns, from.name, ["/bin/netcheck", "connect", `${peers[r.to].ip}:${r.port}`, timeout]);
  return out.code === 0 && out.out.startsWith("open ok ") ? "allowed" : "denied";
}

async function measureAll(): Promise<string[]> {
  const out: string[] = [];
  for (const r of rows) out.push(`${r.name}: ${await measure(r)}`);
  return out;
}

describe.skipIf(missing !== "")(`NetworkPolicies enforced on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    const image = realNode().images.tools;
    await kubectlOk(["create", "namespace", engNs]);
    await kubectlOk(["create", "namespace", monNs]);
    await applyAll([sandboxNamespace(settings)]);
    for (const ns of [engNs, sbxNs, monNs]) {
      await waitFor(`default service account in ${ns}`, async () => ((await kubectl(["get", "sa", "default", "-n", ns])).code === 0 ? true : undefined));
    }
    await applyAll(Object.values(pods).map((p) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: p.name, namespace: p.ns, labels: p.labels },
      spec: {
        ...onRealNode(),
        ...restrictedPod,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "main", image, imagePullPolicy: "Never", command: ["/bin/netcheck", "serve", p.ports.join(",")],
          resources: { limits: { cpu: "200m", memory: "64Mi" } }, ...restrictedContainer,
        }],
      },
    })));
    for (const [who, p] of Object.entries(pods) as [Who, (typeof pods)[Who]][]) {
      const running = await waitRunning(p.ns, p.name);
      const ns = await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", p.ns]);
      peers[who] = { namespace: p.ns, namespaceLabels: ns.metadata.labels, podLabels: running.metadata.labels ?? {}, ip: running.status.podIP ?? "" };
    }
  }, 240_000);

  afterAll(async () => {
    await kubectl(["delete", "pod", dnsPod, "-n", "kube-system", "--wait=false", "--ignore-not-found"]);
    await deleteNamespaces([engNs, sbxNs, monNs]);
  });

  it("without the policies every measured connection is made (the listeners answer)", async () => {
    expect(await measureAll()).toEqual(rows.map((r) => `${r.name}: allowed`));
  });

  it("with them, each row is allowed or denied as the table says, and as cyclonus answers for the same pods", async () => {
    await applyAll([...sandboxNetworkPolicies(settings), ...engineNetworkPolicies(settings)]);
    // kube-router applies policies within seconds of their creation.
    await waitFor("the policies to take effect", async () => ((await measure(rows[0], "1s")) === "denied" ? true : undefined), 60_000);
    const measured = await measureAll();
    expect(measured).toEqual(rows.map((r) => `${r.name}: ${r.expect}`));

    const stored: Record<string, unknown>[] = [];
    for (const ns of [engNs, sbxNs]) stored.push(...(await kubectlJson<{ items: Record<string, unknown>[] }>(["get", "networkpolicy", "-n", ns])).items);
    const verdicts = await evaluateTraffic(stored, rows.map((r) => ({ name: r.name, from: peers[r.from], to: peers[r.to], port: r.port, protocol: "TCP" as const })));
    expect(verdicts.map((v) => `${v.name}: ${v.allowed ? "allowed" : "denied"}`)).toEqual(measured);
  });
});
