// The local cluster is a real Kubernetes control plane: these tests check what a platform
// engineer relies on when deploying to it (scheduling, readiness, storage, endpoints, RBAC,
// Pod Security admission). They use the real kubectl and real service-account tokens.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeconfig, kubectl, kubectlJson, kubectlOk, repoRoot, uniqueName, waitFor } from "./harness";

const ns = uniqueName("it-cluster");

interface Obj {
  status?: Record<string, unknown>;
  spec?: Record<string, unknown>;
}

beforeAll(async () => {
  await kubectlOk(["create", "namespace", ns]);
  // The service-account controller creates `default` asynchronously.
  await waitFor("default service account", async () => ((await kubectl(["get", "sa", "default", "-n", ns])).code === 0 ? true : undefined));
});

afterAll(async () => {
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
});

describe("local cluster", () => {
  it("serves the pinned Kubernetes version with simulated nodes Ready", async () => {
    const version = JSON.parse(await kubectlOk(["get", "--raw", "/version"])) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(version.gitVersion).not.toBe("v0.0.0");
    const nodes = await kubectlJson<{ items: { status: { conditions: { type: string; status: string }[] } }[] }>(["get", "nodes"]);
    expect(nodes.items.length).toBeGreaterThanOrEqual(2);
    for (const n of nodes.items) {
      expect(n.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    }
  });

  it("rolls out a 2-replica Deployment to Available and gives its Service endpoints", async () => {
    await kubectlOk(["apply", "-n", ns, "-f", "-"], `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
`);
    await kubectlOk(["rollout", "status", "deployment/web", "-n", ns, "--timeout=60s"]);
    const d = await kubectlJson<Obj>(["get", "deployment", "web", "-n", ns]);
    expect(d.status?.availableReplicas).toBe(2);
    const ready = await waitFor("2 ready endpoints", async () => {
      const slices = await kubectlJson<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>([
        "get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web",
      ]);
      const n = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length;
      return n === 2 ? n : undefined;
    });
    expect(ready).toBe(2);
  });

  it("binds a PVC through the default StorageClass and runs the pod that mounts it", async () => {
    await kubectlOk(["apply", "-n", ns, "-f", "-"], `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: uses-data}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: d, mountPath: /data}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`);
    const phase = await waitFor("PVC Bound", async () => {
      const p = await kubectlJson<Obj>(["get", "pvc", "data", "-n", ns]);
      return p.status?.phase === "Bound" ? p.status.phase : undefined;
    });
    expect(phase).toBe("Bound");
    await kubectlOk(["wait", "pod/uses-data", "-n", ns, "--for=condition=Ready", "--timeout=60s"]);
    const pod = await kubectlJson<Obj>(["get", "pod", "uses-data", "-n", ns]);
    expect(pod.status?.phase).toBe("Running");
  });

  it("enforces RBAC on real service-account tokens", async () => {
    await kubectlOk(["create", "serviceaccount", "nobody", "-n", ns]);
    await kubectlOk(["create", "serviceaccount", "lister", "-n", ns]);
    await kubectlOk(["create", "role", "list-pods", "-n", ns, "--verb=list", "--resource=pods"]);
    await kubectlOk(["create", "rolebinding", "lister", "-n", ns, "--role=list-pods", `--serviceaccount=${ns}:lister`]);
    const nobody = (await kubectlOk(["create", "token", "nobody", "-n", ns])).trim();
    const lister = (await kubectlOk(["create", "token", "lister", "-n", ns])).trim();

    const denied = await kubectl(["get", "pods", "-n", ns], { token: nobody });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/i);

    const allowed = await kubectl(["get", "pods", "-n", ns], { token: lister });
    expect(allowed.stderr).toBe("");
    expect(allowed.code).toBe(0);
    // Exactly that: no delete, no secrets, nothing in other namespaces.
    const del = await kubectl(["delete", "pod", "uses-data", "-n", ns, "--dry-run=server"], { token: lister });
    expect(del.stderr).toMatch(/forbidden/i);
    expect((await kubectl(["get", "secrets", "-n", ns], { token: lister })).stderr).toMatch(/forbidden/i);
    expect((await kubectl(["get", "pods", "-n", "default"], { token: lister })).stderr).toMatch(/forbidden/i);
  });

  it("rejects a privileged pod in a namespace that enforces the restricted Pod Security level", async () => {
    const restricted = `${ns}-restricted`;
    await kubectlOk(["create", "namespace", restricted]);
    try {
      await kubectlOk(["label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted"]);
      const r = await kubectl(["apply", "-n", restricted, "-f", "-"], {
        input: `
apiVersion: v1
kind: Pod
metadata: {name: privileged}
spec:
  containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
`,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/violates PodSecurity "restricted/);
      expect((await kubectl(["get", "pod", "privileged", "-n", restricted])).code).not.toBe(0);
    } finally {
      await kubectl(["delete", "namespace", restricted, "--wait=false"]);
    }
  });
});

describe("cluster script", () => {
  it("runs a second cluster beside the first, and `down` leaves no process, listener or data", async () => {
    const sh = promisify(execFile);
    const name = `side-${process.pid}`;
    const script = path.join(repoRoot, "cluster/cluster.sh");
    const dir = path.join(repoRoot, ".local/cluster", name);
    try {
      await sh("bash", [script, "up", "--name", name, "--nodes", "1"], { timeout: 120_000 });
      const kc = path.join(dir, "kubeconfig");
      const port = Number(readFileSync(kc, "utf8").match(/server: https:\/\/127\.0\.0\.1:(\d+)/)?.[1]);
      expect(port).toBeGreaterThan(0);
      // Both clusters answer at once, on different ports.
      expect(readFileSync(kubeconfig(), "utf8")).not.toContain(`127.0.0.1:${port}`);
      const side = await sh(path.join(repoRoot, ".local/bin/kubectl"), ["--kubeconfig", kc, "get", "nodes", "-o", "name"]);
      expect(side.stdout.trim().split("\n")).toEqual(["node/kwok-node-1"]);
      expect((await kubectl(["get", "--raw", "/readyz"])).code).toBe(0);
      // Loopback only.
      const listening = (await sh("ss", ["-Hltn"])).stdout;
      const mine = listening.split("\n").filter((l) => new RegExp(`:${port}\\b`).test(l));
      expect(mine.length).toBeGreaterThan(0);
      for (const l of mine) expect(l).toMatch(/127\.0\.0\.1:/);
      const pids = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"].map((c) =>
        Number(readFileSync(path.join(dir, "run", `${c}.pid`), "utf8")),
      );

      await sh("bash", [script, "down", "--name", name]);
      for (const pid of pids) expect(existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);
      const after = (await sh("ss", ["-Hltn"])).stdout;
      for (let p = port; p < port + 6; p++) expect(after).not.toMatch(new RegExp(`:${p}\\b`));
      for (const d of ["etcd", "pki", "run", "kubeconfig"]) expect(existsSync(path.join(dir, d)), d).toBe(false);
      // The other cluster is untouched.
      expect((await kubectl(["get", "--raw", "/readyz"])).code).toBe(0);
    } finally {
      await sh("bash", [script, "down", "--name", name]).catch(() => undefined);
    }
  });
});
