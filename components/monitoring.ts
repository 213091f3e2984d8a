import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { serviceMonitorArgs, type MonitorTarget } from "./builders/monitoring";
import type { Metrics } from "./builders/production";

export interface MonitoringArgs {
  targets: { role: string; metrics: Metrics; target: MonitorTarget }[];
}

/** Prometheus Operator ServiceMonitors (the CRDs must be installed: the `prometheusOperator` setting). */
export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Monitoring", name, {}, opts);
    for (const t of args.targets) new k8s.apiextensions.CustomResource(`${name}-${t.role}`, serviceMonitorArgs(t.metrics, t.target), { parent: this });
    this.registerOutputs({});
  }
}
