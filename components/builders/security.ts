import type * as k8s from "@pulumi/kubernetes";
import { createHmac } from "crypto";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;

/** Pod-level defaults that satisfy Pod Security `restricted`: non-root, fixed ids, RuntimeDefault seccomp. */
export function podSecurityContext(uid: number, gid: number): PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    fsGroup: gid,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * The pod-level settings every workload we own shares: no API token unless the pod talks to
 * the API server (the engine does), no legacy service-link env vars, the restricted pod
 * security context, and the pull secret when there is one. One place, so no pod forgets one.
 */
export function hardenedPodBase(opts: { uid: number; mountApiToken: boolean; imagePullSecretName?: string }) {
  return {
    automountServiceAccountToken: opts.mountApiToken,
    enableServiceLinks: false,
    securityContext: podSecurityContext(opts.uid, opts.uid),
    imagePullSecrets: opts.imagePullSecretName ? [{ name: opts.imagePullSecretName }] : undefined,
  };
}

/** Container-level hardening: no privilege escalation, no capabilities, read-only root filesystem. */
export function containerSecurityContext(uid: number, gid: number): SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * A stable digest of a workload's ConfigMap and Secret data, put on the pod template so that any
 * change to either rolls the pods. Keys are sorted so the digest does not depend on object order.
 *
 * It is an HMAC-SHA256 keyed with a generated random value (GeneratedSecrets.checksumKey), not a
 * bare hash: the annotation can then stay a plain (non-secret) value, so the Deployment's spec is
 * not marked secret and previews show real diffs, while a weak hand-set password still cannot be
 * guessed offline from the annotation.
 */
export function configChecksum(parts: Record<string, Record<string, string>>, key: string): string {
  if (key.length < 16) throw new Error("configChecksum needs a random key of at least 16 characters");
  const canonical = Object.keys(parts)
    .sort()
    .map((p) => [p, Object.keys(parts[p]).sort().map((k) => [k, parts[p][k]])]);
  return createHmac("sha256", key).update(JSON.stringify(canonical)).digest("hex");
}

export const CHECKSUM_ANNOTATION = "agent-platform.io/config-checksum";

