/**
 * `render`: the stack's manifests as YAML for GitOps, from the same program.
 *
 * How: a throwaway stack on a throwaway local file backend (with a throwaway passphrase)
 * gets a copy of the real stack's config plus `agent-platform:renderYamlToDirectory`, which
 * index.ts passes to the Kubernetes provider's `renderYamlToDirectory`; `up` on it makes the
 * provider write one YAML file per object instead of calling the cluster. The real stack's
 * state is never touched (rendering through it would swap the provider and replace every
 * resource). The provider writes Secrets with their values, so the files land in a private
 * temporary directory first; Secret manifests are left out, listed in SECRETS.md, the kept
 * files are scanned for any secret value, and only then is anything written to --out.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import type { CommandResult } from "./commands";
import type { RunContext } from "./context";
import { PlatformError } from "./errors";
import { planRender, secretsNote, type RenderedFile } from "./render-files";
import { loadAutomation, openWorkspace, type OpenedStack } from "./stack";
import { runUp } from "./update";
import { PROJECT, type ConfigKey } from "../config";

/** The stack config keys index.ts reads in render mode (declared in config.ts, set only here). */
const RENDER_CONFIG_KEY = `${PROJECT}:${"renderYamlToDirectory" satisfies ConfigKey}`;
const RENDER_STACK_KEY = `${PROJECT}:${"renderStack" satisfies ConfigKey}`;

/**
 * The owner the rendered objects are marked with: the real stack's, as its last `up` exported it,
 * so a rendered manifest and the deployed object agree (never the throwaway stack's name).
 */
async function ownerOf(realStack: Stack, stackName: string): Promise<string> {
  const exported = (await realStack.outputs()).owner?.value;
  if (typeof exported === "string" && exported !== "") return exported;
  const parts = stackName.split("/");
  return parts.length === 3 ? stackName : `organization/${PROJECT}/${parts[parts.length - 1]}`;
}
/** The subdirectories the Kubernetes provider writes; render replaces exactly these in --out. */
const RENDER_SUBDIRS = ["0-crd", "1-manifest"] as const;
const SECRETS_NOTE_FILE = "SECRETS.md";

async function listFiles(root: string, dir = root): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  let entries: import("node:fs").Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw err;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(root, full)));
    else if (e.isFile()) out.push({ path: path.relative(root, full).split(path.sep).join("/"), content: await fs.readFile(full, "utf8") });
  }
  return out;
}

/** "imageTag" -> "agent-platform:imageTag", as `pulumi config set` reads a key without namespace. */
export function qualifyKey(key: string, project = "agent-platform"): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

export function renderStackName(stack: string, suffix: string): string {
  const last = stack.split("/").pop() ?? stack;
  return `render-${last}-${suffix}`;
}

export async function render(ctx: RunContext, { stack: realStack, secretValues: stackSecretValues }: OpenedStack): Promise<CommandResult> {
  const secretValues = [...stackSecretValues, ...ctx.opts.config.filter((c) => c.secret).map((c) => c.value)];
  const out = path.resolve(ctx.opts.out ?? "");
  const config: ConfigMap = await realStack.getAllConfig();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "agent-platform-render-"));
  await fs.chmod(tmp, 0o700);
  const renderDir = path.join(tmp, "yaml");
  const backendDir = path.join(tmp, "state");
  await fs.mkdir(backendDir);
  const tempName = renderStackName(ctx.opts.stack, randomBytes(3).toString("hex"));
  const notes: string[] = [];
  const ws = await openWorkspace(ctx, {
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(24).toString("hex"),
  });
  let created = false;
  try {
    ctx.note(`render: running the program for stack ${ctx.opts.stack} in render mode (throwaway stack ${tempName}; the cluster and the real state are not touched)`);
    const temp = await (await loadAutomation()).Stack.create(tempName, ws);
    created = true;
    const overrides: ConfigMap = {};
    for (const c of ctx.opts.config) overrides[qualifyKey(c.key)] = { value: c.value, secret: c.secret };
    await temp.setAllConfig({
      ...config,
      ...overrides,
      [RENDER_CONFIG_KEY]: { value: renderDir, secret: false },
      [RENDER_STACK_KEY]: { value: await ownerOf(realStack, ctx.opts.stack), secret: false },
    });
    await runUp(ctx, temp, []);

    const files = await listFiles(renderDir);
    if (files.length === 0) {
      throw new PlatformError(
        `the program rendered no manifests. index.ts must read the config key ${RENDER_CONFIG_KEY} and, when it is set, ` +
          `build the Kubernetes provider with renderYamlToDirectory set to it (see docs/automation.md, "render").`,
      );
    }
    const plan = planRender(files, secretValues);
    if (plan.leaks.length) {
      throw new PlatformError(
        `render stopped, nothing written: ${plan.leaks.map((l) => `${l.path} contains ${l.secret}`).join("; ")}. ` +
          `Take the value out of that object (use a Secret and secretKeyRef) and render again.`,
      );
    }
    await fs.mkdir(out, { recursive: true });
    for (const sub of RENDER_SUBDIRS) await fs.rm(path.join(out, sub), { recursive: true, force: true });
    for (const f of plan.kept) {
      const target = path.join(out, ...f.path.split("/"));
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, f.content, { mode: 0o644 });
    }
    await fs.writeFile(path.join(out, SECRETS_NOTE_FILE), secretsNote(ctx.opts.stack, plan.omitted), { mode: 0o644 });
    const msg = `render: wrote ${plan.kept.length} manifest(s) to ${out}; left out ${plan.omitted.length} Secret(s), listed in ${SECRETS_NOTE_FILE}`;
    notes.push(msg);
    return {
      outcome: { kind: "ok" },
      render: {
        out,
        files: plan.kept.map((f) => f.path),
        omittedSecrets: plan.omitted.map(({ namespace, name, type, keys }) => ({ namespace, name, type, keys })),
      },
      notes,
    };
  } finally {
    if (created) {
      try {
        await ws.removeStack(tempName, { force: true });
      } catch (err) {
        ctx.note(`render: could not remove the throwaway stack ${tempName}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    // `stack rm` deletes the stack's config file; make sure no copy of the config is left behind.
    await fs.rm(path.join(ctx.workDir, `Pulumi.${tempName}.yaml`), { force: true });
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
