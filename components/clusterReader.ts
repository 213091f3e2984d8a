// Reads objects from the cluster the Kubernetes provider deploys to, before the program registers
// anything: the same kubeconfig ($KUBECONFIG or ~/.kube/config) and context (kubeContext) the
// provider uses, with every authentication method kubeconfig files carry (client certificates,
// tokens, exec plugins such as `aws eks get-token`), through @kubernetes/client-node's KubeConfig.
import * as https from "node:https";
import type { LiveObject, ObjectRef } from "./builders/ownership";

/** Reads one object; undefined when it does not exist. */
export type ClusterReader = (ref: ObjectRef) => Promise<LiveObject | undefined>;

export function objectPath(r: ObjectRef): string {
  const base = r.apiVersion.includes("/") ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = r.namespace !== undefined ? `/namespaces/${encodeURIComponent(r.namespace)}` : "";
  return `${base}${ns}/${r.plural}/${encodeURIComponent(r.name)}`;
}

export class ClusterReadError extends Error {}

/** A reader for the kubeconfig context `context` (undefined: the current context). */
export function kubeconfigReader(context: string | undefined): ClusterReader {
  let prepared: Promise<{ server: string; options: https.RequestOptions }> | undefined;
  const prepare = async () => {
    // Loaded only here: the module is large, and render mode and the unit tests never need it.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new ClusterReadError(
        `no cluster in the kubeconfig${context ? ` for context ${context}` : ""} ($KUBECONFIG=${process.env.KUBECONFIG ?? "unset"}): ` +
          `set KUBECONFIG or agent-platform:kubeContext`,
      );
    }
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    return { server: cluster.server.replace(/\/$/, ""), options };
  };
  return async (ref) => {
    prepared ??= prepare();
    const { server, options } = await prepared;
    const url = new URL(server + objectPath(ref));
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(url, { ...options, method: "GET", headers: { ...options.headers, Accept: "application/json" }, timeout: 30_000 }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      });
      req.on("timeout", () => req.destroy(new Error("timed out after 30 s")));
      req.on("error", reject);
      req.end();
    }).catch((err: Error) => {
      throw new ClusterReadError(`cannot reach the cluster at ${server} to check what exists: ${err.message}`);
    });
    if (status === 404) return undefined;
    if (status !== 200) {
      throw new ClusterReadError(`reading ${url.pathname} from ${server} returned HTTP ${status}: ${body.slice(0, 300)}`);
    }
    const obj = JSON.parse(body) as { metadata?: LiveObject };
    return { annotations: obj.metadata?.annotations ?? {}, labels: obj.metadata?.labels ?? {} };
  };
}
