// Availability of the engine and the command center: a PodDisruptionBudget (a drain takes at most
// one replica at a time), spreading over nodes, and an optional HorizontalPodAutoscaler that owns
// the replica count (the Deployment then sets none, so `up` never fights it).
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import type { Autoscaling } from "./production";

export interface AvailabilityTarget {
  /** `<instance>-<component>`: the Deployment's name, and that of its PDB and HPA. */
  name: string;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  selector: Record<string, string>;
}

export function podDisruptionBudgetArgs(t: AvailabilityTarget): k8s.policy.v1.PodDisruptionBudgetArgs {
  return {
    metadata: { name: t.name, namespace: t.namespace, labels: t.labels },
    // maxUnavailable, not minAvailable: it never blocks a drain for good, whatever the replica count.
    spec: { maxUnavailable: 1, selector: { matchLabels: t.selector }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  };
}

export function horizontalPodAutoscalerArgs(t: AvailabilityTarget, a: Autoscaling): k8s.autoscaling.v2.HorizontalPodAutoscalerArgs {
  return {
    metadata: { name: t.name, namespace: t.namespace, labels: t.labels },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: t.name },
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.cpuUtilization } } }],
    },
  };
}

/** Spread replicas over nodes, preferred (a one-node cluster still schedules them all). */
export function topologySpread(selector: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
  return [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } }];
}
