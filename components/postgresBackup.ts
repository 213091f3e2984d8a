import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../config";
import { backupCronJobArgs, backupPvcArgs, type PostgresBackupSettings } from "./builders/postgresBackup";

export interface PostgresBackupArgs {
  instanceName: string;
  namespace: pulumi.Input<string>;
  settings: PostgresBackupSettings;
  image: string;
  secretName: pulumi.Input<string>;
  storageClass?: string;
  resources: ResourceSpec;
  imagePullSecretName?: string;
}

/** Scheduled pg_dump into a PVC of its own (protected and kept on delete, like the data). */
export class PostgresBackup extends pulumi.ComponentResource {
  constructor(name: string, args: PostgresBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:PostgresBackup", name, {}, opts);
    const pvc = new k8s.core.v1.PersistentVolumeClaim(`${name}-pvc`, backupPvcArgs(args.instanceName, args.namespace, args.settings, args.storageClass), {
      parent: this,
      protect: true,
      retainOnDelete: true,
    });
    new k8s.batch.v1.CronJob(
      `${name}-cron-job`,
      backupCronJobArgs({
        instance: args.instanceName,
        namespace: args.namespace,
        settings: args.settings,
        image: args.image,
        secretName: args.secretName,
        claimName: pvc.metadata.name,
        resources: args.resources,
        imagePullSecretName: args.imagePullSecretName,
      }),
      { parent: this },
    );
    this.registerOutputs({});
  }
}
