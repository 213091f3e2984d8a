// Prometheus Operator ServiceMonitors for the engine and the command center
// (monitoring.coreos.com/v1; created only when the config says the CRDs are installed).
import type * as pulumi from "@pulumi/pulumi";
import type { Metrics } from "./production";

export const METRICS_PORT_NAME = "metrics";

export interface MonitorTarget {
  name: string;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  /** The Service's own labels select it. */
  serviceSelector: Record<string, string>;
  /** The port the application serves on: metrics on the same port reuse the Service's `http` port. */
  appPort: number;
}

/** The Service port a ServiceMonitor scrapes: `http` when metrics share the app port, else `metrics`. */
export const metricsPortName = (m: Metrics, appPort: number) => (m.port === appPort ? "http" : METRICS_PORT_NAME);

export function serviceMonitorArgs(m: Metrics, t: MonitorTarget) {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name: t.name, namespace: t.namespace, labels: t.labels },
    spec: {
      selector: { matchLabels: t.serviceSelector },
      namespaceSelector: { matchNames: [t.namespace] },
      endpoints: [{ port: metricsPortName(m, t.appPort), path: m.path, interval: "30s" }],
    },
  };
}
