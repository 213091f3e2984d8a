import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../config";
import {
  postgresDeploymentArgs,
  postgresPvcArgs,
  postgresSecretData,
  postgresSecretArgs,
  postgresServiceArgs,
} from "./builders/postgres";
import { toSecretData } from "./builders/registry";
import { rolloutChecksum, type Rollout } from "./rollout";
import { POSTGRES_MAJOR_ANNOTATION, postgresMajor } from "./builders/postgresVersion";

export interface PostgresArgs {
  instanceName: string;
  namespace: pulumi.Input<string>;
  image: string;
  resources: ResourceSpec;
  storageSize: string;
  storageClass?: string;
  password: pulumi.Input<string>;
  imagePullSecretName?: string;
  /** How the pod template's checksum is computed (components/builders/security.ts). */
  rollout: Rollout;
}

/** PostgreSQL for the engine: Secret, PVC (protected, kept on delete), Deployment (Recreate), Service. */
/** The major version the data is deployed with, recorded on the claim (components/builders/postgresVersion.ts). */
function majorAnnotation(image: string): Record<string, string> | undefined {
  const major = postgresMajor(image);
  return major !== undefined ? { [POSTGRES_MAJOR_ANNOTATION]: major } : undefined;
}

export class Postgres extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Postgres", name, {}, opts);
    const password = pulumi.secret(pulumi.output(args.password));
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      postgresSecretArgs(args.namespace, args.instanceName, pulumi.secret(password.apply((p) => toSecretData(postgresSecretData(p))))),
      { parent: this },
    );
    // The data outlives the stack: neither `destroy` nor a replacement may delete it.
    // ignoreChanges on the name: a stack deployed before names were stable keeps its
    // random-suffixed claim (a claim cannot be renamed; a new name would be a new, empty volume).
    // New stacks get `<instance>-postgres-data`, which a later deploy finds again after `destroy`.
    const pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      postgresPvcArgs(args.namespace, args.instanceName, args.storageSize, args.storageClass, majorAnnotation(args.image)),
      { parent: this, protect: true, retainOnDelete: true, ignoreChanges: ["metadata.name"] },
    );
    const checksum = rolloutChecksum(args.rollout, {}, password.apply((p) => ({ secret: postgresSecretData(p) })));
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      postgresDeploymentArgs({
        namespace: args.namespace,
        instance: args.instanceName,
        image: args.image,
        resources: args.resources,
        secretName: secret.metadata.name,
        pvcName: pvc.metadata.name,
        checksum,
        imagePullSecretName: args.imagePullSecretName,
      }),
      // A replacement must stop the old pod first: it holds the ReadWriteOnce volume the new one needs.
      { parent: this, deleteBeforeReplace: true },
    );
    const service = new k8s.core.v1.Service(`${name}-service`, postgresServiceArgs(args.namespace, args.instanceName), { parent: this });
    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
