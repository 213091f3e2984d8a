import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

// The integration suite starts its own cluster (its own name and ports, so it never touches
// the developer's `local` cluster) and always stops it, pass or fail.
const repo = path.resolve(__dirname, "../..");
const name = process.env.IT_CLUSTER_NAME ?? "it";
const script = path.join(repo, "cluster/cluster.sh");

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    clusterName: string;
  }
}

export default function setup(project: TestProject): () => void {
  const t0 = Date.now();
  execFileSync("bash", [script, "up", "--name", name], { stdio: ["ignore", "inherit", "inherit"] });
  const kubeconfig = path.join(repo, ".local/cluster", name, "kubeconfig");
  project.provide("kubeconfig", kubeconfig);
  project.provide("clusterName", name);
  process.env.KUBECONFIG = kubeconfig;
  console.log(`[integration] cluster '${name}' up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return () => {
    if (process.env.IT_KEEP_CLUSTER === "1") return;
    execFileSync("bash", [script, "down", "--name", name], { stdio: ["ignore", "inherit", "inherit"] });
  };
}
