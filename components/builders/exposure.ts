// The way in to the command center: an Ingress (TLS from an existing Secret or from cert-manager)
// or a Gateway API HTTPRoute attached to a configured Gateway. Host and path come from publicUrl.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import type { Exposure } from "./production";

export const CERT_MANAGER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer";
/**
 * The Kubernetes provider otherwise waits (up to 10 minutes) for an ingress controller to publish
 * an address in the Ingress's status; some controllers never do, and nothing in the stack needs the
 * address. `up` finishes once the API server has accepted the Ingress.
 */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

export interface ExposureTarget {
  /** `<instance>-command-center`: the Service and the name of the Ingress/HTTPRoute. */
  name: string;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  servicePort: number;
}

export function ingressArgs(e: Extract<Exposure, { kind: "ingress" }>, t: ExposureTarget): k8s.networking.v1.IngressArgs {
  return {
    metadata: {
      name: t.name,
      namespace: t.namespace,
      labels: t.labels,
      annotations: { [SKIP_AWAIT_ANNOTATION]: "true", ...(e.tls?.clusterIssuer ? { [CERT_MANAGER_ISSUER_ANNOTATION]: e.tls.clusterIssuer } : {}) },
    },
    spec: {
      ingressClassName: e.className,
      ...(e.tls ? { tls: [{ hosts: [e.host], secretName: e.tls.secretName }] } : {}),
      rules: [
        {
          host: e.host,
          http: { paths: [{ path: e.path, pathType: "Prefix", backend: { service: { name: t.name, port: { number: t.servicePort } } } }] },
        },
      ],
    },
  };
}

/** The HTTPRoute as a CustomResource's arguments (gateway.networking.k8s.io/v1). */
export function httpRouteArgs(e: Extract<Exposure, { kind: "httpRoute" }>, t: ExposureTarget) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: t.name, namespace: t.namespace, labels: t.labels },
    spec: {
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          namespace: e.parent.namespace,
          name: e.parent.name,
          ...(e.parent.sectionName ? { sectionName: e.parent.sectionName } : {}),
        },
      ],
      hostnames: [e.host],
      rules: [{ matches: [{ path: { type: "PathPrefix", value: e.path } }], backendRefs: [{ name: t.name, port: t.servicePort }] }],
    },
  };
}
