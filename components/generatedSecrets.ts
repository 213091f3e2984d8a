import * as pulumi from "@pulumi/pulumi";
import type { GeneratedSecretName } from "../config";
import { secretValueProvider, type SecretEncoding } from "./secretValueProvider";

export interface GeneratedSecretValueArgs {
  bytes: pulumi.Input<number>;
  encoding: pulumi.Input<SecretEncoding>;
  rotation: pulumi.Input<string>;
}

/** One generated value, kept in state (encrypted) and never regenerated except by rotation. */
export class GeneratedSecretValue extends pulumi.dynamic.Resource {
  // `declare`: a class field would be re-initialized after super() and hide the output.
  declare public readonly value: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretValueArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      secretValueProvider,
      name,
      { ...args, value: undefined },
      { ...opts, additionalSecretOutputs: ["value"] },
      "agent-platform",
      "GeneratedSecretValue",
    );
  }
}

/** Size and alphabet of each value, chosen for what the engine does with it. */
export const SECRET_SHAPES: Record<GeneratedSecretName, { bytes: number; encoding: SecretEncoding; role: string }> = {
  // URL-safe, so it can go into a connection string unescaped.
  postgresPassword: { bytes: 32, encoding: "base64url", role: "postgres-password" },
  // 256-bit keys for AES-256, as 64 hex characters.
  credentialEncryptionKey: { bytes: 32, encoding: "hex", role: "credential-encryption-key" },
  engineApiKey: { bytes: 32, encoding: "base64url", role: "engine-api-key" },
  authSecret: { bytes: 48, encoding: "base64url", role: "auth-secret" },
  logEncryptionKey: { bytes: 32, encoding: "hex", role: "log-encryption-key" },
};

export interface GeneratedSecretsArgs {
  /** Hand-set values from stack config; each one wins over its generated value. */
  overrides: Partial<Record<GeneratedSecretName, pulumi.Input<string>>>;
  /** Rotation keepers ("" = never rotated). */
  rotation: Record<GeneratedSecretName, string>;
}

/**
 * The five secrets the engine needs. Each is generated once by a protected GeneratedSecretValue;
 * a hand-set value wins, but the generator stays, so switching back and forth loses nothing.
 */
export class GeneratedSecrets extends pulumi.ComponentResource {
  public readonly values: Record<GeneratedSecretName, pulumi.Output<string>>;
  /**
   * Key of the rollout-checksum HMAC (builders/security.ts): the generated auth secret, which is
   * random and in state whether or not the operator hand-set the auth secret. Secret.
   */
  public readonly checksumKey: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:GeneratedSecrets", name, {}, opts);
    const values = {} as Record<GeneratedSecretName, pulumi.Output<string>>;
    let checksumKey: pulumi.Output<string> | undefined;
    for (const key of Object.keys(SECRET_SHAPES) as GeneratedSecretName[]) {
      const shape = SECRET_SHAPES[key];
      const generated = new GeneratedSecretValue(
        `${name}-${shape.role}`,
        { bytes: shape.bytes, encoding: shape.encoding, rotation: args.rotation[key] },
        // protect: losing the credential encryption key loses every stored credential.
        { parent: this, protect: true },
      );
      if (key === "authSecret") checksumKey = pulumi.secret(generated.value);
      const override = args.overrides[key];
      values[key] = pulumi.secret(override !== undefined ? pulumi.output(override) : generated.value);
    }
    this.values = values;
    this.checksumKey = checksumKey!;
    this.registerOutputs({});
  }
}
