/**
 * A torn metadata file of the local file backend, repaired before a stack is opened.
 *
 * The file backend (gocloud's fileblob) keeps each blob's metadata in a sidecar `<blob>.attrs`
 * and writes it in place (create, then encode) just before it renames the new checkpoint over
 * the old one. An update killed between the two (SIGKILL, OOM, a lost CI runner) leaves an empty
 * or cut-off `<stack>.json.attrs` beside a complete checkpoint (the old one: the rename never
 * happened), and every later command on the stack fails with "failed to load checkpoint: EOF".
 * The sidecar holds only a content type and a checksum, and a blob without one is read as is;
 * so a sidecar that is not JSON is removed (with a note), which leaves the stack at its last
 * complete checkpoint, as if the update had been killed a moment earlier. Remote backends
 * (S3, Azure, GCS, Pulumi Cloud) write atomically and are never touched.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT } from "../config";
import type { RunContext } from "./context";

/** The directory of a file:// backend URL (as PULUMI_BACKEND_URL gives it), else undefined. */
export function fileBackendDir(url: string | undefined, home: string = os.homedir(), cwd: string = process.cwd()): string | undefined {
  if (!url?.startsWith("file://")) return undefined;
  const p = decodeURIComponent(url.slice("file://".length).split("?")[0] ?? "");
  if (p === "~" || p.startsWith("~/")) return path.join(home, p.slice(1));
  return path.resolve(cwd, p);
}

/** The sidecars a command on `stack` reads first: its checkpoint's (every compression) and its backup's, both layouts. */
export function checkpointSidecars(backendDir: string, stack: string): string[] {
  const name = stack.split("/").pop() ?? stack;
  const dirs = [path.join(backendDir, ".pulumi", "stacks", PROJECT), path.join(backendDir, ".pulumi", "stacks")];
  return dirs.flatMap((d) => ["", ".gz", ".zst"].flatMap((c) => [`${name}.json${c}`, `${name}.json${c}.bak`]).map((f) => path.join(d, `${f}.attrs`)));
}

/** Whether a sidecar's text is torn (not a JSON object). */
export function isTornSidecar(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v !== "object" || v === null || Array.isArray(v);
  } catch {
    return true;
  }
}

/** Removes the torn checkpoint sidecars of the stack in a file backend; returns what it removed. */
export async function repairTornSidecars(ctx: Pick<RunContext, "env" | "note">, stack: string): Promise<string[]> {
  const dir = fileBackendDir(ctx.env["PULUMI_BACKEND_URL"]);
  if (dir === undefined) return [];
  const removed: string[] = [];
  for (const file of checkpointSidecars(dir, stack)) {
    const text = await fs.readFile(file, "utf8").catch(() => undefined);
    if (text === undefined || !isTornSidecar(text)) continue;
    await fs.rm(file, { force: true });
    removed.push(file);
    ctx.note(
      `removed a torn metadata file of the file backend (${file}, ${text.length} bytes: an update was killed while writing it); ` +
        `stack ${stack} is at its last complete checkpoint`,
    );
  }
  return removed;
}
