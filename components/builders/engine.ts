import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { POSTGRES_DB, POSTGRES_PORT, POSTGRES_USER, postgresServiceName } from "./postgres";
import type { DatabaseTarget } from "./postgresExternal";
import { externalServiceConfig, externalServiceSecretEnv, workloadBasics, workloadLabels, workloadName, workloadSelector, type ExternalServiceSecrets, type ExternalServices, type WorkloadBasics, type WorkloadSpec } from "./workload";

export const ENGINE_PORT = 8080;
export const ENGINE_UID = 1000;
export const SERVICE_ACCOUNT_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
export const LICENSE_DIR = "/etc/2501/license";
export const LICENSE_FILE = "license.public.pem";

const IDENTITY = { app: "agent-engine", component: "engine" } as const;

export const engineServiceName = (instance: string) => workloadName({ ...IDENTITY, instance });
/** The labels of the engine's pods, and the subset that selects them. */
export const engineLabels = (instance: string) => workloadLabels({ ...IDENTITY, instance });
export const engineSelector = (instance: string) => workloadSelector({ ...IDENTITY, instance });
export const engineUrl = (instance: string, namespace: string) => `http://${engineServiceName(instance)}.${namespace}.svc:${ENGINE_PORT}`;

/**
 * Env the platform fixes (not operator settings): the kube executor backend, the cluster CA for
 * Node's TLS, and the executor namespace: a literal when executors run in a namespace of their
 * own, otherwise the engine's own namespace from the Downward API (the engine's documentation,
 * "Required access").
 */
export function engineFixedEnv(executors: { namespace: string; separate: boolean }): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "EXECUTOR_MCP_BACKEND", value: "kube" },
    { name: "NODE_EXTRA_CA_CERTS", value: SERVICE_ACCOUNT_CA },
    executors.separate
      ? { name: "EXECUTOR_MCP_K8S_NAMESPACE", value: executors.namespace }
      : { name: "EXECUTOR_MCP_K8S_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  ];
}

/** The secret values the engine reads; the optional ones only when configured. */
export interface EngineSecretInputs extends ExternalServiceSecrets {
  postgresPassword: pulumi.Input<string>;
  credentialEncryptionKey: pulumi.Input<string>;
  engineApiKey: pulumi.Input<string>;
  authSecret: pulumi.Input<string>;
  logEncryptionKey: pulumi.Input<string>;
}

export interface EngineSettings extends ExternalServices, WorkloadBasics {
  /** The executor ServiceAccount's name (an Output, so the Deployment waits for it). */
  serviceAccountName: pulumi.Input<string>;
  executors: { namespace: string; separate: boolean };
  licensePublicKeyPem: string;
  /** An external database (externalPostgres); undefined: the in-cluster PostgreSQL's Service. */
  database?: DatabaseTarget;
  /** `postgresPassword` is the external database's password when `database` is set. */
  secrets: EngineSecretInputs;
}

/** The in-cluster PostgreSQL as the engine reaches it: its Service, the database and user it creates. */
export const inClusterDatabase = (instance: string): DatabaseTarget => ({ host: postgresServiceName(instance), port: POSTGRES_PORT, name: POSTGRES_DB, user: POSTGRES_USER });

/**
 * The engine's database settings. DB_* are the engine's names (its configuration reference). Its
 * documentation names no TLS setting: PGSSLMODE is libpq's, which node-postgres reads too when
 * the application passes no ssl option; set only for an external database (docs/program.md).
 */
export function databaseConfig(db: DatabaseTarget): Record<string, string> {
  return {
    DB_HOST: db.host,
    DB_PORT: String(db.port),
    DB_NAME: db.name,
    DB_USER: db.user,
    ...(db.sslMode !== undefined ? { PGSSLMODE: db.sslMode } : {}),
  };
}

/** The agent engine as a workload: runs as the executor ServiceAccount, reads the license as a file. */
export function engineWorkload(s: EngineSettings): WorkloadSpec {
  const config: Record<string, string> = {
    NODE_ENV: "production",
    PORT: String(ENGINE_PORT),
    ...databaseConfig(s.database ?? inClusterDatabase(s.instance)),
    LICENSE_PUBLIC_KEY_PATH: `${LICENSE_DIR}/${LICENSE_FILE}`,
    ...externalServiceConfig(s),
  };
  const v = s.secrets;
  return {
    ...IDENTITY,
    ...workloadBasics(s),
    port: ENGINE_PORT,
    uid: ENGINE_UID,
    serviceAccountName: s.serviceAccountName,
    fixedEnv: engineFixedEnv(s.executors),
    config,
    secretEnv: {
      DB_PASSWORD: v.postgresPassword,
      CREDENTIAL_ENCRYPTION_KEY: v.credentialEncryptionKey,
      ENGINE_API_KEY: v.engineApiKey,
      AUTH_SECRET: v.authSecret,
      LOG_ENCRYPTION_KEY: v.logEncryptionKey,
      ...externalServiceSecretEnv(v),
    },
    files: { volume: "license", mountPath: LICENSE_DIR, data: { [LICENSE_FILE]: s.licensePublicKeyPem } },
  };
}
