/**
 * Entry point: `npm run platform -- <command> --stack <name> [options]`.
 * SIGINT/SIGTERM stop only this run's own update (the pulumi child gets SIGINT and
 * finishes cleanly); the exit code is set, never forced.
 */
import { run } from "./cli-main";

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

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, { signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
