/**
 * A PostgreSQL SCRAM-SHA-256 password verifier, computed here so that `ALTER ROLE … PASSWORD`
 * carries the verifier and never the password: the plaintext reaches neither the server nor its
 * logs (RFC 5802 section 3, with SHA-256 as RFC 7677 specifies; the text form is PostgreSQL's
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, each part base64).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/** PostgreSQL's default (scram_iterations) and the RFC's minimum for SHA-256. */
export const SCRAM_ITERATIONS = 4096;
/** PostgreSQL's salt length in bytes. */
export const SCRAM_SALT_BYTES = 16;

/**
 * Passwords this function accepts: printable ASCII. SCRAM prepares a password with SASLprep
 * (RFC 4013), which leaves these characters unchanged and is not implemented here; the generated
 * PostgreSQL password is base64url, well inside this set.
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** The keys a SCRAM-SHA-256 server stores for a password (RFC 5802 section 3). */
export function scramKeys(password: string, salt: Buffer, iterations: number = SCRAM_ITERATIONS): ScramKeys {
  if (!PRINTABLE_ASCII.test(password)) {
    throw new Error("the SCRAM verifier is computed only for printable-ASCII passwords (SASLprep is not implemented)");
  }
  if (!Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS) throw new Error(`SCRAM iterations must be a whole number of at least ${SCRAM_ITERATIONS}`);
  if (salt.length < 8) throw new Error("a SCRAM salt must have at least 8 bytes");
  // SaltedPassword = Hi(password, salt, i): PBKDF2 with HMAC-SHA-256, one block of 32 bytes.
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return { iterations, salt, storedKey, serverKey };
}

/** PostgreSQL's text form of a SCRAM-SHA-256 verifier (what pg_authid.rolpassword holds). */
export function formatVerifier(k: ScramKeys): string {
  return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString("base64")}$${k.storedKey.toString("base64")}:${k.serverKey.toString("base64")}`;
}

/** A verifier for `password` with a fresh random salt. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(SCRAM_SALT_BYTES)): string {
  return formatVerifier(scramKeys(password, salt));
}

const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/;

/** A role name as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The statement that sets a role's password to a verifier. The verifier's alphabet (base64,
 * digits, `$`, `:`) has no quote, and it is checked, so it is a safe SQL literal.
 */
export function alterRoleSql(role: string, verifier: string): string {
  if (!VERIFIER.test(verifier)) throw new Error("not a SCRAM-SHA-256 verifier");
  return `ALTER ROLE ${quoteIdent(role)} PASSWORD '${verifier}';`;
}
