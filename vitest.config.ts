import { defineConfig } from "vitest/config";

// Two projects: `unit` (Pulumi mocks, no cluster, must stay fast) and `integration`
// (the real Pulumi CLI through the Automation API against the real local cluster).
// Pulumi's runtime is process-global: the one unit file that uses it (program.test.ts) sets its
// mocks before importing the program, and the pure unit files share one module graph for speed.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // Only program.test.ts touches the Pulumi runtime (mocks are process-global): the other
          // files are pure and share one module graph, which keeps the suite fast.
          isolate: false,
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "integration",
          globalSetup: ["test/integration/global-setup.ts"],
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          isolate: true,
          // One cluster, one Pulumi backend directory per file; files run one after another.
          fileParallelism: false,
          // Worker threads end cleanly once a file is done (forked workers were left waiting on
          // the Automation API's child processes and timed out on teardown).
          pool: "threads",
          testTimeout: 900_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
