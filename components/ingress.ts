import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { httpRouteArgs, ingressArgs, type ExposureTarget } from "./builders/exposure";
import type { Exposure } from "./builders/production";

export interface CommandCenterIngressArgs {
  exposure: Exclude<Exposure, { kind: "none" }>;
  target: ExposureTarget;
}

/** The way in to the command center: an Ingress, or an HTTPRoute on a configured Gateway. */
export class CommandCenterIngress extends pulumi.ComponentResource {
  constructor(name: string, args: CommandCenterIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:CommandCenterIngress", name, {}, opts);
    const e = args.exposure;
    if (e.kind === "ingress") new k8s.networking.v1.Ingress(`${name}-ingress`, ingressArgs(e, args.target), { parent: this });
    else new k8s.apiextensions.CustomResource(`${name}-http-route`, httpRouteArgs(e, args.target), { parent: this });
    this.registerOutputs({});
  }
}
