import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  executorMutatingBinding,
  executorMutatingPolicy,
  executorValidatingBinding,
  executorValidatingPolicy,
} from "./builders/admissionPolicy";
import { engineNetworkPolicies, type NetworkPolicyManifest, sandboxNetworkPolicies } from "./builders/networkPolicy";
import { sandboxDefaultServiceAccountPatch, sandboxLimitRange, sandboxResourceQuota } from "./builders/sandbox";
import { isSharedNamespace, type SandboxSettings } from "./builders/sandboxSettings";

export interface SandboxArgs {
  /** Decided in config.ts (ValidatedConfig.sandbox). */
  settings: SandboxSettings;
  /** The engine namespace as the Namespaces component declares it: its objects wait for it. */
  engineNamespace: pulumi.Input<string>;
  /** The executor namespace as the Namespaces component declares it (the engine's in shared mode). */
  executorNamespace: pulumi.Input<string>;
}

/**
 * What the cluster enforces on the engine's executor pods (docs/sandbox.md). In a sandbox
 * namespace of their own: a LimitRange, a ResourceQuota, the namespace's default ServiceAccount
 * patched (no token, the pull secret), NetworkPolicies, a ValidatingAdmissionPolicy and, when a pod
 * default is configured, a MutatingAdmissionPolicy. In the shared mode only the NetworkPolicies:
 * anything else would bind the engine, command center and postgres too. The engine namespace's
 * NetworkPolicies are created in both modes. The namespace itself is the Namespaces component's.
 */
export class Sandbox extends pulumi.ComponentResource {
  constructor(name: string, args: SandboxArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-platform:index:Sandbox", name, {}, opts);
    const s = args.settings;
    const child = { parent: this };
    // The builders name the namespace as a string; the Namespaces component's Output carries the
    // dependency, so nothing is applied into a namespace that does not exist yet.
    const inNamespace = <T extends { metadata: { namespace?: string } }>(m: T, ns: pulumi.Input<string>) => ({ ...m, metadata: { ...m.metadata, namespace: ns } });
    const role = (m: NetworkPolicyManifest) => m.metadata.name.slice(`${s.instance}-`.length);

    for (const p of sandboxNetworkPolicies(s)) new k8s.networking.v1.NetworkPolicy(`${name}-${role(p)}`, inNamespace(p, args.executorNamespace), child);
    for (const p of engineNetworkPolicies(s)) new k8s.networking.v1.NetworkPolicy(`${name}-${role(p)}`, inNamespace(p, args.engineNamespace), child);

    if (isSharedNamespace(s)) {
      this.registerOutputs({});
      return;
    }

    new k8s.core.v1.LimitRange(`${name}-limit-range`, inNamespace(sandboxLimitRange(s), args.executorNamespace), child);
    new k8s.core.v1.ResourceQuota(`${name}-quota`, inNamespace(sandboxResourceQuota(s), args.executorNamespace), child);
    // Not ours: the controller-manager creates it with the namespace. Patched with server-side
    // apply; on delete only our fields go.
    new k8s.core.v1.ServiceAccountPatch(`${name}-default-service-account`, inNamespace(sandboxDefaultServiceAccountPatch(s), args.executorNamespace), child);

    const vap = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-validating-policy`, executorValidatingPolicy(s), child);
    const vapBinding = executorValidatingBinding(s);
    new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
      `${name}-validating-binding`,
      { ...vapBinding, spec: { ...vapBinding.spec, policyName: vap.metadata.name } },
      child,
    );

    const map = executorMutatingPolicy(s);
    const mapBinding = executorMutatingBinding(s);
    if (map !== undefined && mapBinding !== undefined) {
      // @pulumi/kubernetes 4.25.0 has no class for the v1 MutatingAdmissionPolicy (GA in Kubernetes
      // 1.36): a CustomResource carries any kind the API server serves. index.ts checks the
      // server's version before anything is registered.
      const policy = new k8s.apiextensions.CustomResource(`${name}-mutating-policy`, { ...map }, child);
      new k8s.apiextensions.CustomResource(`${name}-mutating-binding`, { ...mapBinding }, { ...child, dependsOn: [policy] });
    }
    this.registerOutputs({});
  }
}
