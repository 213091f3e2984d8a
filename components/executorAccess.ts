import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { roleArgs, roleBindingArgs, serviceAccountArgs } from "./builders/rbac";

export interface ExecutorAccessArgs {
  instanceName: string;
  /** The engine's namespace: the ServiceAccount lives here. */
  namespace: pulumi.Input<string>;
  /** Where executor pods spawn: the Role and RoleBinding live here. */
  executorNamespace: pulumi.Input<string>;
  imagePullSecretName?: string;
}

/** ServiceAccount `engine-executor` plus the namespace-scoped Role/RoleBinding the executor backend needs. */
export class ExecutorAccess extends pulumi.ComponentResource {
  public readonly serviceAccountName: pulumi.Output<string>;
  public readonly roleNamespace: pulumi.Output<string>;

  constructor(name: string, args: ExecutorAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:ExecutorAccess", name, {}, opts);
    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      serviceAccountArgs(args.namespace, args.instanceName, args.imagePullSecretName),
      { parent: this },
    );
    const role = new k8s.rbac.v1.Role(`${name}-role`, roleArgs(args.executorNamespace, args.instanceName), { parent: this });
    new k8s.rbac.v1.RoleBinding(
      `${name}-role-binding`,
      roleBindingArgs(args.executorNamespace, role.metadata.name, args.namespace, args.instanceName),
      { parent: this, dependsOn: [sa] },
    );
    this.serviceAccountName = sa.metadata.name;
    this.roleNamespace = role.metadata.namespace;
    this.registerOutputs({ serviceAccountName: this.serviceAccountName });
  }
}
