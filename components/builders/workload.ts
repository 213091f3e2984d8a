import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../config";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Env entries that read each key of a ConfigMap (configMapKeyRef), one per key, in key order. */
export function envFromConfigMap(configMapName: k8s.types.input.core.v1.ConfigMapKeySelector["name"], keys: string[]): EnvVar[] {
  return [...keys].sort().map((key) => ({ name: key, valueFrom: { configMapKeyRef: { name: configMapName, key } } }));
}

/** Env entries that read each key of a Secret (secretKeyRef): secret values never appear literally in a pod spec. */
export function envFromSecret(secretName: k8s.types.input.core.v1.SecretKeySelector["name"], keys: string[]): EnvVar[] {
  return [...keys].sort().map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: secretName, key } } }));
}

export function resources(spec: ResourceSpec): k8s.types.input.core.v1.ResourceRequirements {
  return { requests: { ...spec.requests }, limits: { ...spec.limits } };
}

export function clusterIpService(
  name: string,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  selector: Record<string, string>,
  port: number,
  portName: string,
): k8s.core.v1.ServiceArgs {
  return {
    metadata: { name, namespace, labels },
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: portName, port, targetPort: portName, protocol: "TCP" }],
    },
  };
}

export function configMapArgs(
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  data: Record<string, string>,
): k8s.core.v1.ConfigMapArgs {
  return { metadata: { namespace, labels }, data };
}

export function opaqueSecretArgs(
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  data: k8s.types.input.core.v1.Secret["data"],
): k8s.core.v1.SecretArgs {
  return { metadata: { namespace, labels }, type: "Opaque", data };
}
