// Admission policies written in CEL (no webhook server) for pods in the sandbox namespace.
//
// Order on the API server (the kube-apiserver's admission chain): mutating plugins first, in
// which LimitRanger fills in default requests and limits and the ServiceAccount plugin sets
// serviceAccountName "default" and, if the account allows it, adds the token volume; then
// MutatingAdmissionPolicies; then validation (PodSecurity, ValidatingAdmissionPolicies,
// ResourceQuota). So the validating policy below judges the pod as it will be stored.
import type { Labels } from "./labels";
import { type ObjectMeta, sandboxLabels } from "./sandbox";
import type { ExecutorPodDefaults, SandboxSettings, Toleration } from "./sandboxSettings";
import { needsMutatingPolicy } from "./sandboxSettings";

export const ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1";

interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: ("CREATE" | "UPDATE" | "DELETE" | "CONNECT")[];
  resources: string[];
}

export interface Validation {
  expression: string;
  message?: string;
  messageExpression?: string;
  reason: "Forbidden" | "Invalid";
}

export interface ValidatingAdmissionPolicyManifest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "ValidatingAdmissionPolicy";
  metadata: ObjectMeta;
  spec: {
    failurePolicy: "Fail";
    matchConstraints: { resourceRules: ResourceRule[] };
    variables: { name: string; expression: string }[];
    validations: Validation[];
  };
}

export interface NamespaceMatch {
  namespaceSelector: { matchLabels: Labels };
}

export interface ValidatingAdmissionPolicyBindingManifest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "ValidatingAdmissionPolicyBinding";
  metadata: ObjectMeta;
  spec: { policyName: string; validationActions: ("Deny" | "Warn" | "Audit")[]; matchResources: NamespaceMatch };
}

export interface Mutation {
  patchType: "ApplyConfiguration" | "JSONPatch";
  applyConfiguration?: { expression: string };
  jsonPatch?: { expression: string };
}

export interface MutatingAdmissionPolicyManifest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "MutatingAdmissionPolicy";
  metadata: ObjectMeta;
  spec: {
    failurePolicy: "Fail";
    reinvocationPolicy: "Never" | "IfNeeded";
    matchConstraints: { resourceRules: ResourceRule[] };
    mutations: Mutation[];
  };
}

export interface MutatingAdmissionPolicyBindingManifest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "MutatingAdmissionPolicyBinding";
  metadata: ObjectMeta;
  spec: { policyName: string; matchResources: NamespaceMatch };
}

/** A CEL string literal (CEL accepts JSON's escapes). */
export const celString = (s: string): string => JSON.stringify(s);

/**
 * Cluster-scoped names: the instance and its sandbox namespace, so neither two instances sharing
 * one sandbox namespace nor two namespaces' instances of the same name collide.
 */
export const validatingPolicyName = (s: SandboxSettings) => `${s.instance}-${s.executorNamespace}-executor-pods`;
export const mutatingPolicyName = (s: SandboxSettings) => `${s.instance}-${s.executorNamespace}-executor-defaults`;

/** Matches the sandbox namespace by the label the API server sets on every namespace. */
const sandboxNamespaceMatch = (s: SandboxSettings): NamespaceMatch => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": s.executorNamespace } },
});

const podRule = (operations: ResourceRule["operations"]): ResourceRule => ({
  apiGroups: [""],
  apiVersions: ["v1"],
  operations,
  resources: ["pods"],
});

// Containers and init containers share a type; ephemeral containers have their own, so they are
// checked separately (they cannot be added by the engine, which has no pods/ephemeralcontainers
// verb, but the rules hold for them too).
const VARIABLES = [
  { name: "containers", expression: "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])" },
  { name: "ephemeral", expression: "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []" },
  { name: "images", expression: "variables.containers.map(c, c.image) + variables.ephemeral.map(c, c.image)" },
];

/** The checks, each with a message that says what was refused and why. */
export function executorPodValidations(s: SandboxSettings): Validation[] {
  const v: Validation[] = [];
  if (s.imageRegistry !== undefined) {
    const prefix = celString(`${s.imageRegistry}/`);
    v.push({
      expression: `variables.images.all(i, i.startsWith(${prefix}))`,
      messageExpression: `${celString(`executor images must come from ${s.imageRegistry}/; refused: `)} + variables.images.filter(i, !i.startsWith(${prefix})).join(", ")`,
      reason: "Forbidden",
    });
  }
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) {
    v.push({
      expression: `!has(object.spec.${f}) || !object.spec.${f}`,
      message: `executor pods may not set ${f}: it would share the node's ${f.slice(4)} namespace`,
      reason: "Forbidden",
    });
  }
  v.push({
    expression: "!has(object.spec.volumes) || object.spec.volumes.all(vol, !has(vol.hostPath))",
    message: "executor pods may not mount hostPath volumes (files of the node)",
    reason: "Forbidden",
  });
  const notPrivileged = "(!has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)";
  v.push({
    expression: `variables.containers.all(c, ${notPrivileged}) && variables.ephemeral.all(c, ${notPrivileged})`,
    message: "executor containers may not be privileged",
    reason: "Forbidden",
  });
  v.push({
    expression: "!has(object.spec.serviceAccountName) || object.spec.serviceAccountName == 'default'",
    messageExpression: "'executor pods run as the namespace default ServiceAccount; refused serviceAccountName: ' + object.spec.serviceAccountName",
    reason: "Forbidden",
  });
  v.push({
    expression: "!has(object.spec.automountServiceAccountToken) || !object.spec.automountServiceAccountToken",
    message: "executor pods may not mount a service-account token: automountServiceAccountToken must not be true",
    reason: "Forbidden",
  });
  // The ServiceAccount plugin has already run: if the account allowed automount, the token volume
  // is in the pod now; a hand-written projected token volume is caught the same way.
  v.push({
    expression:
      "!has(object.spec.volumes) || object.spec.volumes.all(vol, !has(vol.projected) || !has(vol.projected.sources) || vol.projected.sources.all(src, !has(src.serviceAccountToken)))",
    message: "executor pods may not mount a service-account token (a projected serviceAccountToken volume)",
    reason: "Forbidden",
  });
  v.push({
    expression: "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits)",
    message: "every executor container needs cpu and memory limits (the namespace LimitRange gives defaults to containers without any)",
    reason: "Invalid",
  });
  if (s.podDefaults.runtimeClassName !== undefined) {
    const rc = celString(s.podDefaults.runtimeClassName);
    v.push({
      expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName == ${rc}`,
      messageExpression: `${celString(`executor pods must run with runtimeClassName ${s.podDefaults.runtimeClassName}; got: `)} + (has(object.spec.runtimeClassName) ? object.spec.runtimeClassName : "(none)")`,
      reason: "Forbidden",
    });
  }
  return v;
}

export function executorValidatingPolicy(s: SandboxSettings): ValidatingAdmissionPolicyManifest {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: validatingPolicyName(s), labels: sandboxLabels(s.instance) },
    spec: {
      failurePolicy: "Fail",
      // UPDATE too: a pod's images can be changed in place.
      matchConstraints: { resourceRules: [podRule(["CREATE", "UPDATE"])] },
      variables: VARIABLES.map((x) => ({ ...x })),
      validations: executorPodValidations(s),
    },
  };
}

/** Deny; or Warn + Audit, a dry run that admits the pod and reports what would be refused. */
export function validationActions(action: SandboxSettings["admissionAction"]): ("Deny" | "Warn" | "Audit")[] {
  return action === "Deny" ? ["Deny"] : ["Warn", "Audit"];
}

export function executorValidatingBinding(s: SandboxSettings): ValidatingAdmissionPolicyBindingManifest {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: validatingPolicyName(s), labels: sandboxLabels(s.instance) },
    spec: {
      policyName: validatingPolicyName(s),
      validationActions: validationActions(s.admissionAction),
      matchResources: sandboxNamespaceMatch(s),
    },
  };
}

function celMap(m: Labels): string {
  return `{${Object.keys(m)
    .sort()
    .map((k) => `${celString(k)}: ${celString(m[k])}`)
    .join(", ")}}`;
}

/** Escapes a map key for a JSON Pointer path segment (RFC 6901: "~" as "~0", "/" as "~1"). */
export const jsonPointerToken = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

function celToleration(t: Toleration): string {
  const fields: string[] = [];
  if (t.key !== undefined) fields.push(`key: ${celString(t.key)}`);
  fields.push(`operator: ${celString(t.operator)}`);
  if (t.value !== undefined) fields.push(`value: ${celString(t.value)}`);
  if (t.effect !== undefined) fields.push(`effect: ${celString(t.effect)}`);
  if (t.tolerationSeconds !== undefined) fields.push(`tolerationSeconds: ${t.tolerationSeconds}`);
  return `Object.spec.tolerations{${fields.join(", ")}}`;
}

/** The mutations for the configured pod defaults ([] when none is set). */
export function executorPodMutations(d: ExecutorPodDefaults): Mutation[] {
  const out: Mutation[] = [];
  const apply = (expression: string): Mutation => ({ patchType: "ApplyConfiguration", applyConfiguration: { expression } });
  if (d.nodeSelector && Object.keys(d.nodeSelector).length > 0) {
    // nodeSelector is an atomic map, which an apply configuration may not change: JSON patches
    // add our keys (replacing the pod's value for the same key) or the whole map when it has none.
    const sel = d.nodeSelector;
    const perKey = Object.keys(sel)
      .sort()
      .map((k) => `JSONPatch{op: "add", path: ${celString(`/spec/nodeSelector/${jsonPointerToken(k)}`)}, value: ${celString(sel[k])}}`)
      .join(", ");
    const whole = `JSONPatch{op: "add", path: "/spec/nodeSelector", value: ${celMap(sel)}}`;
    out.push({ patchType: "JSONPatch", jsonPatch: { expression: `has(object.spec.nodeSelector) ? [${perKey}] : [${whole}]` } });
  }
  if (d.runtimeClassName !== undefined) {
    out.push(apply(`Object{spec: Object.spec{runtimeClassName: ${celString(d.runtimeClassName)}}}`));
  }
  if (d.activeDeadlineSeconds !== undefined) {
    const n = d.activeDeadlineSeconds;
    out.push(
      apply(
        `Object{spec: Object.spec{activeDeadlineSeconds: has(object.spec.activeDeadlineSeconds) && object.spec.activeDeadlineSeconds < ${n} ? object.spec.activeDeadlineSeconds : ${n}}}`,
      ),
    );
  }
  if (d.tolerations && d.tolerations.length > 0) {
    // tolerations is an atomic list: an apply configuration would replace the pod's own, so
    // they are appended with JSON patches instead.
    const items = d.tolerations.map(celToleration);
    const append = items.map((t) => `JSONPatch{op: "add", path: "/spec/tolerations/-", value: ${t}}`).join(", ");
    const create = `JSONPatch{op: "add", path: "/spec/tolerations", value: [${items.join(", ")}]}`;
    out.push({ patchType: "JSONPatch", jsonPatch: { expression: `has(object.spec.tolerations) ? [${append}] : [${create}]` } });
  }
  return out;
}

/** The mutating policy, or undefined when no pod default is configured. */
export function executorMutatingPolicy(s: SandboxSettings): MutatingAdmissionPolicyManifest | undefined {
  if (!needsMutatingPolicy(s)) return undefined;
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "MutatingAdmissionPolicy",
    metadata: { name: mutatingPolicyName(s), labels: sandboxLabels(s.instance) },
    spec: {
      failurePolicy: "Fail",
      reinvocationPolicy: "Never",
      matchConstraints: { resourceRules: [podRule(["CREATE"])] },
      mutations: executorPodMutations(s.podDefaults),
    },
  };
}

export function executorMutatingBinding(s: SandboxSettings): MutatingAdmissionPolicyBindingManifest | undefined {
  if (!needsMutatingPolicy(s)) return undefined;
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "MutatingAdmissionPolicyBinding",
    metadata: { name: mutatingPolicyName(s), labels: sandboxLabels(s.instance) },
    spec: { policyName: mutatingPolicyName(s), matchResources: sandboxNamespaceMatch(s) },
  };
}
