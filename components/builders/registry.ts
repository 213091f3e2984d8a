import type * as k8s from "@pulumi/kubernetes";
import { standardLabels } from "./labels";

/** The pull secret component's type token (the CLI finds the pull secrets in the state by it). */
export const PULL_SECRET_COMPONENT = "agent-platform:index:RegistryPullSecret";

/** `<instance>-registry`: the pull secret, one copy in every namespace whose pods pull. */
export const pullSecretName = (instance: string) => `${instance}-registry`;

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The `.dockerconfigjson` document kubelet reads (the shape `kubectl create secret docker-registry` writes). */
export function dockerConfigJson(server: string, creds: RegistryCredentials): string {
  const auth = Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64");
  return JSON.stringify({ auths: { [server]: { username: creds.username, password: creds.password, auth } } });
}

export class EcrTokenError extends Error {
  constructor(detail: string) {
    super(
      `ECR returned an unusable authorization token (${detail}). Check the registry AWS credentials, ` +
        `agent-platform:registryRegion and agent-platform:registryId, or run ` +
        `'aws ecr get-login-password --region <region>' with the same credentials to see the AWS error.`,
    );
    this.name = "EcrTokenError";
  }
}

/** Decodes ECR's authorizationToken (base64 of "AWS:<password>"); throws EcrTokenError when it is empty or malformed. */
export function parseEcrAuthorizationToken(token: string | undefined | null): RegistryCredentials {
  if (token === undefined || token === null || token.trim() === "") throw new EcrTokenError("the token is empty");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token.trim())) throw new EcrTokenError("the token is not base64");
  const decoded = Buffer.from(token.trim(), "base64").toString("utf8");
  const sep = decoded.indexOf(":");
  if (sep <= 0) throw new EcrTokenError("the decoded token is not of the form user:password");
  const username = decoded.slice(0, sep);
  const password = decoded.slice(sep + 1);
  if (password === "") throw new EcrTokenError("the decoded token has an empty password");
  return { username, password };
}

export function pullSecretArgs(
  name: string,
  namespace: k8s.types.input.meta.v1.ObjectMeta["namespace"],
  instance: string,
  dockerConfigBase64: k8s.types.input.core.v1.Secret["data"],
): k8s.core.v1.SecretArgs {
  return {
    metadata: { name, namespace, labels: standardLabels("registry-pull-secret", "registry", instance) },
    type: "kubernetes.io/dockerconfigjson",
    data: dockerConfigBase64,
  };
}

/** base64 for a Secret's `data` (we never use stringData: `data` round-trips without a diff). */
export function toSecretData(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = Buffer.from(v, "utf8").toString("base64");
  return out;
}
