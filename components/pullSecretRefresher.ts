import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  PULL_SECRET_REFRESHER_COMPONENT,
  type PullSecretRefresh,
  refresherCronJobArgs,
  refresherRoleArgs,
  refresherRoleBindingArgs,
  refresherServiceAccountArgs,
  refresherTargets,
} from "./builders/pullSecretRefresh";

export interface PullSecretRefresherArgs {
  instanceName: string;
  settings: PullSecretRefresh;
  /** The engine namespace: the CronJob and its ServiceAccount live here. */
  namespace: pulumi.Input<string>;
  /** The pull secret's name (the same in every namespace). */
  pullSecretName: string;
  /** Every namespace holding a copy of the pull secret (role -> namespace), as RegistryPullSecret got them. */
  pullSecretNamespaces: Record<string, pulumi.Input<string>>;
}

/**
 * A CronJob that renews the ECR pull secret between `up`s, with its own ServiceAccount: a Role and
 * RoleBinding in each namespace holding a copy, allowed get and patch on that copy only.
 */
export class PullSecretRefresher extends pulumi.ComponentResource {
  constructor(name: string, args: PullSecretRefresherArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PULL_SECRET_REFRESHER_COMPONENT, name, {}, opts);
    const i = args.instanceName;
    const sa = new k8s.core.v1.ServiceAccount(`${name}-service-account`, refresherServiceAccountArgs(i, args.namespace, args.settings, args.pullSecretName), { parent: this });
    const bindings = Object.entries(args.pullSecretNamespaces).map(([role, namespace]) => {
      const r = new k8s.rbac.v1.Role(`${name}-${role}-role`, refresherRoleArgs(i, namespace, args.pullSecretName), { parent: this });
      return new k8s.rbac.v1.RoleBinding(`${name}-${role}-role-binding`, refresherRoleBindingArgs(i, namespace, r.metadata.name, args.namespace), {
        parent: this,
        dependsOn: [sa],
      });
    });
    const targets = pulumi.all(Object.values(args.pullSecretNamespaces)).apply((nss) => refresherTargets(nss, args.pullSecretName));
    new k8s.batch.v1.CronJob(
      `${name}-cron-job`,
      refresherCronJobArgs({ instance: i, namespace: args.namespace, settings: args.settings, serviceAccountName: sa.metadata.name, pullSecretName: args.pullSecretName, targets }),
      { parent: this, dependsOn: bindings },
    );
    this.registerOutputs({});
  }
}
