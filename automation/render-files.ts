/**
 * Pure part of `render`: the Kubernetes provider (renderYamlToDirectory) writes one YAML file
 * per object, Secrets included with their data in clear (base64). Here those files are split
 * into what may be written for GitOps and the Secrets that must not be, a SECRETS.md note is
 * built, and the kept files are scanned for any secret value before anything is written.
 */
import { parseAllDocuments } from "yaml";

export interface RenderedFile {
  /** Path relative to the render directory, with "/" separators (e.g. 1-manifest/v1-secret-ns-x.yaml). */
  path: string;
  content: string;
}

export interface OmittedSecret {
  path: string;
  namespace: string;
  name: string;
  type: string;
  keys: string[];
}

export interface RenderPlan {
  kept: RenderedFile[];
  omitted: OmittedSecret[];
  /** Kept files in which a secret value was found (rendering must then fail). */
  leaks: { path: string; secret: string }[];
}

interface K8sObject {
  apiVersion?: string;
  kind?: string;
  type?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function parseObjects(file: RenderedFile): K8sObject[] {
  const docs: unknown[] = parseAllDocuments(file.content).map((d) => d.toJS() as unknown);
  return docs.filter((d): d is K8sObject => typeof d === "object" && d !== null);
}

/** Shortest Secret value that is scanned for: shorter values (user names, database names) recur in plain config. */
const MIN_SCANNED_SECRET_LENGTH = 16;

/** Values a leak scan looks for: each long secret value as is and base64-encoded. */
function secretNeedles(obj: K8sObject): string[] {
  const raw: string[] = [];
  for (const v of Object.values(obj.data ?? {})) {
    if (typeof v === "string" && v.length > 0) raw.push(Buffer.from(v, "base64").toString("utf8"));
  }
  for (const v of Object.values(obj.stringData ?? {})) {
    if (typeof v === "string") raw.push(v);
  }
  return raw.filter((s) => s.length >= MIN_SCANNED_SECRET_LENGTH).flatMap((s) => [s, Buffer.from(s, "utf8").toString("base64")]);
}

/**
 * Splits rendered files. `extraSecrets` are more values to scan for (the stack's secret
 * config). A file holding several objects with any Secret among them is omitted whole.
 */
export function planRender(files: readonly RenderedFile[], extraSecrets: readonly string[] = []): RenderPlan {
  const kept: RenderedFile[] = [];
  const omitted: OmittedSecret[] = [];
  const needles = new Set(extraSecrets.filter((s) => s.length >= 8).flatMap((s) => [s, Buffer.from(s, "utf8").toString("base64")]));
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const objects = parseObjects(f);
    const secrets = objects.filter((o) => o.kind === "Secret" && (o.apiVersion ?? "v1") === "v1");
    if (secrets.length === 0) {
      kept.push(f);
      continue;
    }
    for (const s of secrets) {
      omitted.push({
        path: f.path,
        namespace: s.metadata?.namespace ?? "default",
        name: s.metadata?.name ?? "(unnamed)",
        type: s.type ?? "Opaque",
        keys: [...new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})])].sort(),
      });
      for (const n of secretNeedles(s)) needles.add(n);
    }
  }
  const leaks: { path: string; secret: string }[] = [];
  for (const f of kept) {
    for (const n of needles) {
      if (f.content.includes(n)) {
        leaks.push({ path: f.path, secret: describeNeedle(n, omitted) });
        break;
      }
    }
  }
  return { kept, omitted, leaks };
}

function describeNeedle(_needle: string, omitted: readonly OmittedSecret[]): string {
  // Never echo the value; say only that a secret value was found.
  return omitted.length ? "a value of one of the omitted Secrets or of a secret config key" : "a value of a secret config key";
}

export function secretsNote(stack: string, omitted: readonly OmittedSecret[]): string {
  const lines: string[] = [];
  lines.push(`# Secrets not rendered (stack ${stack})`, "");
  lines.push(
    "`npm run platform -- render` leaves every Kubernetes Secret out of this directory: the rendered",
    "manifests are meant for Git, and a Secret manifest carries its values in clear (base64).",
    "Create these Secrets in the cluster by other means before applying the manifests, for example",
    "with External Secrets, Sealed Secrets or SOPS, or by hand with `kubectl create secret`.",
    "The generated values (PostgreSQL password, encryption keys, API key, auth secret) are owned by the",
    "Pulumi stack; when you deploy with Pulumi instead, nothing here is needed.",
    "",
  );
  if (omitted.length === 0) {
    lines.push("This render contained no Secrets.");
  } else {
    lines.push("| namespace | name | type | keys |", "|---|---|---|---|");
    for (const o of omitted) {
      lines.push(`| ${o.namespace} | ${o.name} | ${o.type} | ${o.keys.join(", ") || "(none)"} |`);
    }
    lines.push("", "Example for an Opaque Secret:", "");
    const first = omitted.find((o) => o.type === "Opaque") ?? omitted[0];
    const literals = first.keys.map((k) => `--from-literal=${k}=...`).join(" ");
    lines.push("```sh", `kubectl -n ${first.namespace} create secret generic ${first.name} ${literals}`.trimEnd(), "```");
  }
  return lines.join("\n") + "\n";
}
