// Pure tests of the external PostgreSQL (externalPostgres, externalPostgresPassword): its config
// rules through validateConfig, the engine's database settings, the switch refusal, and the
// NetworkPolicies that follow from it and from the metrics ports (metricsIngressFrom).
import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue, type PlainKey, type SecretKey, validateConfig } from "../../config";
import { databaseConfig, inClusterDatabase } from "../../components/builders/engine";
import { engineNetworkPolicies, executorEgressRules } from "../../components/builders/networkPolicy";
import { externalTarget } from "../../components/builders/postgresExternal";
import { externalSwitchProblem, inClusterPostgresRefs } from "../../components/builders/postgresSwitch";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const base: Partial<Record<PlainKey, string>> = { imageTag: "1.2.3", publicUrl: "https://agents.example.com", licensePublicKey: PEM };
const DB = '{"host":"db.example.com","database":"agents","user":"agent_engine"}';
type Secrets = Partial<Record<SecretKey, boolean>>;
const validate = (values: Partial<Record<PlainKey, string>>, secretsSet: Secrets = { externalPostgresPassword: true }) =>
  validateConfig({ values: { ...base, ...values }, secretsSet });
function issues(values: Partial<Record<PlainKey, string>>, secretsSet: Secrets = { externalPostgresPassword: true }): Pick<ConfigIssue, "key" | "rule">[] {
  try {
    validate(values, secretsSet);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map(({ key, rule }) => ({ key, rule }));
  }
  throw new Error("expected a ConfigError");
}

describe("externalPostgres: config", () => {
  it("is off by default: the in-cluster PostgreSQL, and the engine's settings are what they always were (no PGSSLMODE)", () => {
    const c = validate({}, {});
    expect(c.externalPostgres).toBeUndefined();
    expect(c.sandbox.inClusterPostgres).toBeUndefined();
    expect(databaseConfig(inClusterDatabase("ai-2501"))).toEqual({ DB_HOST: "ai-2501-postgres", DB_PORT: "5432", DB_NAME: "engine", DB_USER: "engine" });
  });

  it("takes host, database and user; port 5432 and sslMode require by default; the engine gets them with PGSSLMODE", () => {
    const c = validate({ externalPostgres: DB });
    expect(c.externalPostgres).toEqual({ host: "db.example.com", port: 5432, database: "agents", user: "agent_engine", sslMode: "require", inClusterDataMigrated: false });
    expect(c.sandbox.inClusterPostgres).toBe(false);
    expect(databaseConfig(externalTarget(c.externalPostgres!))).toEqual({ DB_HOST: "db.example.com", DB_PORT: "5432", DB_NAME: "agents", DB_USER: "agent_engine", PGSSLMODE: "require" });
    const d = validate({ externalPostgres: '{"host":"10.1.2.3","port":"6432","database":"e","user":"u","sslMode":"verify-full","inClusterDataMigrated":"true"}' });
    expect(d.externalPostgres).toMatchObject({ host: "10.1.2.3", port: 6432, sslMode: "verify-full", inClusterDataMigrated: true });
    expect(validate({ externalPostgres: '{"host":"fd00::5","database":"e","user":"u","sslMode":"disable"}' }).externalPostgres?.host).toBe("fd00::5");
  });

  it("every sslMode of libpq is accepted, anything else is refused with the list", () => {
    for (const m of ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]) {
      expect(validate({ externalPostgres: `{"host":"db","database":"e","user":"u","sslMode":"${m}"}` }).externalPostgres?.sslMode).toBe(m);
    }
    expect(issues({ externalPostgres: '{"host":"db","database":"e","user":"u","sslMode":"on"}' })).toEqual([
      { key: "externalPostgres", rule: "sslMode: must be one of disable, allow, prefer, require, verify-ca, verify-full" },
    ]);
  });

  it("reports a missing host, database and user, a bad host, a port out of range and an unknown field, each naming the field", () => {
    expect(issues({ externalPostgres: '{"port":5432}' })).toEqual([
      { key: "externalPostgres", rule: "host: is required when externalPostgres is set (an empty object {} keeps the in-cluster PostgreSQL)" },
      { key: "externalPostgres", rule: "database: is required when externalPostgres is set (an empty object {} keeps the in-cluster PostgreSQL)" },
      { key: "externalPostgres", rule: "user: is required when externalPostgres is set (an empty object {} keeps the in-cluster PostgreSQL)" },
    ]);
    expect(issues({ externalPostgres: '{"host":"postgres://db:5432","database":"e","user":"u"}' })).toEqual([
      { key: "externalPostgres", rule: "host: must be a DNS name or an IP address (no scheme, port or brackets)" },
    ]);
    expect(issues({ externalPostgres: '{"host":"db","port":70000,"database":"e","user":"u"}' })).toEqual([{ key: "externalPostgres", rule: "port: must be a port from 1 to 65535" }]);
    expect(issues({ externalPostgres: '{"host":"db","port":0,"database":"e","user":"u"}' })).toEqual([{ key: "externalPostgres", rule: "port: must be a port from 1 to 65535" }]);
    expect(issues({ externalPostgres: '{"host":"db","database":"e","user":"u","password":"x"}' })[0].rule).toMatch(/unknown field\(s\) password; expected \{host, port\?, database, user, sslMode\?, inClusterDataMigrated\?\}/);
  });

  it("requires its password as a secret, and refuses the password alone or the in-cluster one with it", () => {
    expect(issues({ externalPostgres: DB }, {})).toEqual([{ key: "externalPostgresPassword", rule: "is required (as a secret) when externalPostgres is set" }]);
    expect(issues({}, { externalPostgresPassword: true })).toEqual([
      { key: "externalPostgresPassword", rule: expect.stringMatching(/^is only used with externalPostgres/) as unknown as string },
    ]);
    expect(issues({ externalPostgres: DB }, { externalPostgresPassword: true, postgresPassword: true })).toEqual([
      { key: "postgresPassword", rule: expect.stringMatching(/not used with externalPostgres: set externalPostgresPassword instead/) as unknown as string },
    ]);
  });

  it("refuses the in-cluster-only keys set to anything but their default, naming them all and the fix", () => {
    const [problem, ...rest] = issues({
      externalPostgres: DB,
      postgresStorageSize: "1Gi",
      postgresImage: "postgres:17",
      postgresResources: '{"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"2","memory":"2Gi"}}',
      postgresBackupSchedule: "30 2 * * *",
    });
    expect(rest).toEqual([]);
    expect(problem.key).toBe("externalPostgres");
    expect(problem.rule).toBe(
      "is set, so no in-cluster PostgreSQL is deployed, and postgresImage, postgresStorageSize, postgresResources, postgresBackupSchedule would configure it: remove those keys (pulumi config rm <key>), or remove externalPostgres to keep the in-cluster PostgreSQL. Backups of an external database are its provider's business",
    );
    // Pulumi hands the program Pulumi.yaml's defaults as if set: those are not a conflict.
    const defaults = validate({
      externalPostgres: DB,
      postgresStorageSize: "10Gi",
      postgresImage: "postgres:16",
      postgresResources: '{"limits":{"memory":"1Gi","cpu":"1"},"requests":{"cpu":"250m","memory":"256Mi"}}',
      postgresAllowMajorUpgrade: "false",
      postgresBackupRetentionDays: "7",
    });
    expect(defaults.externalPostgres?.host).toBe("db.example.com");
  });
});

describe("externalPostgres: the engine namespace's NetworkPolicies", () => {
  it("has no postgres policy (no postgres pods); the engine's egress stays open, so it reaches the database wherever it is", () => {
    const c = validate({ externalPostgres: DB });
    const policies = engineNetworkPolicies(c.sandbox);
    expect(policies.map((p) => p.metadata.name)).toEqual(["ai-2501-default-deny-ingress", "ai-2501-engine-ingress"]);
    // No policy in the engine namespace selects the engine for egress.
    expect(policies.filter((p) => p.spec.policyTypes.includes("Egress"))).toEqual([]);
    expect(engineNetworkPolicies(validate({}, {}).sandbox).map((p) => p.metadata.name)).toContain("ai-2501-postgres-ingress");
  });

  it("executors still cannot reach a database on a private address: every default egress rule excepts the private ranges or allows only 53, 80 and 443", () => {
    const c = validate({ externalPostgres: '{"host":"10.20.30.40","port":5432,"database":"e","user":"u"}', executorNamespace: "ai-2501" });
    const rules = executorEgressRules(c.sandbox);
    for (const r of rules) {
      const ports = (r.ports ?? []).map((p) => p.port);
      expect(ports.length, JSON.stringify(r)).toBeGreaterThan(0);
      expect(ports).not.toContain(5432);
      for (const peer of r.to) if (peer.ipBlock?.cidr === "0.0.0.0/0") expect(peer.ipBlock.except).toContain("10.0.0.0/8");
    }
  });
});

describe("externalPostgres on an IP address: executors must not reach it", () => {
  const at = (host: string, port = 5432) => `{"host":"${host}","port":${port},"database":"e","user":"u"}`;
  it("the default allow-list keeps private and public database addresses out (ports 80/443 only)", () => {
    expect(validate({ externalPostgres: at("10.20.30.40") }).externalPostgres?.host).toBe("10.20.30.40");
    expect(validate({ externalPostgres: at("203.0.113.5") }).externalPostgres?.host).toBe("203.0.113.5");
    expect(validate({ externalPostgres: at("2001:db8::5") }).externalPostgres?.host).toBe("2001:db8::5");
  });

  it("an allow-list entry that would let executors reach it is an error naming the entry and the fix", () => {
    const wide = '[{"cidr":"0.0.0.0/0","except":["10.0.0.0/8"]},{"cidr":"203.0.113.0/24","ports":[{"port":5000,"endPort":6000,"protocol":"TCP"}]},{"cidr":"198.51.100.0/24"}]';
    expect(issues({ externalPostgres: at("203.0.113.5"), sandboxEgressAllow: wide })).toEqual([
      { key: "sandboxEgressAllow", rule: "[0] (0.0.0.0/0) lets executor pods reach the external database 203.0.113.5:5432: add 203.0.113.5/32 to its except list, or narrow it" },
      { key: "sandboxEgressAllow", rule: "[1] (203.0.113.0/24) lets executor pods reach the external database 203.0.113.5:5432: add 203.0.113.5/32 to its except list, or narrow it" },
    ]);
    // Excepted, on another port, or a DNS name (not checkable): accepted.
    expect(validate({ externalPostgres: at("10.1.2.3"), sandboxEgressAllow: wide }).externalPostgres?.host).toBe("10.1.2.3");
    expect(validate({ externalPostgres: at("203.0.113.5", 7000), sandboxEgressAllow: '[{"cidr":"203.0.113.0/24","ports":[{"port":5000,"endPort":6000}]}]' }).externalPostgres?.port).toBe(7000);
    expect(validate({ externalPostgres: '{"host":"db.example.com","database":"e","user":"u"}', sandboxEgressAllow: wide }).externalPostgres?.host).toBe("db.example.com");
    expect(issues({ externalPostgres: at("203.0.113.5"), sandboxEgressAllow: '[{"cidr":"203.0.113.5/32"}]' })[0].rule).toMatch(/^\[0\] \(203\.0\.113\.5\/32\) lets executor pods reach/);
  });
});

describe("the in-cluster postgres's NetworkPolicy and the backup job", () => {
  it("admits the backup job's pods (and restore Jobs made from its CronJob) only when backups are on", () => {
    const from = (values: Partial<Record<PlainKey, string>>) =>
      engineNetworkPolicies(validate(values, {}).sandbox).find((p) => p.metadata.name === "ai-2501-postgres-ingress")?.spec.ingress?.[0].from.map((f) => f.podSelector?.matchLabels?.["app.kubernetes.io/name"]);
    expect(from({})).toEqual(["agent-engine", "command-center"]);
    expect(from({ postgresBackupSchedule: "30 2 * * *" })).toEqual(["agent-engine", "command-center", "postgres-backup"]);
  });
});

describe("metrics ports: NetworkPolicies when ServiceMonitors are on", () => {
  const metrics = { prometheusOperator: "true", engineMetrics: '{"port":9464,"path":"/metrics"}' };

  it("open each metrics port to the Prometheus namespace (default monitoring) and nothing else", () => {
    const c = validate(metrics, {});
    const byName = Object.fromEntries(engineNetworkPolicies(c.sandbox).map((p) => [p.metadata.name, p.spec]));
    expect(byName["ai-2501-engine-metrics-ingress"]).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "agent-engine", "app.kubernetes.io/component": "engine", "app.kubernetes.io/instance": "ai-2501" } },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: 9464 }] }],
    });
    // The command center's metrics share its app port (3000) by default: that port is what Prometheus gets.
    expect(byName["ai-2501-command-center-metrics-ingress"].ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: 3000 }] },
    ]);
  });

  it("take the configured sources; [] opens nothing; without ServiceMonitors there is no metrics policy and setting the sources is an error", () => {
    const c = validate({ ...metrics, metricsIngressFrom: '[{"namespaceLabels":{"team":"obs"},"podLabels":{"app.kubernetes.io/name":"prometheus"}}]' }, {});
    const engine = engineNetworkPolicies(c.sandbox).find((p) => p.metadata.name === "ai-2501-engine-metrics-ingress");
    expect(engine?.spec.ingress?.[0].from).toEqual([{ namespaceSelector: { matchLabels: { team: "obs" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }]);
    expect(engineNetworkPolicies(validate({ ...metrics, metricsIngressFrom: "[]" }, {}).sandbox).map((p) => p.metadata.name).filter((n) => n.includes("metrics"))).toEqual([]);
    expect(engineNetworkPolicies(validate({}, {}).sandbox).map((p) => p.metadata.name).filter((n) => n.includes("metrics"))).toEqual([]);
    expect(issues({ ...metrics, metricsIngressFrom: '[{"cidr":"10.0.0.1/8"},{"namespaceLabels":{"bad key!":"x"}}]' }, {}).map((i) => i.rule)).toEqual([
      "[0].cidr: must be a CIDR with no host bits set (IPv4 or IPv6)",
      expect.stringMatching(/^\[1\]\.namespaceLabels/) as unknown as string,
    ]);
    expect(issues({ metricsIngressFrom: "[]" }, {})).toEqual([
      { key: "metricsIngressFrom", rule: expect.stringMatching(/^is only used when prometheusOperator is true/) as unknown as string },
    ]);
  });
});

describe("switching a stack from the in-cluster PostgreSQL to an external one", () => {
  const external = { host: "db", port: 5432, database: "e", user: "u", sslMode: "require" as const, inClusterDataMigrated: false };
  const refs = inClusterPostgresRefs("ai", "ns", "urn:pulumi:prod::agent-platform::");

  it("reads the postgres Deployment, the data claim and the backup claim, with the protected claims' URNs", () => {
    expect(refs.map((r) => `${r.ref.kind} ${r.ref.namespace}/${r.ref.name}`)).toEqual(["Deployment ns/ai-postgres", "PersistentVolumeClaim ns/ai-postgres-data", "PersistentVolumeClaim ns/ai-postgres-backup"]);
    expect(refs.map((r) => r.protectedUrn)).toEqual([
      undefined,
      "urn:pulumi:prod::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:Postgres$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data",
      "urn:pulumi:prod::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:PostgresBackup$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-backup-pvc",
    ]);
  });

  it("is refused while this stack's in-cluster objects exist, with the steps; allowed when none exist or the data is said to be migrated", () => {
    const found = [{ ref: "Deployment ns/ai-postgres" }, { ref: "PersistentVolumeClaim ns/ai-postgres-data", protectedUrn: "urn:x" }];
    const p = externalSwitchProblem(external, found);
    expect(p).toContain("Nothing was changed: agent-platform:externalPostgres is set, but this stack still has its in-cluster PostgreSQL (Deployment ns/ai-postgres, PersistentVolumeClaim ns/ai-postgres-data)");
    expect(p).toContain("pulumi state unprotect 'urn:x'");
    expect(p).toContain("3. pulumi config set --path externalPostgres.inClusterDataMigrated true, then up.");
    expect(externalSwitchProblem(external, [{ ref: "Deployment ns/ai-postgres" }])).toContain("2. pulumi config set --path externalPostgres.inClusterDataMigrated true");
    expect(externalSwitchProblem(external, [])).toBeUndefined();
    expect(externalSwitchProblem({ ...external, inClusterDataMigrated: true }, found)).toBeUndefined();
  });
});
