// The dynamic provider behind GeneratedSecretValue (see generatedSecrets.ts).
//
// Pulumi serializes this object (its functions and everything they capture) into the state and
// runs it in a separate process, so it captures nothing from this module: the only import is a
// type-only one (erased), and node's crypto is required inside the function that needs it.
//
// Which code runs: `diff` and `update` use the provider serialized with the NEW inputs (the
// program's current code); `read` (refresh) and `delete` use the one stored with the resource's
// outputs. So a stack deployed by an older version is diffed by this code on its next `up`, and
// this code handles every state an older version wrote (`rotation` missing or "").
//
// Rotation is an in-place update, never a replace: the resources are protected, and Pulumi
// refuses to replace (delete) a protected resource; an update keeps the protection on. Only a
// NEW, NON-EMPTY keeper regenerates. None of these regenerates: an upgrade, a refactor of size or
// encoding, a keeper removed from the stack config (the state keeps the keeper of the current
// value, so putting the same keeper back changes nothing either), a refresh.
import type * as pulumi from "@pulumi/pulumi";

export type SecretEncoding = "hex" | "base64url";

export interface SecretValueInputs {
  /** Entropy in bytes. */
  bytes: number;
  encoding: SecretEncoding;
  /** Keeper: a new non-empty value here regenerates the value, in place (see above). */
  rotation: string;
  /**
   * The value to create with instead of a random one. Read only by `create`: a later change
   * is ignored (the rollout key in generatedSecrets.ts starts from the auth secret's value).
   */
  initial?: string;
}

export interface SecretValueOutputs {
  bytes: number;
  encoding: SecretEncoding;
  /** The keeper of the current value ("" until the first rotation). */
  rotation: string;
  value: string;
}

export const secretValueProvider: pulumi.dynamic.ResourceProvider<SecretValueInputs, SecretValueOutputs> = {
  check: async (_olds: SecretValueInputs, news: SecretValueInputs) => {
    const failures: { property: string; reason: string }[] = [];
    if (!Number.isInteger(news.bytes) || news.bytes < 16 || news.bytes > 256) {
      failures.push({ property: "bytes", reason: "must be a whole number of bytes from 16 to 256" });
    }
    if (news.encoding !== "hex" && news.encoding !== "base64url") {
      failures.push({ property: "encoding", reason: "must be hex or base64url" });
    }
    if (typeof news.rotation !== "string") failures.push({ property: "rotation", reason: "must be a string" });
    if (news.initial !== undefined && (typeof news.initial !== "string" || news.initial.length < 16)) {
      failures.push({ property: "initial", reason: "must be a string of at least 16 characters when set" });
    }
    return { inputs: news, failures };
  },

  create: async (inputs: SecretValueInputs) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const value = typeof inputs.initial === "string" && inputs.initial !== "" ? inputs.initial : nodeCrypto.randomBytes(inputs.bytes).toString(inputs.encoding);
    return {
      id: nodeCrypto.randomUUID(),
      outs: { bytes: inputs.bytes, encoding: inputs.encoding, rotation: inputs.rotation ?? "", value },
    };
  },

  // Never a replace. A new non-empty keeper is an update that regenerates (the value is then
  // unknown in a preview, so what depends on it shows as changing); a change of size or encoding
  // is an update that keeps the value; anything else (`initial`, a keeper removed) is no change.
  diff: async (_id: string, olds: SecretValueOutputs, news: SecretValueInputs) => {
    const keeper = news.rotation ?? "";
    const rotated = keeper !== "" && keeper !== (olds.rotation ?? "");
    const resized = olds.bytes !== news.bytes || olds.encoding !== news.encoding;
    return {
      changes: rotated || resized,
      replaces: [],
      stables: rotated ? [] : ["value"],
      deleteBeforeReplace: false,
    };
  },

  update: async (_id: string, olds: SecretValueOutputs, news: SecretValueInputs) => {
    const keeper = news.rotation ?? "";
    const previous = olds.rotation ?? "";
    const rotated = keeper !== "" && keeper !== previous;
    let value = olds.value;
    if (rotated) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nodeCrypto: typeof import("crypto") = require("crypto");
      value = nodeCrypto.randomBytes(news.bytes).toString(news.encoding);
    }
    return { outs: { bytes: news.bytes, encoding: news.encoding, rotation: rotated ? keeper : previous, value } };
  },

  read: async (id: string, props?: SecretValueOutputs) => {
    return { id, props };
  },
};
