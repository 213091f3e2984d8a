/**
 * Entry point: `npm run platform -- <command> --stack <name> [options]`.
 * SIGINT/SIGTERM stop only this run's own update (the pulumi child gets SIGINT and
 * finishes cleanly); the exit code is set, never forced.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { run } from "./cli-main";

/**
 * The Pulumi project directory: the first folder above this file with a Pulumi.yaml. This file
 * runs from automation/ (tsx, the tests) or from its build in .local/cli/<hash>/automation/
 * (`npm run platform`, scripts/build-cli.sh).
 */
function projectDir(): string {
  for (let dir = path.resolve(__dirname, ".."); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml in any folder above ${__dirname}`);
  }
}

const controller = new AbortController();
let signals = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`[platform] second ${sig}: exiting now; the stack may be left locked (see docs/automation.md)\n`);
      process.exit(130);
    }
    process.stderr.write(`[platform] ${sig}: asking this run's pulumi update to stop cleanly (send again to exit at once)\n`);
    controller.abort();
  });
}

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, { signal: controller.signal, workDir: projectDir() }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
