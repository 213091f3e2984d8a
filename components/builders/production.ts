// Production-readiness settings (a way in, availability, graceful shutdown, executor cleanup,
// monitoring): the typed result validateConfig hands down, and the cross-field rules that decide
// it. Pure: plain values in, settings or reported problems out.

export interface Autoscaling {
  minReplicas: number;
  maxReplicas: number;
  /** Target average CPU utilization, percent of the containers' requests. */
  cpuUtilization: number;
}

/** How many replicas a workload runs and what keeps them available. */
export interface Availability {
  /** The Deployment's replica count; undefined when an autoscaler owns it (the Deployment then sets none). */
  replicas?: number;
  autoscaling?: Autoscaling;
  /** A PodDisruptionBudget and topology spreading: when more than one replica can run. */
  spread: boolean;
}

export type Exposure =
  | { kind: "none" }
  | { kind: "ingress"; className: string; host: string; path: string; tls?: { secretName: string; clusterIssuer?: string } }
  | { kind: "httpRoute"; host: string; path: string; parent: { namespace: string; name: string; sectionName?: string } };

export type PreStop = { kind: "sleep"; seconds: number } | { kind: "exec"; command: string[] };

export interface EngineShutdown {
  terminationGracePeriodSeconds: number;
  preStop: PreStop;
}

export interface ExecutorCleanup {
  schedule: string;
  /** Where executor pods run (the config's decided executors.namespace). */
  namespace: string;
  maxAgeSeconds: number;
  /** The selector the CronJob lists pods with: the configured one plus the exclusion of our own pods. */
  selector: string;
  image: string;
}

export interface Metrics {
  port: number;
  path: string;
}

export interface Monitoring {
  engine: Metrics;
  commandCenter: Metrics;
}

export interface PostgresBackup {
  schedule: string;
  retentionDays: number;
  storageSize: string;
}

export interface ProductionSettings {
  exposure: Exposure;
  /** Scheduled pg_dump of the in-cluster PostgreSQL (components/builders/postgresBackup.ts). */
  postgresBackup?: PostgresBackup;
  /** Whether postgresImage may change major version (components/builders/postgresVersion.ts). */
  postgresAllowMajorUpgrade: boolean;
  engine: Availability;
  commandCenter: Availability;
  engineShutdown: EngineShutdown;
  executorCleanup?: ExecutorCleanup;
  monitoring?: Monitoring;
}

/** The built-in PreStop: long enough for the Service's endpoints to drop the pod before SIGTERM. */
export const DEFAULT_PRESTOP_SLEEP_SECONDS = 10;
export const DEFAULT_CPU_UTILIZATION = 70;
/** Pods of this platform carry it: the cleanup never selects them. */
export const NOT_OURS = "app.kubernetes.io/part-of!=agent-platform";

/** The parsed values the rules read (defaults applied, unset = undefined). */
export interface ProductionInputs {
  instanceName: string;
  publicUrl: string;
  ingressClassName?: string;
  ingressHost?: string;
  ingressTlsSecretName?: string;
  ingressCertManagerIssuer?: string;
  gatewayParent?: string;
  engineReplicas: number;
  commandCenterReplicas: number;
  engineAutoscaling: Partial<Autoscaling>;
  commandCenterAutoscaling: Partial<Autoscaling>;
  engineTerminationGracePeriodSeconds: number;
  enginePreStopCommand?: string[];
  executorCleanupSchedule?: string;
  executorCleanupMaxAgeMinutes: number;
  executorCleanupSelector?: string;
  executorCleanupImage?: string;
  prometheusOperator: boolean;
  postgresBackupSchedule?: string;
  postgresAllowMajorUpgrade: boolean;
  postgresBackupRetentionDays: number;
  postgresBackupStorageSize: string;
  engineMetrics: Metrics;
  commandCenterMetrics: Metrics;
  /** Which replica keys the stack sets to something other than their default. */
  replicasSet: { engineReplicas: boolean; commandCenterReplicas: boolean };
  executors: { namespace: string; separate: boolean };
  engineImage: string;
}

export type AddIssue = (key: string, rule: string) => void;

const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\])$/i;

function availability(
  replicas: number,
  replicasSet: boolean,
  scaling: Partial<Autoscaling>,
  keys: { replicas: string; autoscaling: string },
  add: AddIssue,
): Availability {
  if (Object.keys(scaling).length === 0) return { replicas, spread: replicas > 1 };
  const { minReplicas, maxReplicas } = scaling;
  if (minReplicas === undefined) add(keys.autoscaling, "minReplicas is required when autoscaling is set");
  if (maxReplicas === undefined) add(keys.autoscaling, "maxReplicas is required when autoscaling is set");
  if (minReplicas !== undefined && maxReplicas !== undefined && maxReplicas < minReplicas) add(keys.autoscaling, "maxReplicas must be at least minReplicas");
  if (replicasSet) add(keys.replicas, `must be unset when ${keys.autoscaling} is set: the autoscaler owns the replica count (use minReplicas)`);
  const autoscaling = { minReplicas: minReplicas ?? 1, maxReplicas: maxReplicas ?? 1, cpuUtilization: scaling.cpuUtilization ?? DEFAULT_CPU_UTILIZATION };
  return { autoscaling, spread: autoscaling.maxReplicas > 1 };
}

function exposure(v: ProductionInputs, add: AddIssue): Exposure {
  const url = new URL(v.publicUrl);
  const https = url.protocol === "https:";
  const host = url.hostname;
  const path = url.pathname === "" ? "/" : url.pathname;
  const tlsSet = v.ingressTlsSecretName !== undefined || v.ingressCertManagerIssuer !== undefined;
  const on = v.ingressClassName !== undefined || v.gatewayParent !== undefined;
  if (v.ingressClassName !== undefined && v.gatewayParent !== undefined) add("gatewayParent", "must be empty when ingressClassName is set (an Ingress or an HTTPRoute, not both)");
  if (v.ingressTlsSecretName !== undefined && v.ingressCertManagerIssuer !== undefined) add("ingressCertManagerIssuer", "must be empty when ingressTlsSecretName is set (one source of TLS)");
  if (!on && (tlsSet || v.ingressHost !== undefined)) add(v.ingressHost !== undefined ? "ingressHost" : "ingressClassName", "is required: the TLS and host settings apply to an Ingress (set ingressClassName)");
  if (on && IP_HOST.test(host)) add("publicUrl", "must name a DNS host, not an IP address, when an Ingress or HTTPRoute is configured (the host routes the traffic)");
  if (on && url.port !== "") add("publicUrl", "must not carry a port when an Ingress or HTTPRoute is configured (they serve 80/443)");
  if (v.ingressHost !== undefined && v.ingressHost !== host) add("ingressHost", `must equal publicUrl's host ${host} (the command center builds its links from publicUrl)`);
  if (v.ingressClassName !== undefined) {
    if (https && !tlsSet) add("ingressTlsSecretName", "is required (or ingressCertManagerIssuer) when publicUrl is https and an Ingress is configured: an https URL needs TLS");
    if (!https && tlsSet) add("publicUrl", "must be https:// when the Ingress has TLS (BASE_URL would point users at plain http)");
  } else if (v.gatewayParent !== undefined && tlsSet) {
    add("ingressTlsSecretName", "must be empty with gatewayParent: TLS is configured on the Gateway's listener");
  }
  if (v.ingressClassName !== undefined) {
    const tls = v.ingressTlsSecretName !== undefined
      ? { secretName: v.ingressTlsSecretName }
      : v.ingressCertManagerIssuer !== undefined
        ? { secretName: `${v.instanceName}-command-center-tls`, clusterIssuer: v.ingressCertManagerIssuer }
        : undefined;
    return { kind: "ingress", className: v.ingressClassName, host, path, tls };
  }
  if (v.gatewayParent !== undefined) {
    const [namespace, name, sectionName] = v.gatewayParent.split("/");
    return { kind: "httpRoute", host, path, parent: { namespace, name, ...(sectionName ? { sectionName } : {}) } };
  }
  return { kind: "none" };
}

/** Decides the production settings; reports every broken rule through `add`. */
export function productionRules(v: ProductionInputs, add: AddIssue): ProductionSettings {
  const engine = availability(v.engineReplicas, v.replicasSet.engineReplicas, v.engineAutoscaling, { replicas: "engineReplicas", autoscaling: "engineAutoscaling" }, add);
  const commandCenter = availability(
    v.commandCenterReplicas,
    v.replicasSet.commandCenterReplicas,
    v.commandCenterAutoscaling,
    { replicas: "commandCenterReplicas", autoscaling: "commandCenterAutoscaling" },
    add,
  );
  const preStop: PreStop = v.enginePreStopCommand ? { kind: "exec", command: v.enginePreStopCommand } : { kind: "sleep", seconds: DEFAULT_PRESTOP_SLEEP_SECONDS };
  if (preStop.kind === "sleep" && v.engineTerminationGracePeriodSeconds <= preStop.seconds) {
    add("engineTerminationGracePeriodSeconds", `must exceed the ${preStop.seconds}-second PreStop sleep`);
  }
  let executorCleanup: ExecutorCleanup | undefined;
  if (v.executorCleanupSchedule !== undefined) {
    if (!v.executors.separate && v.executorCleanupSelector === undefined) {
      add("executorCleanupSelector", "is required when executor pods share the engine namespace (otherwise the cleanup could not tell them from other pods)");
    }
    executorCleanup = {
      schedule: v.executorCleanupSchedule,
      namespace: v.executors.namespace,
      maxAgeSeconds: v.executorCleanupMaxAgeMinutes * 60,
      selector: [v.executorCleanupSelector, NOT_OURS].filter((s): s is string => s !== undefined).join(","),
      image: v.executorCleanupImage ?? v.engineImage,
    };
  } else if (v.executorCleanupSelector !== undefined || v.executorCleanupImage !== undefined) {
    add("executorCleanupSchedule", "is required when executorCleanupSelector or executorCleanupImage is set (it turns the cleanup on)");
  }
  return {
    exposure: exposure(v, add),
    engine,
    commandCenter,
    engineShutdown: { terminationGracePeriodSeconds: v.engineTerminationGracePeriodSeconds, preStop },
    executorCleanup,
    monitoring: v.prometheusOperator ? { engine: v.engineMetrics, commandCenter: v.commandCenterMetrics } : undefined,
    postgresAllowMajorUpgrade: v.postgresAllowMajorUpgrade,
    postgresBackup:
      v.postgresBackupSchedule !== undefined
        ? { schedule: v.postgresBackupSchedule, retentionDays: v.postgresBackupRetentionDays, storageSize: v.postgresBackupStorageSize }
        : undefined,
  };
}
