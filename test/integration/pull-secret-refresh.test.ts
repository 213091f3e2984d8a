// The in-cluster ECR pull-secret refresher (components/pullSecretRefresher.ts,
// images/tools/ecr-refresh) on the real local cluster.
//
// The stack: test/integration/fixtures/pull-secret-refresh, the program's own pull secret and
// refresher components, wired as the program wires them. Not the whole program in ecr mode: its
// pull secret's first token comes from the aws provider (getAuthorizationToken), and there is no
// AWS here nor the aws provider plugin; the fixture creates the copies as static mode does (same
// component, names, type and document shape) and everything after is ecr mode's real code.
//
// KWOK (the API server decides): the refresher's identity, from a TokenRequest token, may get and
// patch the two pull-secret copies and nothing else (no other Secret, no list/watch/create/update/
// delete, no other namespace); its CronJob's pod is admitted under Pod Security restricted; its
// program (built from images/tools/ecr-refresh), run on the host as that identity against a fake
// ECR (images/tools/fake-ecr), renews both copies; the stack's drift check then sees expected
// churn, not drift; and the next `up` rewrites the copies without a field-manager conflict.
// Real node (when present): the CronJob's job runs for real in a container, gets its token from
// the fake ECR (a pod there) that hands out the real loopback registry's password, renews both
// copies, and a pod then pulls from the authenticated registry through the renewed secret (with
// the stale one the same pull is refused).
//
// Not proven here: real AWS (GetAuthorizationToken, IAM, the ECR registry itself) and IRSA (the
// EKS webhook that turns the ServiceAccount's role annotation into credentials).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { type EngineEvent, LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDriftReport, REFRESHER_CHURN_REASON } from "../../automation/changes";
import { kubeconfig, kubectl, kubectlJson, kubectlOk, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";
import { onRealNode, realNode, realNodeMissing, restrictedContainer, restrictedPod, waitRunning } from "./realnode-harness";

const missing = realNodeMissing();
const backend = tempBackend();
const ns = uniqueName("psr");
const exNs = `${ns}-ex`;
const otherNs = `${ns}-other`;
const I = "psr";
const SECRET = `${I}-registry`;
const SA = `${I}-ecr-refresh`;
const REGISTRY_ID = "123456789012";
const ACCESS_KEY_ID = "AKIAFAKEREFRESHER01";
// The registry the secret is keyed by: the real node's, else a name only the API server sees.
const registry = missing ? { server: "127.0.0.1:5000", username: "agent-platform", password: "" } : realNode().registry;
const toolsImage = missing ? "agent-platform.local/tools:none" : realNode().images.tools;
const workDir = path.join(__dirname, "fixtures/pull-secret-refresh");
let stack: Stack;
let bin = "";

type Obj = Record<string, unknown>;
const decode = async (namespace: string): Promise<{ auths: Record<string, { username: string; password: string; auth: string }> }> => {
  const s = await kubectlJson<{ data: Record<string, string> }>(["get", "secret", SECRET, "-n", namespace]);
  return JSON.parse(Buffer.from(s.data[".dockerconfigjson"], "base64").toString("utf8"));
};
const passwordIn = async (namespace: string) => (await decode(namespace)).auths[registry.server]?.password;

function execOut(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

beforeAll(async () => {
  for (const n of [ns, exNs, otherNs]) await kubectlOk(["create", "namespace", n]);
  // The engine namespace enforces restricted, as the program's own namespaces do.
  await kubectlOk(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
  // Secrets the refresher must not reach: another Secret beside each copy, a same-named one elsewhere.
  for (const n of [ns, exNs]) await kubectlOk(["create", "secret", "generic", "bystander", "-n", n, "--from-literal=k=v"]);
  await kubectlOk(["create", "secret", "generic", SECRET, "-n", otherNs, "--from-literal=k=v"]);
  // The refresher's AWS credentials (the fake ECR checks the access key id; nothing checks the key).
  await kubectlOk(["create", "secret", "generic", `${I}-aws`, "-n", ns, `--from-literal=AWS_ACCESS_KEY_ID=${ACCESS_KEY_ID}`, "--from-literal=AWS_SECRET_ACCESS_KEY=fake-secret-key"]);

  // The refresher and the fake ECR, built from this checkout (images/build.sh builds the same).
  bin = mkdtempSync(path.join(os.tmpdir(), "ap-ecr-bin-"));
  const built = await execOut("go", ["build", "-o", bin, "./ecr-refresh", "./fake-ecr"], {
    cwd: path.join(repoRoot, "images/tools"),
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
  });
  if (built.code !== 0) throw new Error(`go build failed: ${built.out}`);

  stack = await LocalWorkspace.createStack({ stackName: uniqueName("psr"), workDir }, { envVars: backend.env, pulumiHome: backend.env.PULUMI_HOME });
  await stack.setAllConfig({
    instanceName: { value: I },
    namespace: { value: ns },
    executorNamespace: { value: exNs },
    registryHost: { value: registry.server },
    registryId: { value: REGISTRY_ID },
    region: { value: "eu-west-1" },
    password: { value: "stale-password", secret: true },
    pullSecretRefresh: { value: JSON.stringify({ awsCredentialsSecret: `${I}-aws`, schedule: "0 */6 * * *", image: toolsImage }) },
  });
  const up = await stack.up();
  expect(up.summary.result).toBe("succeeded");
}, 600_000);

afterAll(async () => {
  try {
    if (stack) {
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    }
  } finally {
    await kubectl(["delete", "namespace", ns, exNs, otherNs, "--wait=false", "--ignore-not-found"]);
    if (bin) rmSync(bin, { recursive: true, force: true });
    backend.remove();
  }
});

describe("the ECR pull-secret refresher", () => {
  let token = "";
  const can = async (args: string[]) => (await kubectl(["auth", "can-i", ...args], { token })).stdout.trim();

  it("its identity (a TokenRequest token) may get and patch the two pull-secret copies, and nothing else", async () => {
    token = (await kubectlOk(["create", "token", SA, "-n", ns, "--duration=30m"])).trim();
    for (const n of [ns, exNs]) {
      expect(await can(["get", `secrets/${SECRET}`, "-n", n]), n).toBe("yes");
      expect(await can(["patch", `secrets/${SECRET}`, "-n", n]), n).toBe("yes");
    }
    for (const args of [
      ...[ns, exNs].flatMap((n) => [
        ["get", "secrets/bystander", "-n", n],
        ["patch", "secrets/bystander", "-n", n],
        ["list", "secrets", "-n", n],
        ["watch", "secrets", "-n", n],
        ["create", "secrets", "-n", n],
        ["update", `secrets/${SECRET}`, "-n", n],
        ["delete", `secrets/${SECRET}`, "-n", n],
        ["deletecollection", "secrets", "-n", n],
        ["get", "configmaps", "-n", n],
        ["patch", "serviceaccounts/default", "-n", n],
      ]),
      ["get", `secrets/${SECRET}`, "-n", otherNs],
      ["patch", `secrets/${SECRET}`, "-n", otherNs],
      ["get", `secrets/${SECRET}`, "-n", "kube-system"],
      ["list", "secrets", "--all-namespaces"],
    ]) {
      expect(await can(args), args.join(" ")).toBe("no");
    }
    // Real requests with the same token, not only the API server's answer to "may I".
    expect((await kubectl(["get", "secret", SECRET, "-n", exNs, "-o", "name"], { token })).code).toBe(0);
    const patch = await kubectl(["patch", "secret", SECRET, "-n", exNs, "--type=merge", "-p", '{"metadata":{"annotations":{"it/probe":"1"}}}', "--dry-run=server"], { token });
    expect(patch.code, patch.stderr).toBe(0);
    for (const args of [
      ["get", "secret", "bystander", "-n", ns],
      ["get", "secrets", "-n", ns],
      ["get", "secret", SECRET, "-n", otherNs],
      ["delete", "secret", SECRET, "-n", ns, "--dry-run=server"],
    ]) {
      const r = await kubectl(args, { token });
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr, args.join(" ")).toMatch(/forbidden/i);
    }
  });

  it("its CronJob is the hardened one, and its pod is admitted where Pod Security restricted is enforced", async () => {
    const cron = await kubectlJson<{ spec: Obj & { jobTemplate: { spec: Obj & { template: { spec: Obj & { containers: Obj[] } } } } } }>(["get", "cronjob", SA, "-n", ns]);
    expect(cron.spec).toMatchObject({ schedule: "0 */6 * * *", concurrencyPolicy: "Forbid", successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3 });
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBe(600);
    expect(cron.spec.jobTemplate.spec.template.spec).toMatchObject({ serviceAccountName: SA, automountServiceAccountToken: true });
    const job = `${I}-admission-check`;
    await kubectlOk(["create", "job", job, `--from=cronjob/${SA}`, "-n", ns]);
    const pods = await waitFor("the job's pod", async () => {
      const l = await kubectlJson<{ items: { spec: { serviceAccountName: string } }[] }>(["get", "pods", "-n", ns, "-l", `job-name=${job}`]);
      return l.items.length > 0 ? l.items : undefined;
    });
    expect(pods[0].spec.serviceAccountName).toBe(SA);
    expect(await kubectlOk(["get", "events", "-n", ns, "--field-selector", `involvedObject.name=${job}`])).not.toMatch(/violates PodSecurity/);
    await kubectl(["delete", "job", job, "-n", ns, "--wait=false"]);
  });

  it("its program, run with that identity and the CronJob's settings against a fake ECR, renews both copies and prints no token", async () => {
    const cron = await kubectlJson<{ spec: { jobTemplate: { spec: { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } } } } }>(["get", "cronjob", SA, "-n", ns]);
    const settings = Object.fromEntries(cron.spec.jobTemplate.spec.template.spec.containers[0].env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
    expect(settings.TARGETS).toBe(`${ns}/${SECRET},${exNs}/${SECRET}`);
    expect(settings.REGISTRY_HOST).toBe(registry.server);

    const password = "renewed-on-the-host-0001";
    const port = await freePort();
    const fake: ChildProcess = spawn(path.join(bin, "fake-ecr"), [String(port)], {
      env: { FAKE_ECR_PASSWORD: password, EXPECT_ACCESS_KEY_ID: ACCESS_KEY_ID, EXPECT_REGISTRY_ID: REGISTRY_ID },
      stdio: "ignore",
    });
    const server = new URL(readFileSync(kubeconfig(), "utf8").match(/server: (\S+)/)?.[1] ?? "");
    const ca = Buffer.from(readFileSync(kubeconfig(), "utf8").match(/certificate-authority-data: (\S+)/)?.[1] ?? "", "base64");
    const saDir = mkdtempSync(path.join(os.tmpdir(), "ap-sa-"));
    writeFileSync(path.join(saDir, "token"), token);
    writeFileSync(path.join(saDir, "ca.crt"), ca);
    const run = (extra: Record<string, string>) =>
      execOut(path.join(bin, "ecr-refresh"), [], {
        env: {
          ...settings,
          AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: "fake-secret-key",
          AWS_ENDPOINT_URL_ECR: `http://127.0.0.1:${port}`,
          AWS_CONFIG_FILE: "/nonexistent",
          AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
          SA_DIR: saDir,
          KUBERNETES_SERVICE_HOST: server.hostname,
          KUBERNETES_SERVICE_PORT: server.port,
          ...extra,
        },
      });
    try {
      await waitFor("the fake ECR to listen", () => new Promise<true | undefined>((r) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); r(true); }).on("error", () => r(undefined))));
      expect(await passwordIn(ns)).toBe("stale-password");
      const ok = await run({});
      expect(ok.code, ok.out).toBe(0);
      expect(ok.out).toContain(`updated ${ns}/${SECRET}`);
      expect(ok.out).toContain(`updated ${exNs}/${SECRET}`);
      expect(ok.out).not.toContain(password);
      expect(ok.out).not.toContain(Buffer.from(`AWS:${password}`).toString("base64"));
      for (const n of [ns, exNs]) {
        const doc = await decode(n);
        expect(Object.keys(doc.auths), n).toEqual([registry.server]);
        expect(doc.auths[registry.server], n).toEqual({ username: "AWS", password, auth: Buffer.from(`AWS:${password}`).toString("base64") });
      }
      // Pointed at a Secret its Role does not name: refused by the API server, a non-zero exit.
      const denied = await run({ TARGETS: `${ns}/bystander,${otherNs}/${SECRET}` });
      expect(denied.code).toBe(1);
      expect(denied.out).toMatch(/HTTP 403/);
      expect(denied.out).toContain("2 of 2 pull secret(s) not updated");
      // Credentials ECR refuses: a non-zero exit, nothing patched.
      const wrongKey = await run({ AWS_ACCESS_KEY_ID: "AKIAWRONGWRONGWRONG" });
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.out).toMatch(/GetAuthorizationToken/);
      expect(await passwordIn(exNs)).toBe(password);
    } finally {
      fake.kill();
      rmSync(saDir, { recursive: true, force: true });
    }
  });

  it("drift sees the renewed data as expected churn, and the next up rewrites it without a conflict", async () => {
    const refreshEvents: EngineEvent[] = [];
    await stack.previewRefresh({ onEvent: (e) => refreshEvents.push(e) });
    const previewEvents: EngineEvent[] = [];
    await stack.preview({ refresh: true, onEvent: (e) => previewEvents.push(e) });
    const report = buildDriftReport(refreshEvents, previewEvents);
    expect(report.changedOutside, JSON.stringify(report)).toEqual([]);
    expect(report.pendingChanges, JSON.stringify(report)).toEqual([]);
    expect(report.drift).toBe(false);
    expect(report.excluded.filter((c) => c.reason === REFRESHER_CHURN_REASON).map((c) => c.name).sort()).toEqual(["platform-registry-executors", "platform-registry-workloads"]);

    // What `up` does in ecr mode on every run: a new token into both copies, over the refresher's.
    await stack.setConfig("password", { value: "rewritten-by-up", secret: true });
    const up = await stack.up({ refresh: true });
    expect(up.summary.result).toBe("succeeded");
    for (const n of [ns, exNs]) expect(await passwordIn(n), n).toBe("rewritten-by-up");
    // The Secret's other fields are the program's, whoever wrote the data last.
    const live = await kubectlJson<{ type: string; metadata: { labels: Record<string, string> } }>(["get", "secret", SECRET, "-n", ns]);
    expect(live.type).toBe("kubernetes.io/dockerconfigjson");
    expect(live.metadata.labels["app.kubernetes.io/component"]).toBe("registry");
  });

  describe.skipIf(missing !== "")(`on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
    const fakeName = `${I}-fake-ecr`;
    const pullPod = (name: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: {
          ...onRealNode(),
          ...restrictedPod,
          automountServiceAccountToken: false,
          restartPolicy: "Never",
          imagePullSecrets: [{ name: SECRET }],
          // From the authenticated registry, pulled now (Always): only the pull secret gets it in.
          containers: [{ name: "x", image: realNode().images.executor, imagePullPolicy: "Always", command: ["/bin/netcheck", "serve", "8080"], ...restrictedContainer }],
        },
      });
    const pullState = async (name: string) => {
      const p = await kubectlJson<{ status: { containerStatuses?: { state: { waiting?: { reason?: string; message?: string }; running?: unknown } }[] } }>(["get", "pod", name, "-n", exNs]);
      return p.status.containerStatuses?.[0]?.state;
    };

    beforeAll(async () => {
      // The fake ECR, on the real node, hands out the loopback registry's real password.
      await kubectlOk(["create", "secret", "generic", fakeName, "-n", ns, `--from-literal=password=${registry.password}`]);
      await kubectlOk(["apply", "-n", ns, "-f", "-"], JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: fakeName, labels: { app: fakeName } },
        spec: {
          ...onRealNode(),
          ...restrictedPod,
          automountServiceAccountToken: false,
          containers: [{
            name: "fake-ecr",
            image: toolsImage,
            command: ["/bin/fake-ecr", "8080"],
            env: [
              { name: "FAKE_ECR_PASSWORD", valueFrom: { secretKeyRef: { name: fakeName, key: "password" } } },
              // ECR's user is always AWS; the loopback registry's htpasswd user is its own.
              { name: "FAKE_ECR_USER", value: registry.username },
              { name: "EXPECT_ACCESS_KEY_ID", value: ACCESS_KEY_ID },
              { name: "EXPECT_REGISTRY_ID", value: REGISTRY_ID },
            ],
            ports: [{ containerPort: 8080 }],
            resources: { limits: { cpu: "100m", memory: "32Mi" } },
            ...restrictedContainer,
          }],
        },
      }));
      await kubectlOk(["apply", "-n", ns, "-f", "-"], JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: fakeName },
        spec: { selector: { app: fakeName }, ports: [{ port: 80, targetPort: 8080 }] },
      }));
      await waitRunning(ns, fakeName);
    }, 300_000);

    it("with the stale token the registry refuses the pull", async () => {
      expect(await passwordIn(exNs)).toBe("rewritten-by-up");
      await kubectlOk(["apply", "-n", exNs, "-f", "-"], pullPod("pull-stale"));
      const state = await waitFor("the pull with the stale secret to fail", async () => {
        const s = await pullState("pull-stale");
        return s?.waiting?.reason && /ErrImagePull|ImagePullBackOff/.test(s.waiting.reason) ? s : undefined;
      }, 120_000);
      expect(state.waiting?.message ?? "").toMatch(/401|unauthorized|authorization failed/i);
      await kubectl(["delete", "pod", "pull-stale", "-n", exNs, "--wait=false"]);
    });

    it("the CronJob's job runs in a container, renews both copies from the fake ECR, and a pod then pulls through the renewed secret", async () => {
      // The job as the CronJob would create it, plus what the test needs: the real node (the
      // program has no placement setting) and the fake ECR's address (the SDK's endpoint override).
      const cron = await kubectlJson<{ spec: { jobTemplate: { spec: { template: { spec: Obj & { containers: (Obj & { env: Obj[] })[] } } } } } }>(["get", "cronjob", SA, "-n", ns]);
      const jobSpec = cron.spec.jobTemplate.spec;
      const pod = jobSpec.template.spec;
      Object.assign(pod, onRealNode());
      const svc = await kubectlJson<{ spec: { clusterIP: string } }>(["get", "service", fakeName, "-n", ns]);
      pod.containers[0].env.push({ name: "AWS_ENDPOINT_URL_ECR", value: `http://${svc.spec.clusterIP}:80` });
      const job = `${I}-now`;
      await kubectlOk(["apply", "-n", ns, "-f", "-"], JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { name: job }, spec: jobSpec }));
      const done = await kubectl(["wait", "--for=condition=complete", `job/${job}`, "-n", ns, "--timeout=180s"]);
      const logs = (await kubectl(["logs", `job/${job}`, "-n", ns])).stdout;
      expect(done.code, `${done.stderr}\n${logs}`).toBe(0);
      expect(logs).toContain("2 pull secret(s) updated");
      expect(logs).not.toContain(registry.password);
      for (const n of [ns, exNs]) {
        const doc = await decode(n);
        const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
        expect(doc.auths[registry.server], n).toEqual({ username: registry.username, password: registry.password, auth });
      }
      await kubectlOk(["apply", "-n", exNs, "-f", "-"], pullPod("pull-renewed"));
      await waitRunning(exNs, "pull-renewed", 180_000);
    });
  });
});
