// The switch of a stack from its in-cluster PostgreSQL to an external one (externalPostgres):
// which objects the pre-flight check reads, and the refusal when this stack's in-cluster data is
// still there and the operator has not said it was migrated. Pure (the cluster is read in index.ts).
// Apart from postgresExternal.ts because config.ts imports that one, and this one needs the
// object names (postgres.ts loads the Pulumi SDK, which validateConfig must not).
import type { ExternalPostgres } from "./postgresExternal";
import type { ObjectRef } from "./ownership";
import { claimRef, postgresClaimName, postgresDeploymentRef } from "./postgres";
import { backupName } from "./postgresBackup";

/** An object of the in-cluster PostgreSQL as the cluster has it (what the pre-flight check read). */
export interface InClusterPostgresObject {
  /** "Deployment ns/name", "PersistentVolumeClaim ns/name". */
  ref: string;
  /** The URN of the resource in this stack (for `pulumi state unprotect`), when it is a protected one. */
  protectedUrn?: string;
}

/**
 * The refusal of an `up` that switches a stack from its in-cluster PostgreSQL to an external one
 * while this stack's in-cluster objects still exist, unless the operator says the data was
 * migrated. Undefined when nothing is in the way.
 */
export function externalSwitchProblem(external: ExternalPostgres, found: InClusterPostgresObject[]): string | undefined {
  if (found.length === 0 || external.inClusterDataMigrated) return undefined;
  const unprotect = found.filter((f) => f.protectedUrn !== undefined).map((f) => `     pulumi state unprotect '${f.protectedUrn}'`);
  return [
    `Nothing was changed: agent-platform:externalPostgres is set, but this stack still has its in-cluster PostgreSQL (${found.map((f) => f.ref).join(", ")}).`,
    "Switching would stop it and point the engine at the external database, which does not hold this stack's data yet. To switch:",
    "  1. copy the data over: take a dump (docs/backup-restore.md) and restore it into the external database;",
    ...(unprotect.length > 0
      ? ["  2. let the stack release the claims (they are protected; the `up` then keeps them in the cluster, unmanaged, with the data):", ...unprotect]
      : []),
    `  ${unprotect.length > 0 ? 3 : 2}. pulumi config set --path externalPostgres.inClusterDataMigrated true, then up.`,
  ].join("\n");
}

/**
 * The in-cluster PostgreSQL objects a switch to an external database would remove (the two claims
 * only from the stack: they are kept on delete), with the URNs of the protected ones. `urnPrefix`
 * is `urn:pulumi:<stack>::<project>::`; the platform component is `platform` (index.ts).
 */
export function inClusterPostgresRefs(instance: string, namespace: string, urnPrefix: string): { ref: ObjectRef; protectedUrn?: string }[] {
  const platform = `${urnPrefix}agent-platform:index:AgentPlatform$`;
  return [
    { ref: postgresDeploymentRef(instance, namespace) },
    { ref: claimRef(postgresClaimName(instance), namespace), protectedUrn: `${platform}agent-platform:index:Postgres$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data` },
    { ref: claimRef(backupName(instance), namespace), protectedUrn: `${platform}agent-platform:index:PostgresBackup$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-backup-pvc` },
  ];
}
