// The NetworkPolicies' meaning, judged by an independent evaluator (cyclonus), not by re-reading
// our own objects. The policies are applied to the real API server (which validates them) in
// throwaway namespaces, read back, and evaluated with the namespaces' labels as the cluster has
// them and the labels of pods created from the workload builders' own pod templates.
//
// Not proven here: enforcement. The local cluster has no CNI, so nothing drops packets; a user's
// cluster needs a NetworkPolicy-enforcing CNI (Calico, Cilium, ...) for these to take effect.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandCenterLabels, COMMAND_CENTER_PORT } from "../../components/builders/commandCenter";
import { engineLabels, ENGINE_PORT } from "../../components/builders/engine";
import { engineNetworkPolicies, sandboxNetworkPolicies } from "../../components/builders/networkPolicy";
import { postgresDeploymentArgs, POSTGRES_PORT } from "../../components/builders/postgres";
import { sandboxNamespace } from "../../components/builders/sandbox";
import { defaultSandboxSettings, type SandboxSettings } from "../../components/builders/sandboxSettings";
import { kubectlJson, kubectlOk, uniqueName, waitFor } from "./harness";
import { evaluateTraffic, type PodPeer, type TrafficRow } from "./netpolEval";
import { applyAll, deleteNamespaces, type Json, minimalPod } from "./sandboxKube";

const instance = "ai";
const engNs = uniqueName("sbx-net");
const settings: SandboxSettings = defaultSandboxSettings(instance, engNs);
const sbxNs = settings.executorNamespace;

const res = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } };
const templateLabels = (d: unknown): Record<string, string> =>
  ((d as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels);
const podLabels = {
  engine: engineLabels(instance),
  commandCenter: commandCenterLabels(instance),
  postgres: templateLabels(postgresDeploymentArgs({ namespace: engNs, instance, image: "p", resources: res, secretName: "s", pvcName: "v", checksum: "x" })),
};

let policies: Json[] = [];
const peers: Record<"engine" | "commandCenter" | "postgres" | "executor" | "executor2" | "dns", PodPeer> = {} as never;

async function nsLabels(ns: string): Promise<Record<string, string>> {
  return (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", ns])).metadata.labels;
}

/** A pod's peer as the cluster has it: its namespace's labels, its labels and its IP (KWOK assigns one). */
async function podPeer(ns: string, name: string): Promise<PodPeer> {
  const pod = await waitFor(`pod ${ns}/${name} to get an IP`, async () => {
    const p = await kubectlJson<{ metadata: { labels: Record<string, string> }; status: { podIP?: string } }>(["get", "pod", "-n", ns, name]);
    return p.status.podIP ? p : undefined;
  });
  return { namespace: ns, namespaceLabels: await nsLabels(ns), podLabels: pod.metadata.labels, ip: pod.status.podIP ?? "" };
}

beforeAll(async () => {
  await kubectlOk(["create", "namespace", engNs]);
  await applyAll([sandboxNamespace(settings)]);
  await applyAll([...sandboxNetworkPolicies(settings), ...engineNetworkPolicies(settings)]);
  await applyAll([
    minimalPod("engine", engNs, "r/engine:1", podLabels.engine),
    minimalPod("command-center", engNs, "r/cc:1", podLabels.commandCenter),
    minimalPod("postgres", engNs, "r/postgres:16", podLabels.postgres),
    minimalPod("executor-1", sbxNs, "r/executor:1"),
    minimalPod("executor-2", sbxNs, "r/executor:1"),
  ]);
  peers.engine = await podPeer(engNs, "engine");
  peers.commandCenter = await podPeer(engNs, "command-center");
  peers.postgres = await podPeer(engNs, "postgres");
  peers.executor = await podPeer(sbxNs, "executor-1");
  peers.executor2 = await podPeer(sbxNs, "executor-2");
  // CoreDNS as kubeadm, EKS, GKE and k3s label it, in kube-system as this cluster labels it.
  peers.dns = { namespace: "kube-system", namespaceLabels: await nsLabels("kube-system"), podLabels: { "k8s-app": "kube-dns" }, ip: "10.96.0.10" };
  // The policies as the API server stored them (defaults filled in), not as we built them.
  for (const ns of [engNs, sbxNs]) {
    const list = await kubectlJson<{ items: Json[] }>(["get", "networkpolicy", "-n", ns]);
    policies.push(...list.items);
  }
}, 120_000);

afterAll(async () => {
  await deleteNamespaces([engNs, sbxNs]);
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

describe("sandbox and engine NetworkPolicies, evaluated by cyclonus", () => {
  it("the API server accepted and stored every policy", () => {
    const names = policies.map((p) => (p.metadata as { name: string }).name).sort();
    const built = [...sandboxNetworkPolicies(settings), ...engineNetworkPolicies(settings)].map((p) => p.metadata.name).sort();
    expect(names).toEqual(built);
  });

  it("each row of the traffic table is allowed or denied as the issue requires", async () => {
    const rows = table();
    const verdicts = await evaluateTraffic(policies, rows);
    const got = verdicts.map((v) => `${v.name}: ${v.allowed ? "allowed" : "denied"}`);
    expect(got).toEqual(rows.map((r) => `${r.name}: ${r.expect}`));
  });

  it("without the policies every row is allowed (the denials above come from them)", async () => {
    const verdicts = await evaluateTraffic([], table());
    expect(verdicts.every((v) => v.allowed)).toBe(true);
  });

  it("the engine-side policies alone still keep executors from postgres; blocking metadata is the sandbox egress policy's job", async () => {
    const engineOnly = policies.filter((p) => (p.metadata as { namespace: string }).namespace === engNs);
    const [pg, meta] = await evaluateTraffic(engineOnly, [
      { name: "pg", from: peers.executor, to: peers.postgres, port: POSTGRES_PORT, protocol: "TCP" },
      { name: "meta", from: peers.executor, to: { ip: "169.254.169.254" }, port: 80, protocol: "TCP" },
    ]);
    expect(pg.allowed).toBe(false); // postgres' own ingress policy still holds
    expect(meta.allowed).toBe(true); // egress control is the sandbox policy's job
  });
});
