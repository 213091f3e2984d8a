import type * as pulumi from "@pulumi/pulumi";
import { externalServiceConfig, externalServiceSecretEnv, workloadBasics, workloadLabels, workloadSelector, type ExternalServiceSecrets, type ExternalServices, type WorkloadBasics, type WorkloadSpec } from "./workload";

export const COMMAND_CENTER_PORT = 3000;
export const COMMAND_CENTER_UID = 1000;

const IDENTITY = { app: "command-center", component: "command-center" } as const;
/** The labels of the command center's pods, and the subset that selects them. */
export const commandCenterLabels = (instance: string) => workloadLabels({ ...IDENTITY, instance });
export const commandCenterSelector = (instance: string) => workloadSelector({ ...IDENTITY, instance });

export interface CommandCenterSettings extends ExternalServices, WorkloadBasics {
  publicUrl: string;
  /** Where the command center reaches the engine (engineUrl). */
  engineUrl: string;
  secrets: ExternalServiceSecrets & { engineApiKey: pulumi.Input<string>; authSecret: pulumi.Input<string> };
}

/** The command center UI as a workload: BASE_URL is the public URL; no API token. */
export function commandCenterWorkload(s: CommandCenterSettings): WorkloadSpec {
  const config: Record<string, string> = {
    NODE_ENV: "production",
    PORT: String(COMMAND_CENTER_PORT),
    BASE_URL: s.publicUrl,
    ENGINE_URL: s.engineUrl,
    ...externalServiceConfig(s),
  };
  const v = s.secrets;
  return {
    ...IDENTITY,
    ...workloadBasics(s),
    port: COMMAND_CENTER_PORT,
    uid: COMMAND_CENTER_UID,
    config,
    secretEnv: {
      ENGINE_API_KEY: v.engineApiKey,
      AUTH_SECRET: v.authSecret,
      ...externalServiceSecretEnv(v),
    },
  };
}
