// The Node.js the program runs under. Pulumi's language host runs the `node` first on PATH; the
// project needs the version package.json's `engines.node` names (the npm package `node` pins it,
// and scripts/env.sh puts it first on PATH). An older one fails later with errors that say
// nothing about Node.js (Node.js 20: the Kubernetes client's HTTP library breaks on load), so the
// program checks first and says what to do.
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** The problem with running under Node.js `version` when `engines` (">=22.12.0") is required; undefined when none. */
export function nodeVersionProblem(version: string, engines: string): string | undefined {
  const want = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(engines.trim());
  if (!want) return `package.json's engines.node is ${JSON.stringify(engines)}; this check reads only ">=X.Y.Z"`;
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!have) return `cannot read the Node.js version ${JSON.stringify(version)}`;
  const cmp = [1, 2, 3].map((i) => Number(have[i]) - Number(want[i])).find((d) => d !== 0) ?? 0;
  if (cmp >= 0) return undefined;
  return (
    `Node.js ${version.replace(/^v/, "")} runs this program; it needs ${engines.trim()} (package.json engines.node). ` +
    "Fix: run it through `npm run platform -- ...` or `bash scripts/with-env.sh pulumi ...` (they put the project's pinned Node.js first on PATH, after `bash scripts/setup.sh`), or install that Node.js version"
  );
}

/** The check against this checkout's package.json. */
export function runtimeNodeProblem(repoDir: string): string | undefined {
  const pkg = JSON.parse(readFileSync(path.join(repoDir, "package.json"), "utf8")) as { engines?: { node?: string } };
  return nodeVersionProblem(process.versions.node, pkg.engines?.node ?? ">=0.0.0");
}
