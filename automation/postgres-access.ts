/**
 * What rotate-secret needs of the running PostgreSQL: the cluster as the program reaches it
 * (the kubeconfig in $KUBECONFIG or ~/.kube/config, the stack's kubeContext; see
 * components/clusterReader.ts), the ready postgres pod, a Secret's data, and psql run inside the
 * pod with the SQL on stdin (never in argv: a process list or the API server's audit log would
 * show argv). @kubernetes/client-node is loaded only when a rotation needs it.
 */
import { Readable, Writable } from "node:stream";
import type { KubeConfig, V1Status } from "@kubernetes/client-node";
import type { Env } from "./args";
import { PlatformError } from "./errors";

export async function kubeConfigFor(env: Env, context: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  const files = (env["KUBECONFIG"] ?? "").split(":").filter((f) => f !== "");
  if (files.length) {
    kc.loadFromFile(files[0]);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      kc.mergeConfig(more);
    }
  } else {
    kc.loadFromDefault();
  }
  if (context) kc.setCurrentContext(context);
  if (!kc.getCurrentCluster()) {
    throw new PlatformError(`no cluster in the kubeconfig${context ? ` for context ${context}` : ""}: set KUBECONFIG or agent-platform:kubeContext`);
  }
  return kc;
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** A Secret's data (base64 values), or undefined when the Secret does not exist. */
export async function readSecretData(kc: KubeConfig, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const { CoreV1Api } = await import("@kubernetes/client-node");
  try {
    const s = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name, namespace });
    return s.data ?? {};
  } catch (err) {
    if (httpCode(err) === 404) return undefined;
    throw new PlatformError(`cannot read Secret ${namespace}/${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** The one running, ready, not-terminating pod matching the selector. */
export async function readyPod(kc: KubeConfig, namespace: string, selector: Record<string, string>): Promise<string> {
  const { CoreV1Api } = await import("@kubernetes/client-node");
  const labelSelector = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector });
  const ready = list.items.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.phase === "Running" &&
      (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
  );
  if (ready.length !== 1) {
    const seen = list.items.map((p) => `${p.metadata?.name} (${p.status?.phase ?? "?"})`).join(", ") || "none";
    throw new PlatformError(
      `expected one ready postgres pod in namespace ${namespace} (-l ${labelSelector}), found ${ready.length} (pods: ${seen}). ` +
        `The password is changed inside the running database first; wait until postgres is ready ` +
        `(kubectl get pods -n ${namespace} -l ${labelSelector}) and run rotate-secret again.`,
    );
  }
  return ready[0].metadata?.name ?? "";
}

export interface ExecResult {
  /** 0 on success; the command's exit code when the API reports it; -1 when unknown. */
  code: number;
  stdout: string;
  stderr: string;
}

/** The exit code in a failed exec's status ("NonZeroExitCode", cause ExitCode). */
export function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : -1;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/**
 * Runs `command` in a pod's container with `input` on stdin (through the API server's exec, as
 * `kubectl exec -i` does). stdin is never closed: the input must end the command itself (psql's
 * `\q`), which works with every exec protocol version (closing stdin needs v5.channel.k8s.io).
 */
export async function execWithInput(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container: string },
  command: string[],
  input: string,
  timeoutMs = 60_000,
): Promise<ExecResult> {
  const { Exec } = await import("@kubernetes/client-node");
  const out = collector();
  const err = collector();
  const stdin = new Readable({ read() {} });
  stdin.push(input);
  return new Promise<ExecResult>((resolve, reject) => {
    let socket: { close: () => void } | undefined;
    let done = false;
    const finish = (r: ExecResult | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stdin.destroy();
      socket?.close();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const timer = setTimeout(() => finish(new Error(`the command in pod ${target.namespace}/${target.pod} did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    new Exec(kc)
      .exec(target.namespace, target.pod, target.container, command, out.stream, err.stream, stdin, false, (status) => {
        // The status arrives after the command's output.
        setImmediate(() => finish({ code: exitCodeOf(status), stdout: out.text(), stderr: err.text() }));
      })
      .then((ws) => {
        socket = ws;
        ws.on("close", () => {
          setTimeout(() => finish(new Error(`the connection to pod ${target.namespace}/${target.pod} closed before the command reported its exit status`)), 200);
        });
        if (done) ws.close();
      })
      .catch((e: unknown) => finish(new Error(`cannot exec in pod ${target.namespace}/${target.pod}: ${(e as Error).message ?? String(e)}`)));
  });
}
