import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { toSecretData } from "./builders/registry";
import { rolloutChecksum, type Rollout } from "./rollout";
import {
  configMapArgs,
  opaqueSecretArgs,
  workloadDeploymentArgs,
  workloadFilesName,
  workloadLabels,
  workloadName,
  workloadServiceArgs,
  type WorkloadSpec,
} from "./builders/workload";

export interface WorkloadArgs {
  spec: WorkloadSpec;
  namespace: pulumi.Input<string>;
  imagePullSecretName?: string;
  /** How the pod template's checksum is computed (components/builders/security.ts). */
  rollout: Rollout;
}

/**
 * One stateless workload we own (the engine, the command center): its ConfigMap, its Secret, an
 * optional Secret of files, the Deployment that reads them (rolled by a checksum of all three)
 * and its Service.
 */
export class Workload extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: WorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Workload", name, {}, opts);
    const w = args.spec;
    const labels = workloadLabels(w);
    const config = new k8s.core.v1.ConfigMap(`${name}-config`, configMapArgs(workloadName(w), args.namespace, labels, w.config), { parent: this });

    const secretValues = pulumi.secret(pulumi.all(w.secretEnv));
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      opaqueSecretArgs(workloadName(w), args.namespace, labels, pulumi.secret(secretValues.apply(toSecretData))),
      { parent: this },
    );
    const files = w.files
      ? new k8s.core.v1.Secret(`${name}-${w.files.volume}`, opaqueSecretArgs(workloadFilesName(w, w.files.volume), args.namespace, labels, toSecretData(w.files.data)), { parent: this })
      : undefined;

    // A value, computed inside apply; the resources themselves are never created in an apply.
    const plainParts = { config: w.config, ...(w.files ? { [w.files.volume]: w.files.data } : {}) };
    const checksum = rolloutChecksum(args.rollout, plainParts, secretValues.apply((secret) => ({ secret })));
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      workloadDeploymentArgs(w, {
        namespace: args.namespace,
        configMapName: config.metadata.name,
        secretName: secret.metadata.name,
        filesSecretName: files?.metadata.name,
        checksum,
        imagePullSecretName: args.imagePullSecretName,
      }),
      { parent: this },
    );
    const service = new k8s.core.v1.Service(`${name}-service`, workloadServiceArgs(w, args.namespace), { parent: this });
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
