// The engine installer's manifest tree (test/integration/fixtures/installer/kubernetes, in the
// layout its documentation gives) as the adopt tests deploy it: copied into a namespace of the
// test's own, optionally edited (as if the installer had been run with other settings), then
// applied the way the documentation says (`kubectl apply -f <configDir>/kubernetes/ -R`).
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { kubectlOk, repoRoot } from "./harness";

export const FIXTURE = path.join(repoRoot, "test/integration/fixtures/installer/kubernetes");
/** The installer's default --stack-name, as the fixture has it: the adopted stack's instanceName. */
export const INSTANCE = "ai-2501";

/** The five generated values as the fixture's stringData holds them (file, key). */
export const GENERATED: Record<string, [string, string]> = {
  postgresPassword: ["secret/postgres.yml", "POSTGRES_PASSWORD"],
  credentialEncryptionKey: ["secret/engine.yml", "CREDENTIAL_ENCRYPTION_KEY"],
  engineApiKey: ["secret/engine.yml", "ENGINE_API_KEY"],
  authSecret: ["secret/engine.yml", "AUTH_SECRET"],
  logEncryptionKey: ["secret/engine.yml", "LOG_ENCRYPTION_KEY"],
};

export function fixtureValue(file: string, key: string): string {
  const m = new RegExp(`^  ${key}: (.+)$`, "m").exec(readFileSync(path.join(FIXTURE, file), "utf8"));
  if (!m) throw new Error(`${file} has no ${key}`);
  return m[1].trim();
}

export const generatedValues = (): Record<string, string> =>
  Object.fromEntries(Object.entries(GENERATED).map(([k, [f, key]]) => [k, fixtureValue(f, key)]));

/** Copies the tree to `dest` with namespace `ns`; `edit` may change a file's text (path relative to the tree). */
export function copyInstallerTree(dest: string, ns: string, edit: (file: string, text: string) => string = (_f, t) => t): void {
  cpSync(FIXTURE, dest, { recursive: true });
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)]));
  for (const f of walk(dest)) {
    const t = readFileSync(f, "utf8").replace(/namespace: ai-2501$/gm, `namespace: ${ns}`);
    const named = f.endsWith("namespace.yml") ? t.replace(/name: ai-2501$/m, `name: ${ns}`) : t;
    writeFileSync(f, edit(path.relative(dest, f), named));
  }
}

/** As the installer's documentation says; kubectl applies files in name order, so the namespace goes first. */
export async function applyInstallerTree(tree: string): Promise<void> {
  await kubectlOk(["apply", "-f", path.join(tree, "namespace.yml")]);
  await kubectlOk(["apply", "-R", "-f", tree]);
}
