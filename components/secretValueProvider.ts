// The dynamic provider behind GeneratedSecretValue (see generatedSecrets.ts).
//
// Pulumi serializes this object (its functions and everything they capture) into the state and
// runs it in a separate process, so it captures nothing from this module: the only import is a
// type-only one (erased), and node's crypto is required inside the function that needs it.
import type * as pulumi from "@pulumi/pulumi";

export type SecretEncoding = "hex" | "base64url";

export interface SecretValueInputs {
  /** Entropy in bytes. */
  bytes: number;
  encoding: SecretEncoding;
  /** Keeper: only a change here replaces the resource, i.e. regenerates the value. */
  rotation: string;
}

export interface SecretValueOutputs extends SecretValueInputs {
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
    return { inputs: news, failures };
  },

  create: async (inputs: SecretValueInputs) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const value = nodeCrypto.randomBytes(inputs.bytes).toString(inputs.encoding);
    return {
      id: nodeCrypto.randomUUID(),
      outs: { bytes: inputs.bytes, encoding: inputs.encoding, rotation: inputs.rotation, value },
    };
  },

  // The value never changes on an update: a change of size or encoding (a refactor) is recorded
  // but keeps the existing value; only a new `rotation` keeper replaces (regenerates) it.
  diff: async (_id: string, olds: SecretValueOutputs, news: SecretValueInputs) => {
    const rotated = (olds.rotation ?? "") !== (news.rotation ?? "");
    const changed = rotated || olds.bytes !== news.bytes || olds.encoding !== news.encoding;
    return {
      changes: changed,
      replaces: rotated ? ["rotation"] : [],
      stables: rotated ? [] : ["value"],
      deleteBeforeReplace: false,
    };
  },

  update: async (_id: string, olds: SecretValueOutputs, news: SecretValueInputs) => {
    return { outs: { bytes: news.bytes, encoding: news.encoding, rotation: news.rotation, value: olds.value } };
  },

  read: async (id: string, props?: SecretValueOutputs) => {
    return { id, props };
  },
};
