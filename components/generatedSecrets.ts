import * as pulumi from "@pulumi/pulumi";
import { GENERATED_SECRET_DECLARATIONS, GENERATED_SECRET_NAMES, type GeneratedSecretName } from "../config";
import { secretValueProvider, type SecretEncoding } from "./secretValueProvider";

export interface GeneratedSecretValueArgs {
  bytes: pulumi.Input<number>;
  encoding: pulumi.Input<SecretEncoding>;
  rotation: pulumi.Input<string>;
  /** The value to create with instead of a random one (only at creation; see secretValueProvider.ts). */
  initial?: pulumi.Input<string>;
}

/**
 * One generated value, kept in state (encrypted) and never regenerated except by rotation: a new
 * non-empty `rotation` keeper, which is an in-place update (secretValueProvider.ts).
 */
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

export interface GeneratedSecretsArgs {
  /** Hand-set values from stack config; each one wins over its generated value. */
  overrides: Partial<Record<GeneratedSecretName, pulumi.Input<string>>>;
  /** Rotation keepers ("" = never rotated; `npm run platform -- rotate-secret` sets them). */
  rotation: Record<GeneratedSecretName, string>;
}

/** Size of the rollout-checksum key: as the auth secret it starts from. */
const ROLLOUT_KEY = { bytes: 48, encoding: "base64url" } as const;

/**
 * The five secrets the engine needs. Each is generated once by a protected GeneratedSecretValue;
 * a hand-set value wins, but the generator stays, so switching back and forth loses nothing.
 */
export class GeneratedSecrets extends pulumi.ComponentResource {
  public readonly values: Record<GeneratedSecretName, pulumi.Output<string>>;
  /**
   * Key of the rollout-checksum HMAC (builders/security.ts), secret. Its own generated value, so
   * that rotating any of the five rolls only the pods that use it. It starts from the generated
   * auth secret's value (the key stacks deployed before it used), so adding it rolls no pod, and
   * it never rotates.
   */
  public readonly checksumKey: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:GeneratedSecrets", name, {}, opts);
    const generated = {} as Record<GeneratedSecretName, GeneratedSecretValue>;
    const values = {} as Record<GeneratedSecretName, pulumi.Output<string>>;
    for (const key of GENERATED_SECRET_NAMES) {
      const { bytes, encoding, role } = GENERATED_SECRET_DECLARATIONS[key].generated;
      generated[key] = new GeneratedSecretValue(
        `${name}-${role}`,
        { bytes, encoding, rotation: args.rotation[key] },
        // protect: losing the credential encryption key loses every stored credential.
        { parent: this, protect: true },
      );
      const override = args.overrides[key];
      values[key] = pulumi.secret(override !== undefined ? pulumi.output(override) : generated[key].value);
    }
    this.values = values;
    // Not protected: losing it only rolls every pod once, and it is created again from the auth secret.
    const rolloutKey = new GeneratedSecretValue(
      `${name}-rollout-key`,
      { ...ROLLOUT_KEY, rotation: "", initial: pulumi.secret(generated.authSecret.value) },
      { parent: this },
    );
    this.checksumKey = pulumi.secret(rolloutKey.value);
    this.registerOutputs({});
  }
}
