import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { horizontalPodAutoscalerArgs, podDisruptionBudgetArgs, type AvailabilityTarget } from "./builders/availability";
import type { Availability as AvailabilitySettings } from "./builders/production";

export interface AvailabilityArgs {
  settings: AvailabilitySettings;
  target: AvailabilityTarget;
}

/** A workload's PodDisruptionBudget (when more than one replica can run) and optional autoscaler. */
export class Availability extends pulumi.ComponentResource {
  constructor(name: string, args: AvailabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Availability", name, {}, opts);
    const s = args.settings;
    if (s.spread) new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, podDisruptionBudgetArgs(args.target), { parent: this });
    if (s.autoscaling) new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, horizontalPodAutoscalerArgs(args.target, s.autoscaling), { parent: this });
    this.registerOutputs({});
  }
}
