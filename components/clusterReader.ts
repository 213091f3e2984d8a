// Reads objects (and the server's version) from the cluster the Kubernetes provider deploys to,
// before the program registers anything: the same kubeconfig ($KUBECONFIG or ~/.kube/config) and context (kubeContext) the
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

/** The API server's Kubernetes version, as /version reports it. */
export interface ServerVersion {
  major: number;
  minor: number;
  gitVersion: string;
}

/** Reads the API server's version. */
export type ServerVersionReader = () => Promise<ServerVersion>;

/**
 * /version's answer as numbers. Managed clusters mark the minor version ("36+" on EKS), so
 * numbers are read from the start of each field, with gitVersion (v1.36.3-eks-…) as a fallback.
 */
export function parseServerVersion(body: { major?: string; minor?: string; gitVersion?: string }): ServerVersion {
  const git = /^v?(\d+)\.(\d+)/.exec(body.gitVersion ?? "");
  const major = parseInt(body.major ?? "", 10);
  const minor = parseInt(body.minor ?? "", 10);
  const v = {
    major: Number.isNaN(major) ? Number(git?.[1]) : major,
    minor: Number.isNaN(minor) ? Number(git?.[2]) : minor,
    gitVersion: body.gitVersion ?? `v${body.major ?? "?"}.${body.minor ?? "?"}`,
  };
  if (Number.isNaN(v.major) || Number.isNaN(v.minor)) throw new ClusterReadError(`the cluster reported a version this program cannot read: ${JSON.stringify(body)}`);
  return v;
}

/** What the program reads from the cluster before it registers anything. */
export interface ClusterAccess {
  read: ClusterReader;
  serverVersion: ServerVersionReader;
}

/** Reads through the kubeconfig context `context` (undefined: the current context). */
export function kubeconfigCluster(context: string | undefined): ClusterAccess {
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
  const get = async (pathname: string): Promise<{ status: number; body: string; url: URL; server: string }> => {
    prepared ??= prepare();
    const { server, options } = await prepared;
    const url = new URL(server + pathname);
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
    return { status, body, url, server };
  };
  return {
    read: async (ref) => {
      const { status, body, url, server } = await get(objectPath(ref));
      if (status === 404) return undefined;
      if (status !== 200) {
        throw new ClusterReadError(`reading ${url.pathname} from ${server} returned HTTP ${status}: ${body.slice(0, 300)}`);
      }
      const obj = JSON.parse(body) as {
        metadata?: LiveObject;
        spec?: { template?: { spec?: { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] } } };
      };
      const claimNames = (obj.spec?.template?.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));
      return { annotations: obj.metadata?.annotations ?? {}, labels: obj.metadata?.labels ?? {}, ...(claimNames.length ? { claimNames } : {}) };
    },
    serverVersion: async () => {
      const { status, body, server } = await get("/version");
      if (status !== 200) throw new ClusterReadError(`reading /version from ${server} returned HTTP ${status}: ${body.slice(0, 300)}`);
      return parseServerVersion(JSON.parse(body) as { major?: string; minor?: string; gitVersion?: string });
    },
  };
}
