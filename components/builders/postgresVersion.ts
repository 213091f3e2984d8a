// A PostgreSQL data directory is tied to its major version: a new major cannot open it, and the
// way across is dump-and-restore. The data claim records the major it was last deployed with
// (an annotation), and the program refuses, before anything changes, to deploy another major
// unless `postgresAllowMajorUpgrade` says so.

export const POSTGRES_MAJOR_ANNOTATION = "agent-platform.io/postgres-major";

/** The major version in an image reference's tag (`postgres:16.6-bookworm` -> "16"); undefined when the tag does not say. */
export function postgresMajor(image: string): string | undefined {
  const noDigest = image.split("@")[0];
  const lastSlash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  if (colon <= lastSlash) return undefined;
  return /^(\d+)(\.|-|$)/.exec(noDigest.slice(colon + 1))?.[1];
}

/** The refusal, or undefined when the change is fine (same major, nothing recorded, unknown, or allowed). */
export function majorChangeProblem(recorded: string | undefined, image: string, allowed: boolean, claim: string): string | undefined {
  const configured = postgresMajor(image);
  if (recorded === undefined || configured === undefined || recorded === configured || allowed) return undefined;
  return (
    `Nothing was changed: agent-platform:postgresImage = ${JSON.stringify(image)} is PostgreSQL ${configured}, but the data in claim ${claim} ` +
    `was last deployed with PostgreSQL ${recorded}, and a new major version cannot open an old data directory. ` +
    `Dump and restore instead (docs/backup-restore.md, "Moving to a new PostgreSQL major version": take a backup, deploy the new major on an empty claim, restore), ` +
    `then set agent-platform:postgresAllowMajorUpgrade true for that up. Example: postgres:${recorded}`
  );
}
