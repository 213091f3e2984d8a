// NetworkPolicies for the executor sandbox and for the engine namespace.
//
// Sandbox: executor pods accept nothing (the engine attaches through the API server and the
// kubelet, not the pod network) and reach only cluster DNS and the egress allow-list.
// Engine namespace: ingress is deny-by-default; postgres accepts the engine and the command
// center (and the backup job's pods when backups are on; no postgres policy with an external database: there are no postgres pods), the engine
// accepts the command center and configured sources, the command center accepts configured
// sources; with ServiceMonitors, each metrics port accepts `metricsIngressFrom` (Prometheus).
// Egress there stays open (see docs/sandbox.md): the engine must reach the API server, model
// providers, Elasticsearch and an external database at addresses no policy can know.
import { commandCenterSelector, COMMAND_CENTER_PORT } from "./commandCenter";
import { engineSelector, ENGINE_PORT } from "./engine";
import { type Labels, PART_OF } from "./labels";
import { postgresSelector, POSTGRES_PORT } from "./postgres";
import { backupSelector } from "./postgresBackup";
import { type ObjectMeta, sandboxLabels } from "./sandbox";
import { type EgressAllowEntry, type IngressSource, isSharedNamespace, type NetworkProtocol, type SandboxSettings } from "./sandboxSettings";

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicyPort {
  protocol: NetworkProtocol;
  port?: number;
  endPort?: number;
}

export interface NetworkPolicyManifest {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: ObjectMeta;
  spec: {
    podSelector: LabelSelector;
    policyTypes: ("Ingress" | "Egress")[];
    ingress?: { from: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
    egress?: { to: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  };
}

export const DNS_PORT = 53;

function policy(name: string, namespace: string, instance: string, spec: NetworkPolicyManifest["spec"]): NetworkPolicyManifest {
  return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace, labels: sandboxLabels(instance) }, spec };
}

/** Egress rules every executor pod gets: cluster DNS on 53 (UDP and TCP), then the allow-list. */
export function executorEgressRules(s: SandboxSettings): NonNullable<NetworkPolicyManifest["spec"]["egress"]> {
  const dns = {
    to: [{ namespaceSelector: { matchLabels: { ...s.dns.namespaceLabels } }, podSelector: { matchLabels: { ...s.dns.podLabels } } }],
    ports: [
      { protocol: "UDP" as const, port: DNS_PORT },
      { protocol: "TCP" as const, port: DNS_PORT },
    ],
  };
  return [dns, ...s.egressAllow.map(allowRule)];
}

function allowRule(e: EgressAllowEntry): { to: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] } {
  const ipBlock = e.except.length > 0 ? { cidr: e.cidr, except: [...e.except] } : { cidr: e.cidr };
  // No `ports` at all means every port; an empty list would mean the same, so leave it out.
  if (e.ports.length === 0) return { to: [{ ipBlock }] };
  return {
    to: [{ ipBlock }],
    ports: e.ports.map((p) => (p.endPort !== undefined ? { protocol: p.protocol, port: p.port, endPort: p.endPort } : { protocol: p.protocol, port: p.port })),
  };
}

/**
 * The executor pods' selector. In a sandbox namespace: every pod. In the shared mode: every
 * pod that is not one of ours (ours carry app.kubernetes.io/part-of=agent-platform).
 */
export function executorPodSelector(s: SandboxSettings): LabelSelector {
  return isSharedNamespace(s) ? { matchExpressions: [{ key: "app.kubernetes.io/part-of", operator: "NotIn", values: [PART_OF] }] } : {};
}

/**
 * Sandbox namespace: one policy isolating every pod for ingress and egress with no ingress
 * rule at all, and one allowing the egress rules. In the shared mode only the egress policy,
 * for executor pods; the engine namespace's default-deny covers their ingress.
 */
export function sandboxNetworkPolicies(s: SandboxSettings): NetworkPolicyManifest[] {
  const ns = s.executorNamespace;
  const egress = policy(`${s.instance}-executor-egress`, ns, s.instance, {
    podSelector: executorPodSelector(s),
    policyTypes: ["Egress"],
    egress: executorEgressRules(s),
  });
  if (isSharedNamespace(s)) return [egress];
  const denyAll = policy(`${s.instance}-executor-deny-all`, ns, s.instance, {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
  });
  return [denyAll, egress];
}

export function ingressPeer(src: IngressSource): NetworkPolicyPeer {
  if ("cidr" in src) return { ipBlock: src.except && src.except.length > 0 ? { cidr: src.cidr, except: [...src.except] } : { cidr: src.cidr } };
  return src.podLabels
    ? { namespaceSelector: { matchLabels: { ...src.namespaceLabels } }, podSelector: { matchLabels: { ...src.podLabels } } }
    : { namespaceSelector: { matchLabels: { ...src.namespaceLabels } } };
}

/**
 * Engine namespace: deny all ingress, then allow exactly postgres <- engine and command center,
 * engine <- command center and `engineIngressFrom`, command center <- `commandCenterIngressFrom`.
 * A rule's `from` is never empty: an empty `from` would admit every source.
 */
export function engineNetworkPolicies(s: SandboxSettings): NetworkPolicyManifest[] {
  const ns = s.engineNamespace;
  const tcp = (port: number): NetworkPolicyPort[] => [{ protocol: "TCP", port }];
  const out: NetworkPolicyManifest[] = [
    policy(`${s.instance}-default-deny-ingress`, ns, s.instance, { podSelector: {}, policyTypes: ["Ingress"] }),
    ...(s.inClusterPostgres === false
      ? []
      : [
          policy(`${s.instance}-postgres-ingress`, ns, s.instance, {
            podSelector: { matchLabels: postgresSelector(s.instance) },
            policyTypes: ["Ingress"],
            ingress: [
              {
                from: [
                  { podSelector: { matchLabels: engineSelector(s.instance) } },
                  { podSelector: { matchLabels: commandCenterSelector(s.instance) } },
                  // The backup CronJob's pods (and the restore Jobs made from it) dump and restore over the network.
                  ...(s.postgresBackup ? [{ podSelector: { matchLabels: backupSelector(s.instance) } }] : []),
                ],
                ports: tcp(POSTGRES_PORT),
              },
            ],
          }),
        ]),
    policy(`${s.instance}-engine-ingress`, ns, s.instance, {
      podSelector: { matchLabels: engineSelector(s.instance) },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: commandCenterSelector(s.instance) } }, ...s.engineIngressFrom.map(ingressPeer)],
          ports: tcp(ENGINE_PORT),
        },
      ],
    }),
  ];
  if (s.commandCenterIngressFrom.length > 0) {
    out.push(
      policy(`${s.instance}-command-center-ingress`, ns, s.instance, {
        podSelector: { matchLabels: commandCenterSelector(s.instance) },
        policyTypes: ["Ingress"],
        ingress: [{ from: s.commandCenterIngressFrom.map(ingressPeer), ports: tcp(COMMAND_CENTER_PORT) }],
      }),
    );
  }
  return [...out, ...metricsNetworkPolicies(s)];
}

/**
 * With ServiceMonitors: each workload's metrics port accepts `metricsIngressFrom` and nothing
 * else; none when that list is empty (an empty `from` would admit every source). When metrics
 * share the app port, that port is what Prometheus gets (a NetworkPolicy cannot tell paths apart).
 */
export function metricsNetworkPolicies(s: SandboxSettings): NetworkPolicyManifest[] {
  const m = s.metricsIngress;
  if (m === undefined || m.from.length === 0) return [];
  const targets: [role: string, selector: Labels, port: number][] = [
    ["engine", engineSelector(s.instance), m.enginePort],
    ["command-center", commandCenterSelector(s.instance), m.commandCenterPort],
  ];
  return targets.map(([role, selector, port]) =>
    policy(`${s.instance}-${role}-metrics-ingress`, s.engineNamespace, s.instance, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [{ from: m.from.map(ingressPeer), ports: [{ protocol: "TCP", port }] }],
    }),
  );
}
