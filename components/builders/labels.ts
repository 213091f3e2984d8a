// Recommended Kubernetes labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
export const PART_OF = "agent-platform";
export const MANAGED_BY = "pulumi";

export type Labels = Record<string, string>;

/** Labels that select a workload's pods; they never change for the life of a Deployment. */
export function selectorLabels(appName: string, component: string, instance: string): Labels {
  return {
    "app.kubernetes.io/name": appName,
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/component": component,
  };
}

/** The full set of recommended labels on every object. */
export function standardLabels(appName: string, component: string, instance: string): Labels {
  return {
    ...selectorLabels(appName, component, instance),
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": MANAGED_BY,
  };
}
