import type { Provider as AwsProvider } from "@pulumi/aws/provider";
// aws.ecr.getAuthorizationTokenOutput, imported from its own module (see index.ts on load time).
import { getAuthorizationTokenOutput } from "@pulumi/aws/ecr/getAuthorizationToken";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { RegistrySettings } from "../config";
import { PULL_SECRET_COMPONENT, dockerConfigJson, parseEcrAuthorizationToken, pullSecretArgs, pullSecretName, toSecretData } from "./builders/registry";

export interface RegistryPullSecretArgs {
  instanceName: string;
  registry: RegistrySettings;
  /** Every namespace whose pods pull from the registry (role -> namespace). */
  namespaces: Record<string, pulumi.Input<string>>;
  /** static mode: the registry password. */
  password?: pulumi.Input<string>;
  /** ecr mode: the explicit AWS provider the token is requested through. */
  awsProvider?: AwsProvider;
}

/**
 * A `kubernetes.io/dockerconfigjson` Secret, one copy per namespace. ecr: a fresh token from
 * `aws.ecr.getAuthorizationToken` on every `up` (about 12 h valid; its expiry is an output);
 * static: server, user, password; none: nothing is created.
 */
export class RegistryPullSecret extends pulumi.ComponentResource {
  /** The Secret name pods reference, or undefined in none mode. */
  public readonly secretName: string | undefined;
  /** ISO time the ECR token expires; undefined outside ecr mode. */
  public readonly expiresAt: pulumi.Output<string | undefined>;
  /** The .dockerconfigjson document (secret). */
  public readonly dockerConfigJson: pulumi.Output<string | undefined>;

  constructor(name: string, args: RegistryPullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PULL_SECRET_COMPONENT, name, {}, opts);
    const reg = args.registry;
    let json: pulumi.Output<string> | undefined;
    let expiresAt: pulumi.Output<string | undefined> = pulumi.output(undefined);
    if (reg.mode === "ecr") {
      if (!args.awsProvider) {
        throw new pulumi.ResourceError("registryMode ecr needs an explicit aws provider (index.ts builds it from registryRegion)", this);
      }
      const token = getAuthorizationTokenOutput(
        reg.registryId ? { registryId: reg.registryId } : {},
        { provider: args.awsProvider, parent: this },
      );
      // secret() first, so the document is born secret (one derived Output, no plain intermediate).
      json = pulumi.secret(token.authorizationToken).apply((t) => dockerConfigJson(reg.host, parseEcrAuthorizationToken(t)));
      expiresAt = token.expiresAt;
    } else if (reg.mode === "static") {
      if (args.password === undefined) {
        throw new pulumi.ResourceError("registryMode static needs agent-platform:registryPassword (set it with --secret)", this);
      }
      json = pulumi.secret(args.password).apply((password) => dockerConfigJson(reg.host, { username: reg.username, password }));
    }
    if (json !== undefined) {
      const document = json;
      for (const [role, namespace] of Object.entries(args.namespaces)) {
        const data = document.apply((j) => toSecretData({ ".dockerconfigjson": j }));
        new k8s.core.v1.Secret(`${name}-${role}`, pullSecretArgs(pullSecretName(args.instanceName), namespace, args.instanceName, data), {
          parent: this,
        });
      }
      this.secretName = pullSecretName(args.instanceName);
    } else {
      this.secretName = undefined;
    }
    this.expiresAt = expiresAt;
    this.dockerConfigJson = json ?? pulumi.output(undefined);
    // Nothing registered here: the expiry is a stack output, and a failed token must fail the
    // Secrets that need it, not this component's bookkeeping.
    this.registerOutputs({});
  }
}
