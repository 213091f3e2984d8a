import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

// The integration suite starts its own cluster (its own name and ports, so it never touches
// the developer's `local` cluster) and always stops it, pass or fail.
// One real node joins it (cluster/real-node.sh, docs/real-node.md) when this process runs as
// root, the only way a kubelet, containerd and network namespaces can run here; IT_REAL_NODES=0
// leaves it out (the real-node test files then skip and say why), IT_REAL_NODES=1 insists.
const repo = path.resolve(__dirname, "../..");
const name = process.env.IT_CLUSTER_NAME ?? "it";
const script = path.join(repo, "cluster/cluster.sh");
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const realNodes = process.env.IT_REAL_NODES ?? (isRoot ? "1" : "0");

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    clusterName: string;
    /** Why there is no real node ("" when there is one). */
    realNodeMissing: string;
  }
}

export default function setup(project: TestProject): () => void {
  const t0 = Date.now();
  execFileSync("bash", [script, "up", "--name", name, "--real-nodes", realNodes], { stdio: ["ignore", "inherit", "inherit"] });
  const kubeconfig = path.join(repo, ".local/cluster", name, "kubeconfig");
  project.provide("kubeconfig", kubeconfig);
  project.provide("clusterName", name);
  project.provide(
    "realNodeMissing",
    realNodes === "1" ? "" : isRoot ? "IT_REAL_NODES=0 was set" : "not running as root: a real node needs network namespaces, mounts and cgroups",
  );
  process.env.KUBECONFIG = kubeconfig;
  console.log(`[integration] cluster '${name}' up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${realNodes} real node)`);
  return () => {
    if (process.env.IT_KEEP_CLUSTER === "1") return;
    execFileSync("bash", [script, "down", "--name", name], { stdio: ["ignore", "inherit", "inherit"] });
  };
}
