// Pulumi mocks for the unit tests. Import this module and call `setupMocks` BEFORE importing the
// program or a component: Pulumi's runtime is process-global, and vitest isolates each file.
//
// Besides the usual mocks (every resource recorded, invokes scripted per token, an unknown invoke
// throws), the mock monitor's registerResource is wrapped so tests also see what plain mocks hide:
// each resource's parent URN, `protect`, `retainOnDelete`, additionalSecretOutputs, and which
// input properties were sent as secrets.
import * as pulumi from "@pulumi/pulumi";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { secretValueProvider, type SecretValueInputs } from "../../components/secretValueProvider";

export const PROJECT = "agent-platform";
export const STACK = "dev";
export const ORGANIZATION = "organization";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export interface Registered {
  type: string;
  name: string;
  custom: boolean;
  /** The parent's URN ("" for none). */
  parent: string;
  /** The provider reference ("<urn>::<id>"), "" when the default provider would be used. */
  provider: string;
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  additionalSecretOutputs: string[];
  /** Plain input values (secrets unwrapped). */
  inputs: Record<string, unknown>;
  /** Dotted paths of inputs that were sent as secrets. */
  secretPaths: string[];
}

export interface InvokeCall {
  token: string;
  inputs: Record<string, unknown>;
}

export type InvokeScript = Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>>;

export const registered: Registered[] = [];
export const invokes: InvokeCall[] = [];

/** Replaces each serialized secret wrapper with its value. */
function unwrapSecrets(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  const obj = value as Record<string, unknown>;
  if (obj[SIG_KEY] === SECRET_SIG) return unwrapSecrets(obj.value);
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
}

function secretPathsOf(value: unknown, path: string, out: string[]): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => secretPathsOf(v, `${path}[${i}]`, out));
    return;
  }
  const obj = value as Record<string, unknown>;
  if (obj[SIG_KEY] === SECRET_SIG) {
    out.push(path);
    return;
  }
  for (const [k, v] of Object.entries(obj)) secretPathsOf(v, path ? `${path}.${k}` : k, out);
}

type Callback = (err: Error | null, resp?: unknown) => void;
interface MonitorLike {
  registerResource(req: RegisterResourceRequest, cb: Callback): void;
}

/** A name for an auto-named Kubernetes object, like the provider's `<name>-<suffix>`. */
function autoName(name: string): string {
  return `${name}-x1y2z3`;
}

export function setupMocks(
  config: Record<string, string>,
  opts: { secretKeys?: string[]; invokes?: InvokeScript } = {},
): void {
  const script = opts.invokes ?? {};
  void pulumi.runtime.setMocks(
    {
      async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, unknown> }> {
        const inputs = { ...(args.inputs as Record<string, unknown>) };
        if (args.type.startsWith("pulumi-nodejs:dynamic")) {
          // Run the real dynamic provider's create, as the engine would.
          // The engine hands a dynamic provider plain values (it accepts no secrets).
          const { __provider: _serialized, ...props } = unwrapSecrets(inputs) as Record<string, unknown>;
          const created = await secretValueProvider.create(props as unknown as SecretValueInputs);
          return { id: created.id, state: { ...created.outs } };
        }
        if (args.type.startsWith("kubernetes:") && !args.type.startsWith("kubernetes:index:") && typeof inputs.metadata === "object") {
          const metadata = { ...(inputs.metadata as Record<string, unknown>) };
          if (metadata.name === undefined) metadata.name = autoName(args.name);
          inputs.metadata = metadata;
        }
        return { id: args.custom === false ? "" : `${args.name}-id`, state: inputs };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        invokes.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
        const f = script[args.token];
        try {
          if (!f) throw new Error(`unexpected invoke ${args.token} (script it in the test)`);
          return f(args.inputs as Record<string, unknown>);
        } catch (e) {
          // The SDK reports an invoke failure from the gRPC error's `details`, as the engine sends it.
          throw Object.assign(new Error((e as Error).message), { details: (e as Error).message });
        }
      },
    },
    PROJECT,
    STACK,
    false,
    ORGANIZATION,
  );
  const full: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) full[k.includes(":") ? k : `${PROJECT}:${k}`] = v;
  const secretKeys = (opts.secretKeys ?? []).map((k) => (k.includes(":") ? k : `${PROJECT}:${k}`));
  pulumi.runtime.setAllConfig(full, secretKeys);

  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterResourceRequest, cb: Callback) => {
    const raw = req.getObject()?.toJavaScript() ?? {};
    const secretPaths: string[] = [];
    secretPathsOf(raw, "", secretPaths);
    const rec: Registered = {
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      parent: req.getParent(),
      provider: req.getProvider(),
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      inputs: {},
      secretPaths,
    };
    registered.push(rec);
    original(req, (err, resp) => {
      rec.inputs = unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject()!)) as Record<string, unknown>;
      cb(err, resp);
    });
  };
}

/** Resolves an Output's value (mocks run with preview=false, so values are known). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    o.apply((v) => {
      resolve(v);
      return v;
    });
  });
}

/** Waits until no new resource has been registered for a few event-loop turns. */
export async function settle(): Promise<void> {
  let seen = -1;
  let quiet = 0;
  while (quiet < 3) {
    await new Promise((r) => setTimeout(r, 20));
    if (registered.length === seen) quiet++;
    else {
      seen = registered.length;
      quiet = 0;
    }
  }
}

export function find(type: string, name: string): Registered {
  const r = registered.find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`no ${type} named ${name}; registered: ${registered.map((x) => `${x.type}/${x.name}`).join(", ")}`);
  return r;
}

export function ofType(type: string): Registered[] {
  return registered.filter((x) => x.type === type);
}
