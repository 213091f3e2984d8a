import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PodSecurityLevel } from "../config";
import { namespaceArgs, podSecurityLabels, type NamespaceRole } from "./builders/namespaces";

export interface NamespacesArgs {
  instanceName: string;
  /** Where the engine, command center and postgres run. */
  namespace: string;
  /** Where executor pods run (decided in config.ts). */
  executors: { namespace: string; separate: boolean };
  /** Enforced where executor pods run (they are the engine's, not ours). */
  executorPodSecurityLevel: PodSecurityLevel;
  /** false: the namespaces exist and are someone else's; the stack only labels them. */
  create: boolean;
}

/**
 * The namespace(s) with Pod Security admission labels. `restricted` is enforced where we own
 * every pod. When executor pods share the engine namespace, that namespace holds pods we do not
 * define, so it enforces the configurable executor level instead (warn/audit stay restricted).
 *
 * By default the stack creates its namespaces and owns them. With `create: false` (Helm without
 * --create-namespace) they must exist: the stack applies only its labels, with server-side apply,
 * removes just those labels on destroy and never deletes the namespace or anything in it.
 */
export class Namespaces extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  /** Where executor pods run: the executor namespace, or the engine namespace when they share it. */
  public readonly executorNamespace: pulumi.Output<string>;

  constructor(name: string, args: NamespacesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Namespaces", name, {}, opts);
    const workloadsLevel: PodSecurityLevel = args.executors.separate ? "restricted" : args.executorPodSecurityLevel;
    const declare = (suffix: string, ns: string, role: NamespaceRole, level: PodSecurityLevel, nsOpts: pulumi.CustomResourceOptions) => {
      if (args.create) {
        return new k8s.core.v1.Namespace(`${name}-${suffix}`, namespaceArgs(ns, role, level, args.instanceName), { parent: this, ...nsOpts }).metadata.name;
      }
      // Not ours: only the Pod Security labels the pods need, no labels that would claim it.
      const labels = podSecurityLabels(level);
      pulumi.log.warn(
        `namespace ${ns} exists and is not this stack's (createNamespaces is false): this stack only sets these labels on it ` +
          `and removes them on destroy, never deleting the namespace or anything in it: ${JSON.stringify(labels)}`,
        this,
      );
      return new k8s.core.v1.NamespacePatch(`${name}-${suffix}-labels`, { metadata: { name: ns, labels } }, { parent: this }).metadata.apply((m) => m.name ?? ns);
    };
    // retainOnDelete: deleting the namespace would delete the postgres PVC in it, and the data
    // must outlive the stack. `destroy` leaves the namespace (and the PVC) in the cluster.
    this.namespace = declare("workloads", args.namespace, "workloads", workloadsLevel, { retainOnDelete: true });
    this.executorNamespace = args.executors.separate
      ? declare("executors", args.executors.namespace, "executors", args.executorPodSecurityLevel, {})
      : this.namespace;
    this.registerOutputs({ namespace: this.namespace, executorNamespace: this.executorNamespace });
  }
}
