import type * as k8s from "@pulumi/kubernetes";
import type { PodSecurityLevel } from "../../config";
import { standardLabels } from "./labels";

/**
 * Pod Security admission labels: `enforce` at the given level; `warn` and `audit` always at
 * restricted, so anything short of it is visible.
 */
export function podSecurityLabels(enforce: PodSecurityLevel): Record<string, string> {
  return {
    "pod-security.kubernetes.io/enforce": enforce,
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
  };
}

export type NamespaceRole = "workloads" | "executors";

export function namespaceLabels(role: NamespaceRole, enforce: PodSecurityLevel, instance: string): Record<string, string> {
  return { ...standardLabels("agent-platform", role, instance), ...podSecurityLabels(enforce) };
}

export function namespaceArgs(name: string, role: NamespaceRole, enforce: PodSecurityLevel, instance: string): k8s.core.v1.NamespaceArgs {
  return { metadata: { name, labels: namespaceLabels(role, enforce, instance) } };
}
