// An external PostgreSQL instead of the in-cluster one (`externalPostgres` + the secret
// `externalPostgresPassword`): the settings, the rules between them and the in-cluster-only keys,
// what the engine is given, and the refusal of a switch that would leave this stack's in-cluster
// data behind unannounced. Pure: plain values in, settings or problems out.
import { isIP } from "node:net";
import { cidrStrictlyWithin, type EgressAllowEntry, parseCidr } from "./sandboxSettings";

/** libpq's sslmode values (the engine gets one as PGSSLMODE). */
export const POSTGRES_SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];
/** An external database is reached over a network the platform does not own: TLS unless said otherwise. */
export const DEFAULT_EXTERNAL_SSL_MODE: PostgresSslMode = "require";
export const DEFAULT_EXTERNAL_PORT = 5432;

/** The external database the engine uses; undefined in the config = the in-cluster PostgreSQL. */
export interface ExternalPostgres {
  host: string;
  port: number;
  database: string;
  user: string;
  sslMode: PostgresSslMode;
  /** The operator's word that this stack's in-cluster data was copied over (see externalSwitchProblem). */
  inClusterDataMigrated: boolean;
}

/** The object as the config schema parsed it (every field optional: the rules below report what is missing). */
export interface ExternalPostgresInput {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  sslMode?: PostgresSslMode;
  inClusterDataMigrated?: boolean;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
/** A DNS name or an IP address, without scheme, port or brackets. */
export const isDatabaseHost = (h: string) => isIP(h) !== 0 || DNS_NAME.test(h);

/** Keys that configure only the in-cluster PostgreSQL (and its backups). */
export const IN_CLUSTER_ONLY_KEYS = [
  "postgresImage",
  "postgresStorageSize",
  "postgresStorageClass",
  "postgresResources",
  "postgresAllowMajorUpgrade",
  "postgresBackupSchedule",
  "postgresBackupRetentionDays",
  "postgresBackupStorageSize",
] as const;

export type AddIssue = (key: string, rule: string) => void;

/**
 * Decides the external database, or undefined for the in-cluster one. `explicit` says which
 * in-cluster-only keys the stack sets to something other than their default; `secrets` which
 * of the two password keys are set.
 */
export function externalPostgresRules(
  input: ExternalPostgresInput,
  explicit: readonly (typeof IN_CLUSTER_ONLY_KEYS)[number][],
  secrets: { externalPostgresPassword: boolean; postgresPassword: boolean },
  add: AddIssue,
): ExternalPostgres | undefined {
  if (Object.keys(input).length === 0) {
    if (secrets.externalPostgresPassword) add("externalPostgresPassword", "is only used with externalPostgres: set externalPostgres.host (and database, user), or remove the password");
    return undefined;
  }
  const missing = (["host", "database", "user"] as const).filter((f) => input[f] === undefined || input[f] === "");
  for (const f of missing) add("externalPostgres", `${f}: is required when externalPostgres is set (an empty object {} keeps the in-cluster PostgreSQL)`);
  if (!secrets.externalPostgresPassword) add("externalPostgresPassword", "is required (as a secret) when externalPostgres is set");
  if (secrets.postgresPassword) add("postgresPassword", "is the in-cluster PostgreSQL's password and is not used with externalPostgres: set externalPostgresPassword instead and remove postgresPassword");
  if (explicit.length > 0) {
    add(
      "externalPostgres",
      `is set, so no in-cluster PostgreSQL is deployed, and ${explicit.join(", ")} would configure it: remove ${explicit.length === 1 ? "that key" : "those keys"} ` +
        "(pulumi config rm <key>), or remove externalPostgres to keep the in-cluster PostgreSQL. Backups of an external database are its provider's business",
    );
  }
  if (missing.length > 0 || input.host === undefined || input.database === undefined || input.user === undefined) return undefined;
  return {
    host: input.host,
    port: input.port ?? DEFAULT_EXTERNAL_PORT,
    database: input.database,
    user: input.user,
    sslMode: input.sslMode ?? DEFAULT_EXTERNAL_SSL_MODE,
    inClusterDataMigrated: input.inClusterDataMigrated ?? false,
  };
}

/** What the engine's DB_* (and PGSSLMODE) say: the in-cluster Service, or the external database. */
export interface DatabaseTarget {
  host: string;
  port: number;
  name: string;
  user: string;
  /** Only for an external database: libpq's sslmode, given to the engine as PGSSLMODE. */
  sslMode?: PostgresSslMode;
}

export const externalTarget = (e: ExternalPostgres): DatabaseTarget => ({ host: e.host, port: e.port, name: e.database, user: e.user, sslMode: e.sslMode });

/**
 * When the database's host is an IP address: the executor egress allow-list entries that would
 * let executor pods reach it on its port (the address in the entry's range and in none of its
 * exceptions, the port allowed). A DNS name cannot be checked: NetworkPolicies know addresses only.
 */
export function executorReachProblems(e: ExternalPostgres, allow: EgressAllowEntry[]): { key: string; rule: string }[] {
  const family = isIP(e.host);
  const host = family === 0 ? undefined : parseCidr(`${e.host}/${family === 4 ? 32 : 128}`);
  if (host === undefined) return [];
  const covers = (cidr: string) => {
    const range = parseCidr(cidr);
    return range !== undefined && (cidrStrictlyWithin(host, range) || (range.family === host.family && range.bits === host.bits && range.base === host.base));
  };
  return allow.flatMap((entry, i) => {
    if (!covers(entry.cidr) || entry.except.some(covers)) return [];
    const portOpen = entry.ports.length === 0 || entry.ports.some((p) => p.protocol === "TCP" && e.port >= p.port && e.port <= (p.endPort ?? p.port));
    if (!portOpen) return [];
    return [
      {
        key: "sandboxEgressAllow",
        rule: `[${i}] (${entry.cidr}) lets executor pods reach the external database ${e.host}:${e.port}: add ${e.host}/${family === 4 ? 32 : 128} to its except list, or narrow it`,
      },
    ];
  });
}
