import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { cleanupCronJobArgs, cleanupRoleArgs, cleanupRoleBindingArgs, cleanupServiceAccountArgs } from "./builders/executorCleanup";
import type { ExecutorCleanup as ExecutorCleanupSettings } from "./builders/production";

export interface ExecutorCleanupArgs {
  instanceName: string;
  settings: ExecutorCleanupSettings;
  /** The engine namespace: the CronJob and its ServiceAccount live here. */
  namespace: pulumi.Input<string>;
  /** Where executor pods run: the Role and RoleBinding live here. */
  executorNamespace: pulumi.Input<string>;
  imagePullSecretName?: string;
}

/** A CronJob deleting orphaned executor pods, with its own ServiceAccount: pods list/delete where executors run, nothing else. */
export class ExecutorCleanup extends pulumi.ComponentResource {
  constructor(name: string, args: ExecutorCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:ExecutorCleanup", name, {}, opts);
    const i = args.instanceName;
    const sa = new k8s.core.v1.ServiceAccount(`${name}-service-account`, cleanupServiceAccountArgs(i, args.namespace, args.imagePullSecretName), { parent: this });
    const role = new k8s.rbac.v1.Role(`${name}-role`, cleanupRoleArgs(i, args.executorNamespace), { parent: this });
    const binding = new k8s.rbac.v1.RoleBinding(`${name}-role-binding`, cleanupRoleBindingArgs(i, args.executorNamespace, role.metadata.name, args.namespace), {
      parent: this,
      dependsOn: [sa],
    });
    new k8s.batch.v1.CronJob(`${name}-cron-job`, cleanupCronJobArgs(i, args.settings, args.namespace, sa.metadata.name, args.imagePullSecretName), {
      parent: this,
      dependsOn: [binding],
    });
    this.registerOutputs({});
  }
}
