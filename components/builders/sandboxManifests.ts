// Every object the executor sandbox adds, in an order `kubectl apply` can take them in.
import {
  executorMutatingBinding,
  executorMutatingPolicy,
  executorValidatingBinding,
  executorValidatingPolicy,
  type MutatingAdmissionPolicyBindingManifest,
  type MutatingAdmissionPolicyManifest,
  type ValidatingAdmissionPolicyBindingManifest,
  type ValidatingAdmissionPolicyManifest,
} from "./admissionPolicy";
import { engineNetworkPolicies, type NetworkPolicyManifest, sandboxNetworkPolicies } from "./networkPolicy";
import {
  type LimitRangeManifest,
  type NamespaceManifest,
  type ResourceQuotaManifest,
  sandboxDefaultServiceAccountPatch,
  sandboxLimitRange,
  sandboxNamespace,
  sandboxResourceQuota,
  type ServiceAccountManifest,
} from "./sandbox";
import { isSharedNamespace, type SandboxSettings } from "./sandboxSettings";

export type SandboxManifest =
  | NamespaceManifest
  | LimitRangeManifest
  | ResourceQuotaManifest
  | ServiceAccountManifest
  | NetworkPolicyManifest
  | ValidatingAdmissionPolicyManifest
  | ValidatingAdmissionPolicyBindingManifest
  | MutatingAdmissionPolicyManifest
  | MutatingAdmissionPolicyBindingManifest;

/**
 * The sandbox namespace and its controls, then the engine namespace's NetworkPolicies. In the
 * shared mode (executors in the engine namespace) only NetworkPolicies: a LimitRange, a quota,
 * a default-account patch or a pod policy there would also bind the engine, command center and
 * postgres (docs/sandbox.md says which protections that mode lacks).
 */
export function sandboxManifests(s: SandboxSettings): SandboxManifest[] {
  if (isSharedNamespace(s)) return [...engineNetworkPolicies(s), ...sandboxNetworkPolicies(s)];
  const out: SandboxManifest[] = [
    sandboxNamespace(s),
    sandboxDefaultServiceAccountPatch(s),
    sandboxLimitRange(s),
    sandboxResourceQuota(s),
    ...sandboxNetworkPolicies(s),
    ...engineNetworkPolicies(s),
  ];
  const map = executorMutatingPolicy(s);
  const mapBinding = executorMutatingBinding(s);
  if (map && mapBinding) out.push(map, mapBinding);
  out.push(executorValidatingPolicy(s), executorValidatingBinding(s));
  return out;
}
