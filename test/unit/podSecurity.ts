// A pure checker of the Pod Security Standards `restricted` profile (policy version latest,
// https://kubernetes.io/docs/concepts/security/pod-security-standards/), run over every pod spec
// the program produces. Returns one message per violation; [] means the spec passes.
type Obj = Record<string, unknown>;

const ALLOWED_VOLUME_TYPES = new Set([
  "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
]);
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
]);

const obj = (v: unknown): Obj => (v !== null && typeof v === "object" ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

export function restrictedViolations(podSpec: unknown): string[] {
  const spec = obj(podSpec);
  const out: string[] = [];
  const podSc = obj(spec.securityContext);
  const containers = [...arr(spec.initContainers), ...arr(spec.containers), ...arr(spec.ephemeralContainers)];
  if (containers.length === 0) out.push("no containers");

  // baseline
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[f] === true) out.push(`${f} must not be true`);
  for (const v of arr(spec.volumes)) {
    const types = Object.keys(v).filter((k) => k !== "name");
    for (const t of types) if (!ALLOWED_VOLUME_TYPES.has(t)) out.push(`volume ${String(v.name)} uses ${t}`);
  }
  for (const s of arr(podSc.sysctls)) if (!SAFE_SYSCTLS.has(String(s.name))) out.push(`unsafe sysctl ${String(s.name)}`);
  const podSeLinux = obj(podSc.seLinuxOptions);
  if (podSeLinux.user !== undefined || podSeLinux.role !== undefined) out.push("pod seLinuxOptions user/role set");
  if (podSc.runAsUser === 0) out.push("pod runAsUser is 0");
  const podSeccomp = obj(podSc.seccompProfile).type;
  if (podSeccomp !== undefined && podSeccomp !== "RuntimeDefault" && podSeccomp !== "Localhost") out.push(`pod seccomp ${String(podSeccomp)}`);

  for (const c of containers) {
    const n = `container ${String(c.name)}`;
    const sc = obj(c.securityContext);
    if (sc.privileged === true) out.push(`${n}: privileged`);
    for (const p of arr(c.ports)) if (p.hostPort !== undefined && p.hostPort !== 0) out.push(`${n}: hostPort ${String(p.hostPort)}`);
    if (sc.procMount !== undefined && sc.procMount !== "Default") out.push(`${n}: procMount ${String(sc.procMount)}`);
    const se = obj(sc.seLinuxOptions);
    if (se.user !== undefined || se.role !== undefined) out.push(`${n}: seLinuxOptions user/role set`);
    // restricted
    if (sc.allowPrivilegeEscalation !== false) out.push(`${n}: allowPrivilegeEscalation must be false`);
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(`${n}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) out.push(`${n}: runAsUser is 0`);
    const seccomp = obj(sc.seccompProfile).type ?? podSeccomp;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${n}: seccompProfile must be RuntimeDefault or Localhost`);
    const caps = obj(sc.capabilities);
    const drop = Array.isArray(caps.drop) ? (caps.drop as string[]) : [];
    if (!drop.includes("ALL")) out.push(`${n}: capabilities must drop ALL`);
    const add = Array.isArray(caps.add) ? (caps.add as string[]) : [];
    for (const a of add) {
      if (a !== "NET_BIND_SERVICE") out.push(`${n}: adds capability ${a}`);
      if (!BASELINE_CAPABILITIES.has(a)) out.push(`${n}: adds non-baseline capability ${a}`);
    }
  }
  return out;
}
