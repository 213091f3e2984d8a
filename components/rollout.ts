// How pod templates are stamped so that a change of config or secret data rolls the pods (the
// checksum annotation's value). Kept apart from builders/security.ts, which is pure: this one needs
// the Pulumi runtime (Outputs), and the command line, which imports the builders, must not load it
// before it opens a stack (the SDK's import alone costs most of a second of CPU).
import * as pulumi from "@pulumi/pulumi";
import { configChecksum } from "./builders/security";

/**
 * How pod templates are stamped so that a change rolls the pods: an HMAC of the config and the
 * secret data under a generated key, or, in render mode (Secrets are not rendered, and a throwaway
 * stack's generated values would make every render differ), a digest of the non-secret parts only.
 */
export type Rollout = { kind: "hmac"; key: pulumi.Input<string> } | { kind: "config-only" };

/** The key of the config-only digest: public on purpose, it covers no secret. */
const CONFIG_ONLY_KEY = "agent-platform render: config only, no secret data";

/** The checksum annotation's value (never secret: see configChecksum). */
export function rolloutChecksum(
  rollout: Rollout,
  plain: Record<string, Record<string, string>>,
  secret: pulumi.Input<Record<string, Record<string, string>>>,
): pulumi.Output<string> {
  if (rollout.kind === "config-only") return pulumi.output(configChecksum(plain, CONFIG_ONLY_KEY));
  return pulumi.unsecret(pulumi.all([secret, rollout.key]).apply(([s, key]) => configChecksum({ ...plain, ...s }, key)));
}
