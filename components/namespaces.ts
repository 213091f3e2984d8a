import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PodSecurityLevel } from "../config";
import { namespaceArgs } from "./builders/namespaces";

export interface NamespacesArgs {
  instanceName: string;
  /** Where the engine, command center and postgres run. */
  namespace: string;
  /** Where executor pods run (decided in config.ts). */
  executors: { namespace: string; separate: boolean };
  /** Enforced where executor pods run (they are the engine's, not ours). */
  executorPodSecurityLevel: PodSecurityLevel;
}

/**
 * The namespace(s) with Pod Security admission labels. `restricted` is enforced where we own
 * every pod. When executor pods share the engine namespace, that namespace holds pods we do not
 * define, so it enforces the configurable executor level instead (warn/audit stay restricted).
 */
export class Namespaces extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  /** Where executor pods run: the executor namespace, or the engine namespace when they share it. */
  public readonly executorNamespace: pulumi.Output<string>;

  constructor(name: string, args: NamespacesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Namespaces", name, {}, opts);
    const workloadsLevel: PodSecurityLevel = args.executors.separate ? "restricted" : args.executorPodSecurityLevel;
    // retainOnDelete: deleting the namespace would delete the postgres PVC in it, and the data
    // must outlive the stack. `destroy` leaves the namespace (and the PVC) in the cluster.
    const main = new k8s.core.v1.Namespace(
      `${name}-workloads`,
      namespaceArgs(args.namespace, "workloads", workloadsLevel, args.instanceName),
      { parent: this, retainOnDelete: true },
    );
    this.namespace = main.metadata.name;
    if (args.executors.separate) {
      const executors = new k8s.core.v1.Namespace(
        `${name}-executors`,
        namespaceArgs(args.executors.namespace, "executors", args.executorPodSecurityLevel, args.instanceName),
        { parent: this },
      );
      this.executorNamespace = executors.metadata.name;
    } else {
      this.executorNamespace = main.metadata.name;
    }
    this.registerOutputs({ namespace: this.namespace, executorNamespace: this.executorNamespace });
  }
}
