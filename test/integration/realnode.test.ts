// The real node runs real containers (containerd, runc, the kubelet, kube-proxy, kube-router):
// what the simulated nodes cannot prove is checked here with real processes and real
// connections. Placement by label and taint, logs and exec through the kubelet, Services,
// image pulls through a pull secret from an authenticated registry, and NetworkPolicy enforced.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, kubectlJson, kubectlOk, uniqueName, waitFor } from "./harness";
import {
  REAL_NODE_LABEL, REAL_NODE_TAINT, execIn, onRealNode, pod, realNode, realNodeMissing, restrictedContainer, restrictedPod, waitRunning,
} from "./realnode-harness";

const missing = realNodeMissing();
const ns = uniqueName("it-real");

interface NodeObj {
  metadata: { name: string; labels: Record<string, string> };
  spec: { taints?: { key: string; effect: string }[] };
  status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } };
}

/** A pod of the project's test programs on the real node. */
function toolsPod(name: string, labels: Record<string, string>, command: string[]): string {
  const n = realNode();
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec: {
      ...onRealNode(),
      ...restrictedPod,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", image: n.images.tools, imagePullPolicy: "Never", command, ...restrictedContainer }],
    },
  });
}

async function connect(from: string, target: string, how: "connect" | "dial" = "connect"): Promise<string> {
  const r = await execIn(ns, from, ["/bin/netcheck", how, target, "2s"]);
  return r.out.startsWith("open") && r.code === 0 ? "open" : `closed (${r.out})`;
}

describe.skipIf(missing !== "")(`the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    await kubectlOk(["create", "namespace", ns]);
    await waitFor("default service account", async () => ((await kubectl(["get", "sa", "default", "-n", ns])).code === 0 ? true : undefined));
  });

  afterAll(async () => {
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("is Ready, runs kubelet 1.36 on containerd 2, is labelled and tainted; other pods stay on the simulated nodes", async () => {
    const n = realNode();
    const node = await kubectlJson<NodeObj>(["get", "node", n.name]);
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(node.metadata.labels[REAL_NODE_LABEL]).toBe("real");
    expect(node.spec.taints?.map((t) => `${t.key}:${t.effect}`)).toContain(`${REAL_NODE_TAINT}:NoSchedule`);
    expect(node.status.nodeInfo.kubeletVersion).toMatch(/^v1\.36\./);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);

    // A workload that does not ask for the real node never lands on it.
    await kubectlOk(["create", "deployment", "sim", "-n", ns, "--image=registry.example.test/sim:1", "--replicas=4"]);
    await kubectlOk(["rollout", "status", "deployment/sim", "-n", ns, "--timeout=60s"]);
    const pods = await kubectlJson<{ items: { spec: { nodeName: string } }[] }>(["get", "pods", "-n", ns, "-l", "app=sim"]);
    expect(pods.items).toHaveLength(4);
    for (const p of pods.items) expect(p.spec.nodeName).not.toBe(n.name);
    await kubectlOk(["delete", "deployment", "sim", "-n", ns]);
  });

  it("runs a real container: its logs and exec go through the kubelet, and a Service routes to it", async () => {
    const n = realNode();
    await kubectlOk(["apply", "-f", "-"], toolsPod("server", { role: "server" }, ["/bin/netcheck", "serve", "8080"]));
    await kubectlOk(["apply", "-f", "-"], toolsPod("client", { role: "client" }, ["/bin/pause"]));
    const server = await waitRunning(ns, "server");
    await waitRunning(ns, "client");
    expect(server.spec.nodeName).toBe(n.name);
    expect(server.status.podIP).toMatch(/^10\.88\.0\./);
    const logs = await kubectlOk(["logs", "-n", ns, "server"]);
    expect(logs).toContain("listening on :8080");
    // A real TCP connection between two pods, answered by the server process (its hostname).
    const direct = await execIn(ns, "client", ["/bin/netcheck", "connect", `${server.status.podIP}:8080`]);
    expect(direct.out).toBe("open ok server");
    // ClusterIP Services work (kube-proxy), including the API server's at 10.96.0.1:443.
    await kubectlOk(["expose", "pod", "server", "-n", ns, "--port=80", "--target-port=8080", "--name=server"]);
    const ip = (await kubectlOk(["get", "service", "server", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).trim();
    await waitFor("the Service to route", async () => ((await connect("client", `${ip}:80`)) === "open" ? true : undefined), 30_000);
    expect(await connect("client", "10.96.0.1:443", "dial")).toBe("open");
    // Nothing answers on a port nobody listens on: the probe can fail.
    expect(await connect("client", `${server.status.podIP}:8081`)).toMatch(/^closed/);
  });

  it("pulls from the authenticated registry only with the pull secret", async () => {
    const n = realNode();
    await kubectlOk([
      "create", "secret", "docker-registry", "pull", "-n", ns, `--docker-server=${n.registry.server}`,
      `--docker-username=${n.registry.username}`, `--docker-password=${n.registry.password}`,
    ]);
    await kubectlOk([
      "create", "secret", "docker-registry", "wrong", "-n", ns, `--docker-server=${n.registry.server}`,
      `--docker-username=${n.registry.username}`, "--docker-password=not-the-password",
    ]);
    const puller = (name: string, secret?: string) => JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns },
      spec: {
        ...onRealNode(),
        ...restrictedPod,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        imagePullSecrets: secret ? [{ name: secret }] : undefined,
        // Always: every pod's pull goes to the registry with that pod's own credentials.
        containers: [{ name: "main", image: n.images.executor, imagePullPolicy: "Always", command: ["/bin/pause"], ...restrictedContainer }],
      },
    });
    await kubectlOk(["apply", "-f", "-"], puller("with-secret", "pull"));
    await kubectlOk(["apply", "-f", "-"], puller("without-secret"));
    await kubectlOk(["apply", "-f", "-"], puller("wrong-secret", "wrong"));
    const ok = await waitRunning(ns, "with-secret");
    expect(ok.spec.nodeName).toBe(n.name);
    for (const name of ["without-secret", "wrong-secret"]) {
      const waiting = await waitFor(`${name} to fail its pull`, async () => {
        const w = (await pod(ns, name)).status.containerStatuses?.[0]?.state.waiting;
        return w && /ErrImagePull|ImagePullBackOff/.test(w.reason ?? "") && w.message ? w : undefined;
      }, 90_000);
      expect(waiting.message).toMatch(/401|unauthorized|authorization/i);
      expect((await pod(ns, name)).status.phase).toBe("Pending");
    }
  });

  it("enforces NetworkPolicy: deny-all closes a working connection, an allow rule reopens it for the chosen pods only", async () => {
    await kubectlOk(["apply", "-f", "-"], toolsPod("stranger", { role: "other" }, ["/bin/pause"]));
    await waitRunning(ns, "stranger");
    const server = await waitRunning(ns, "server");
    const target = `${server.status.podIP}:8080`;
    expect(await connect("client", target)).toBe("open");
    expect(await connect("stranger", target)).toBe("open");

    await kubectlOk(["apply", "-n", ns, "-f", "-"], `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`);
    await waitFor("deny-all to close the connection", async () => ((await connect("client", target)).startsWith("closed") ? true : undefined), 60_000);
    expect(await connect("stranger", target)).toMatch(/^closed/);

    await kubectlOk(["apply", "-n", ns, "-f", "-"], `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client}
spec:
  podSelector: {matchLabels: {role: server}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: 8080, protocol: TCP}]
`);
    await waitFor("the allow rule to reopen it", async () => ((await connect("client", target)) === "open" ? true : undefined), 60_000);
    expect(await connect("stranger", target)).toMatch(/^closed/);

    await kubectlOk(["delete", "networkpolicy", "deny-all", "allow-client", "-n", ns]);
    await waitFor("the policies' removal to reopen it", async () => ((await connect("stranger", target)) === "open" ? true : undefined), 60_000);
  });
});
