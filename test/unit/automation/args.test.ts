import { describe, expect, it } from "vitest";
import { HelpRequested, helpText, parseArgs, parseDuration, UsageError } from "../../../automation/args";
import { DEFAULT_RETRIES, DEFAULT_RETRY_DELAY_MS } from "../../../automation/lock";

function usage(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseArgs(argv, env);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`expected a UsageError for ${argv.join(" ")}`);
}

describe("parseArgs: valid command lines", () => {
  it("parses a preview with defaults", () => {
    expect(parseArgs(["preview", "--stack", "dev"])).toEqual({
      command: "preview",
      stack: "dev",
      create: false,
      json: false,
      yes: false,
      refresh: true,
      repair: false,
      removeProtected: false,
      config: [],
      target: [],
      parallel: undefined,
      retries: DEFAULT_RETRIES,
      retryDelayMs: DEFAULT_RETRY_DELAY_MS,
      out: undefined,
      argument: undefined,
      abandonEncryptedData: false,
    });
  });

  it("accepts --flag=value, repeatable flags in order, and flags before the command", () => {
    const o = parseArgs(
      [
        "--stack=prod",
        "up",
        "--config",
        "agent-platform:imageTag=1.4.2",
        "--config=agent-platform:publicUrl=https://x.example/a=b",
        "--target",
        "urn:pulumi:prod::agent-platform::kubernetes:core/v1:Secret::a",
        "--target=urn:pulumi:prod::agent-platform::kubernetes:core/v1:Secret::b",
        "--parallel",
        "4",
        "--retries",
        "0",
        "--retry-delay",
        "250ms",
        "--refresh",
        "--create",
        "--json",
      ],
      {},
    );
    expect(o.command).toBe("up");
    expect(o.stack).toBe("prod");
    expect(o.config).toEqual([
      { key: "agent-platform:imageTag", value: "1.4.2", secret: false },
      { key: "agent-platform:publicUrl", value: "https://x.example/a=b", secret: false },
    ]);
    expect(o.target).toHaveLength(2);
    expect(o.target[1]).toMatch(/::b$/);
    expect(o).toMatchObject({ parallel: 4, retries: 0, retryDelayMs: 250, refresh: true, create: true, json: true });
  });

  it("reads --secret-config values from the environment, never from argv", () => {
    const o = parseArgs(["up", "--stack", "dev", "--secret-config", "agent-platform:postgresPassword=PG_PW"], { PG_PW: "s3cr3t-value" });
    expect(o.config).toEqual([{ key: "agent-platform:postgresPassword", value: "s3cr3t-value", secret: true }]);
  });

  it("accepts destroy with --yes and --remove-protected, drift with --repair, render with --out", () => {
    expect(parseArgs(["destroy", "--stack", "dev", "--yes", "--remove-protected"])).toMatchObject({ yes: true, removeProtected: true });
    expect(parseArgs(["drift", "--stack", "dev", "--repair"]).repair).toBe(true);
    expect(parseArgs(["render", "--stack", "dev", "--out", "out/dev"]).out).toBe("out/dev");
  });

  it("accepts --yes on any command (scripts pass it to up), requiring it only for destroy", () => {
    expect(parseArgs(["up", "--stack", "dev", "--create", "--yes"])).toMatchObject({ command: "up", yes: true, create: true });
  });

  it("accepts a fully qualified stack name", () => {
    expect(parseArgs(["outputs", "--stack", "acme/agent-platform/prod"]).stack).toBe("acme/agent-platform/prod");
  });
});

describe("parseArgs: error messages", () => {
  it.each([
    [[], "missing command; one of: preview, up, refresh, destroy, outputs, drift, refresh-pull-secret, render"],
    [["deploy", "--stack", "dev"], 'unknown command "deploy"'],
    [["previw", "--stack", "dev"], 'unknown command "previw"; did you mean preview?'],
    [["preview"], "--stack is required, e.g. npm run platform -- preview --stack dev"],
    [["preview", "--stack"], "--stack needs a value: --stack NAME"],
    [["preview", "--stack", "--json"], "--stack needs a value: --stack NAME"],
    [["preview", "--stack", "dev", "--stak", "x"], 'unknown option "--stak"; did you mean --stack?'],
    [["preview", "--stack", "dev", "-s"], 'unknown option "-s"; options are long'],
    [["preview", "--stack", "dev", "--json=yes"], "--json is a switch and takes no value"],
    [["preview", "--stack", "dev", "--stack", "prod"], "--stack given twice"],
    [["preview", "--stack", "dev", "extra"], 'unexpected argument "extra"'],
    [["preview", "--stack", "bad name!"], '--stack: "bad name!" is not a stack name'],
    [["destroy", "--stack", "prod"], "destroy deletes the resources of stack prod; pass --yes to confirm"],
    [["up", "--stack", "dev", "--repair"], "--repair does not apply to up; it is for: drift"],
    [["drift", "--stack", "dev", "--target", "urn:pulumi:x"], "--target does not apply to drift"],
    [["render", "--stack", "dev"], "render needs --out DIR"],
    [["up", "--stack", "dev", "--out", "x"], "--out does not apply to up; it is for: render"],
    [["up", "--stack", "dev", "--parallel", "0"], "--parallel: must be at least 1, got 0"],
    [["up", "--stack", "dev", "--parallel", "four"], '--parallel: "four" is not a whole number'],
    [["up", "--stack", "dev", "--retries", "-1"], '--retries: "-1" is not a whole number'],
    [["up", "--stack", "dev", "--retry-delay", "soon"], '--retry-delay: "soon" is not a duration; use e.g. 500ms, 5s or 1m'],
    [["up", "--stack", "dev", "--config", "imageTag"], "--config: expected KEY=VALUE"],
    [["up", "--stack", "dev", "--config", "=1"], "--config: expected KEY=VALUE"],
    [["up", "--stack", "dev", "--config", "a b=1"], '--config: "a b" is not a config key'],
    [["up", "--stack", "dev", "--config", "a=1", "--config", "a=2"], "config key a given more than once"],
    [["up", "--stack", "dev", "--target", "engine"], '--target: "engine" is not a URN'],
    [["destroy", "--stack", "dev", "--yes", "--remove-protected", "--target", "urn:pulumi:a"], "--remove-protected removes the whole stack"],
    [["up", "--stack", "dev", "--secret-config", "pw=lower-case-not-env!"], 'is not an environment variable name'],
  ])("%j -> %s", (argv, message) => {
    expect(usage(argv as string[])).toContain(message);
  });

  it("names the missing environment variable of a --secret-config, without any value", () => {
    const msg = usage(["up", "--stack", "dev", "--secret-config", "agent-platform:apiKey=API_KEY"], { OTHER: "x" });
    expect(msg).toBe(
      "--secret-config agent-platform:apiKey: environment variable API_KEY is not set or empty; export it (in CI: from the secret store)",
    );
  });

  it("does not echo a value in a malformed --config", () => {
    expect(usage(["up", "--stack", "dev", "--config", "=hunter2hunter2"])).not.toContain("hunter2");
  });
});

describe("help", () => {
  it("is a HelpRequested, with the command when given", () => {
    expect(() => parseArgs(["--help"])).toThrow(HelpRequested);
    try {
      parseArgs(["drift", "-h"]);
    } catch (err) {
      expect((err as HelpRequested).command).toBe("drift");
    }
  });
  it("lists only the options of one command", () => {
    const text = helpText("render");
    expect(text).toContain("--out DIR");
    expect(text).not.toContain("--repair");
    expect(text).toContain("exit codes: 0 done / no changes, 1 error, 2 changes or drift found");
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["5s", 5000],
    ["1.5s", 1500],
    ["2m", 120000],
    ["7", 7000],
  ])("%s = %d ms", (text, ms) => {
    expect(parseDuration(text, "retry-delay")).toBe(ms);
  });
});

describe("help and parsing agree", () => {
  const all = ["preview", "up", "refresh", "destroy", "outputs", "drift", "refresh-pull-secret", "render", "adopt", "rotate-secret"] as const;
  const valueOf: Record<string, string> = {
    stack: "dev",
    config: "a=1",
    "secret-config": "a=ENV_A",
    target: "urn:pulumi:dev::agent-platform::kubernetes:core/v1:Secret::a",
    parallel: "2",
    retries: "1",
    "retry-delay": "1s",
    out: "o",
    from: "t",
  };
  const options = Object.keys(valueOf).concat(["create", "json", "yes", "refresh", "no-refresh", "repair", "remove-protected", "dry-run", "abandon-encrypted-data"]);
  // A command's own argument and the flags its usage rules require, so only the option under test can be refused.
  const head = (command: string): string[] => (command === "rotate-secret" ? [command, "logEncryptionKey", "--abandon-encrypted-data"] : [command]);

  it.each(all)("%s: the help lists exactly the options parseArgs accepts", (command) => {
    const help = helpText(command);
    for (const name of options) {
      const argv = [...head(command), "--stack", "dev", "--yes", "--out", "o", "--from", "t"].filter((a, i, xs) => {
        // Leave out the options that do not apply, so only the one under test can be refused.
        if (command !== "render" && (a === "--out" || xs[i - 1] === "--out")) return false;
        if (command !== "adopt" && (a === "--from" || xs[i - 1] === "--from")) return false;
        return true;
      });
      if (!argv.includes(`--${name}`)) argv.push(`--${name}`, ...(valueOf[name] !== undefined ? [valueOf[name]] : []));
      let accepted = true;
      try {
        parseArgs(argv, { ENV_A: "v" });
      } catch (err) {
        if (!(err instanceof UsageError) || !err.message.startsWith(`--${name} does not apply to ${command}`)) throw err;
        accepted = false;
      }
      expect(new RegExp(`^  --${name}\\b`, "m").test(help), `--${name} for ${command}`).toBe(accepted);
    }
  });

  it("lists every command in the general help, in the order of the error message", () => {
    const help = helpText();
    const listed = help.split("\n").filter((l) => /^  [a-z]/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    expect(listed).toEqual([...all]);
  });
});
