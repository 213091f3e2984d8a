// An independent NetworkPolicy evaluator for tests: cyclonus (github.com/mattfenwick/cyclonus,
// built into .local/bin by the toolchain) answers "is this connection allowed?" from the
// policies, the namespaces' labels and the pods' labels alone, with no cluster and no CNI.
//
// The CLI form used: cyclonus analyze --mode query-traffic --policy-path DIR --traffic-path FILE
// It prints one "Is allowed?" footer (TRUE/FALSE) per traffic entry, in order; ingress and
// egress are both judged (a connection needs both).
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const repoRoot = path.resolve(__dirname, "../..");
export const CYCLONUS = path.join(repoRoot, ".local/bin/cyclonus");

/** A pod: its namespace (name and labels, as the cluster has them), its labels and its IP. */
export interface PodPeer {
  namespace: string;
  namespaceLabels: Record<string, string>;
  podLabels: Record<string, string>;
  ip: string;
}
/** An address outside the cluster. */
export interface ExternalPeer {
  ip: string;
}
export type Peer = PodPeer | ExternalPeer;

export interface TrafficRow {
  name: string;
  from: Peer;
  to: Peer;
  port: number;
  protocol: "TCP" | "UDP" | "SCTP";
}

export interface Verdict {
  name: string;
  allowed: boolean;
}

function cyclonusPeer(p: Peer): Record<string, unknown> {
  if ("namespace" in p) {
    return { IP: p.ip, Internal: { PodLabels: p.podLabels, NamespaceLabels: p.namespaceLabels, Namespace: p.namespace } };
  }
  return { IP: p.ip };
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ stdout: String(stdout), stderr: String(stderr), code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
    });
  });
}

/**
 * Evaluates each row against `policies` (NetworkPolicy objects, for instance as `kubectl get
 * networkpolicy -o json` returns them). Throws when cyclonus fails or answers a different
 * number of rows than it was asked.
 */
export async function evaluateTraffic(policies: unknown[], rows: TrafficRow[]): Promise<Verdict[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netpol-eval-"));
  try {
    const pdir = path.join(dir, "policies");
    mkdirSync(pdir);
    policies.forEach((p, i) => writeFileSync(path.join(pdir, `policy-${i}.json`), JSON.stringify(p)));
    const traffic = rows.map((r) => ({
      Source: cyclonusPeer(r.from),
      Destination: cyclonusPeer(r.to),
      ResolvedPort: r.port,
      ResolvedPortName: "",
      Protocol: r.protocol,
    }));
    const trafficFile = path.join(dir, "traffic.json");
    writeFileSync(trafficFile, JSON.stringify(traffic));
    const r = await run(CYCLONUS, ["analyze", "--mode", "query-traffic", "--policy-path", pdir, "--traffic-path", trafficFile]);
    if (r.code !== 0) throw new Error(`cyclonus failed (${r.code}): ${r.stderr}\n${r.stdout}`);
    const answers = [...r.stdout.matchAll(/IS ALLOWED\?\s*\|\s*(TRUE|FALSE)\s*\|/g)].map((m) => m[1] === "TRUE");
    if (answers.length !== rows.length) {
      throw new Error(`cyclonus answered ${answers.length} of ${rows.length} traffic rows:\n${r.stdout}\n${r.stderr}`);
    }
    return rows.map((row, i) => ({ name: row.name, allowed: answers[i] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
