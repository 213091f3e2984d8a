// The in-cluster ECR pull-secret refresher: its config rules (through validateConfig, as an
// operator meets them), its objects (job spec hardening, RBAC by resourceNames, IRSA vs Secret
// credentials), the document shape shared with the Go program, and drift's view of its changes.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { buildDriftReport, PULL_SECRET_CHURN_REASON, REFRESHER_CHURN_REASON } from "../../automation/changes";
import { type PlainKey, validateConfig } from "../../config";
import {
  IRSA_ANNOTATION,
  type PullSecretRefresh,
  REFRESHER_COMMAND,
  refresherCronJobArgs,
  refresherRoleArgs,
  refresherRoleBindingArgs,
  refresherServiceAccountArgs,
  refresherTargets,
} from "../../components/builders/pullSecretRefresh";
import { dockerConfigJson } from "../../components/builders/registry";
import { outputs, pre, URN } from "./automation/fixtures/events";
import { restrictedViolations } from "./podSecurity";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const ECR = { registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012" };
const ROLE = "arn:aws:iam::123456789012:role/ecr-pull-refresh";
const validate = (values: Partial<Record<PlainKey, string>>) =>
  validateConfig({ values: { imageTag: "1.2.3", publicUrl: "https://agents.example.com", licensePublicKey: PEM, ...values }, secretsSet: {} });
const problems = (values: Partial<Record<PlainKey, string>>): string => {
  try {
    validate(values);
  } catch (e) {
    return (e as Error).message;
  }
  return "";
};
type Obj = Record<string, unknown>;

describe("pullSecretRefresh config", () => {
  it("ecr mode with an IAM role: the default schedule (every 6 hours) and image (beside the engine's)", () => {
    const c = validate({ ...ECR, pullSecretRefresh: JSON.stringify({ serviceAccountRoleArn: ROLE }) });
    expect(c.pullSecretRefresh).toEqual({
      schedule: "0 */6 * * *",
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ecr-refresh:1.2.3",
      credentials: { kind: "irsa", roleArn: ROLE },
      region: "eu-west-1",
      registryId: "123456789012",
      registryHost: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    });
  });

  it("ecr mode with a credentials Secret, its own schedule and image", () => {
    const c = validate({ ...ECR, pullSecretRefresh: JSON.stringify({ awsCredentialsSecret: "ecr-aws", schedule: "@hourly", image: "public.ecr.aws/acme/ecr-refresh:1" }) });
    expect(c.pullSecretRefresh).toMatchObject({ schedule: "@hourly", image: "public.ecr.aws/acme/ecr-refresh:1", credentials: { kind: "secret", secretName: "ecr-aws" } });
  });

  it("enabled false: no refresher (CI refreshes)", () => {
    expect(validate({ ...ECR, pullSecretRefresh: '{"enabled":false}' }).pullSecretRefresh).toBeUndefined();
    expect(validate({ ...ECR, pullSecretRefresh: '{"enabled":"false"}' }).pullSecretRefresh).toBeUndefined();
  });

  it("no refresher outside ecr mode", () => {
    expect(validate({}).pullSecretRefresh).toBeUndefined();
  });

  it.each([
    ["neither credential", {}, /pullSecretRefresh = "\{\}": needs AWS credentials[\s\S]*serviceAccountRoleArn[\s\S]*awsCredentialsSecret[\s\S]*enabled false/],
    ["both credentials", { serviceAccountRoleArn: ROLE, awsCredentialsSecret: "x" }, /pullSecretRefresh = .*sets both awsCredentialsSecret and serviceAccountRoleArn: set exactly one/],
    ["a bad schedule", { serviceAccountRoleArn: ROLE, schedule: "every 6 hours" }, /pullSecretRefresh = .*schedule: must be a five-field cron schedule/],
    ["a bad role ARN", { serviceAccountRoleArn: "ecr-role" }, /serviceAccountRoleArn: must be an IAM role ARN/],
    ["a bad Secret name", { awsCredentialsSecret: "AWS_KEYS" }, /awsCredentialsSecret: must be a Secret name/],
    ["an unknown field", { role: ROLE }, /unknown field\(s\) role/],
  ])("ecr mode with %s is refused, naming the key and the fix", (_, value, message) => {
    expect(problems({ ...ECR, pullSecretRefresh: JSON.stringify(value) })).toMatch(message);
  });

  it("is refused outside ecr mode", () => {
    expect(problems({ registryMode: "none", pullSecretRefresh: JSON.stringify({ serviceAccountRoleArn: ROLE }) })).toMatch(/pullSecretRefresh = .*applies only when registryMode is ecr/);
  });
});

const settings = (credentials: PullSecretRefresh["credentials"]): PullSecretRefresh => ({
  schedule: "0 */6 * * *",
  image: "r.example.com/ecr-refresh:1",
  credentials,
  region: "eu-west-1",
  registryId: "123456789012",
  registryHost: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
});
const cron = (s: PullSecretRefresh) =>
  refresherCronJobArgs({ instance: "ai", namespace: "ai", settings: s, serviceAccountName: "ai-ecr-refresh", pullSecretName: "ai-registry", targets: refresherTargets(["ai", "ai-sandbox"], "ai-registry") });
const jobOf = (c: ReturnType<typeof cron>) => (c.spec as unknown as Obj).jobTemplate as { spec: Obj & { template: { spec: Obj } } };
const containerOf = (c: ReturnType<typeof cron>) => (jobOf(c).spec.template.spec.containers as Obj[])[0];
const envOf = (c: ReturnType<typeof cron>) => Object.fromEntries((containerOf(c).env as Obj[]).map((e) => [e.name as string, e.value ?? e.valueFrom]));

describe("the refresher's objects", () => {
  it("the CronJob: no overlap, bounded history and run time, restricted and read-only, its own token", () => {
    const c = cron(settings({ kind: "secret", secretName: "ecr-aws" }));
    expect(c.spec).toMatchObject({ schedule: "0 */6 * * *", concurrencyPolicy: "Forbid", successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3 });
    expect(jobOf(c).spec).toMatchObject({ activeDeadlineSeconds: 600, backoffLimit: 3 });
    const pod = jobOf(c).spec.template.spec;
    expect(pod).toMatchObject({ serviceAccountName: "ai-ecr-refresh", restartPolicy: "Never", automountServiceAccountToken: true, enableServiceLinks: false });
    expect(restrictedViolations(pod)).toEqual([]);
    expect((containerOf(c).securityContext as Obj).readOnlyRootFilesystem).toBe(true);
    expect(containerOf(c).command).toEqual(REFRESHER_COMMAND);
    expect(pod.imagePullSecrets).toEqual([{ name: "ai-registry" }]);
  });

  it("the program's settings: both copies, the registry host the pull secret is keyed by, region and account, never the node's role", () => {
    const e = envOf(cron(settings({ kind: "irsa", roleArn: ROLE })));
    expect(e).toEqual({
      TARGETS: "ai/ai-registry,ai-sandbox/ai-registry",
      REGISTRY_HOST: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      AWS_REGION: "eu-west-1",
      REGISTRY_ID: "123456789012",
      AWS_EC2_METADATA_DISABLED: "true",
    });
  });

  it("Secret credentials: the AWS keys by secretKeyRef (a session token optional), nothing on the ServiceAccount", () => {
    const s = settings({ kind: "secret", secretName: "ecr-aws" });
    const e = envOf(cron(s));
    expect(e.AWS_ACCESS_KEY_ID).toEqual({ secretKeyRef: { name: "ecr-aws", key: "AWS_ACCESS_KEY_ID" } });
    expect(e.AWS_SECRET_ACCESS_KEY).toEqual({ secretKeyRef: { name: "ecr-aws", key: "AWS_SECRET_ACCESS_KEY" } });
    expect(e.AWS_SESSION_TOKEN).toEqual({ secretKeyRef: { name: "ecr-aws", key: "AWS_SESSION_TOKEN", optional: true } });
    const sa = refresherServiceAccountArgs("ai", "ai", s, "ai-registry");
    expect((sa.metadata as Obj).annotations).toBeUndefined();
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it("IRSA: the role on the ServiceAccount, no AWS keys in the pod", () => {
    const s = settings({ kind: "irsa", roleArn: ROLE });
    expect((refresherServiceAccountArgs("ai", "ai", s, "ai-registry").metadata as Obj).annotations).toEqual({ [IRSA_ANNOTATION]: ROLE });
    expect(Object.keys(envOf(cron(s))).filter((k) => k.startsWith("AWS_") && k !== "AWS_REGION" && k !== "AWS_EC2_METADATA_DISABLED")).toEqual([]);
  });

  it("RBAC: get and patch of the named pull secret only, bound to the refresher's ServiceAccount", () => {
    expect(refresherRoleArgs("ai", "ai-sandbox", "ai-registry")).toEqual({
      metadata: { name: "ai-ecr-refresh", namespace: "ai-sandbox", labels: expect.any(Object) },
      rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["ai-registry"], verbs: ["get", "patch"] }],
    });
    expect(refresherRoleBindingArgs("ai", "ai-sandbox", "ai-ecr-refresh", "ai")).toMatchObject({
      roleRef: { kind: "Role", name: "ai-ecr-refresh" },
      subjects: [{ kind: "ServiceAccount", name: "ai-ecr-refresh", namespace: "ai" }],
    });
  });
});

describe("one document shape for the TypeScript builder and the Go refresher", () => {
  it("dockerConfigJson equals images/tools/ecr-refresh/testdata/dockerconfigjson.golden (the Go test compares with the same file)", () => {
    const golden = fs.readFileSync(path.resolve(__dirname, "../../images/tools/ecr-refresh/testdata/dockerconfigjson.golden"), "utf8");
    // The input the Go test uses (main_test.go: goldenServer, goldenUser, goldenPassword).
    expect(dockerConfigJson("123456789012.dkr.ecr.eu-west-1.amazonaws.com", { username: "AWS", password: "p&<>ss:wörd/+=" })).toBe(golden);
  });
});

describe("drift with the refresher deployed", () => {
  const cronJobUrn = URN.pullSecret.replace(
    "agent-platform:index:RegistryPullSecret$kubernetes:core/v1:Secret::ai-2501-pull-secret",
    "agent-platform:index:PullSecretRefresher$kubernetes:batch/v1:CronJob::ai-2501-ecr-refresh",
  );
  const refreshed = (diff: Record<string, string>) => [pre(cronJobUrn, "refresh"), outputs(cronJobUrn, "same"), pre(URN.pullSecret, "refresh"), outputs(URN.pullSecret, "update", diff)];

  it("the pull secret's data renewed by the CronJob is expected, not drift", () => {
    const r = buildDriftReport(refreshed({ data: "update" }), [pre(URN.pullSecret, "update", { data: "update" })]);
    expect(r.drift).toBe(false);
    expect(r.changedOutside).toEqual([]);
    expect(r.excluded.map((c) => c.reason)).toEqual([REFRESHER_CHURN_REASON, PULL_SECRET_CHURN_REASON]);
  });

  it("any other change of the pull secret still is", () => {
    const r = buildDriftReport(refreshed({ data: "update", "metadata.labels": "update" }), []);
    expect(r.drift).toBe(true);
    expect(r.changedOutside.map((c) => c.urn)).toEqual([URN.pullSecret]);
  });

  it("without the refresher in the state, a data change found by the refresh is drift (static mode: edited by hand)", () => {
    const r = buildDriftReport(refreshed({ data: "update" }).slice(2), []);
    expect(r.drift).toBe(true);
  });
});
