/**
 * Docker's legacy links. On the default bridge (HostConfig.Links, `--link name:alias`) a container
 * gets a hosts entry and environment variables for each linked container; on a user-defined network
 * (EndpointSettings.Links) the embedded DNS answers the alias for the linking container only
 * (dns/names.ts). The parsing and the environment are pure; LegacyLinks reads the store.
 */
import type { Container } from '../model.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import { DomainError, conflict, invalid } from '../errors.js';
import { modeOf } from './container-spec.js';

/** A link of a container on the default bridge, as stored: the child by id (a rename keeps it), its name then, the alias. */
export interface LegacyLink {
  containerId: string;
  name: string;
  alias: string;
}

/** What a link alias may be: it becomes a hosts entry, a DNS name and part of environment names. */
const ALIAS_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Docker's opts.ParseLink: `name:alias`, `name`, or inspect's `/name:/parent/alias`; then cnmd's check of the alias. */
export function parseLink(val: unknown): { name: string; alias: string } {
  if (typeof val !== 'string' || val === '') throw invalid('empty string specified for links');
  const parts = val.split(':');
  if (parts.length > 2) throw invalid(`bad format for links: ${val}`);
  let [name, alias] = parts.length === 1 ? [val, val] : [parts[0], parts[1]];
  if (name.startsWith('/')) {
    name = name.slice(1);
    alias = alias.slice(alias.lastIndexOf('/') + 1);
  }
  if (!ALIAS_RULE.test(name) || !ALIAS_RULE.test(alias)) throw invalid(`bad format for links: ${val}`);
  return { name, alias };
}

interface PortKey {
  num: number;
  proto: string;
}

/** TCP first, then by protocol; by number within one (moby's withTCPPriority). */
function byTcpFirst(a: PortKey, b: PortKey): number {
  if (a.proto === b.proto) return a.num - b.num;
  if (a.proto === 'tcp') return -1;
  if (b.proto === 'tcp') return 1;
  return a.proto < b.proto ? -1 : 1;
}

/**
 * The variables a link gives the linking container (moby's links.ToEnv): ALIAS_PORT, one group per
 * exposed port, _START/_END for runs of consecutive ports, ALIAS_NAME, and the child's environment
 * as ALIAS_ENV_* (HOME and PATH left out).
 */
export function linkEnv(alias: string, fullName: string, childIp: string, childEnv: string[], exposed: string[]): string[] {
  const A = alias.toUpperCase().replace(/-/g, '_');
  const ports = exposed
    .map((p) => {
      const [num, proto = 'tcp'] = p.split('/');
      return { num: Number(num), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.num))
    .sort(byTcpFirst);
  const env: string[] = [];
  const url = (p: PortKey) => `${p.proto}://${childIp}:${p.num}`;
  let start: PortKey | undefined;
  let end: PortKey | undefined;
  ports.forEach((p, i) => {
    if (i === 0) {
      start = end = p;
      env.push(`${A}_PORT=${url(p)}`);
    }
    const prefix = `${A}_PORT_${p.num}_${p.proto.toUpperCase()}`;
    env.push(`${prefix}=${url(p)}`, `${prefix}_ADDR=${childIp}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (p.num === end!.num + 1 && p.proto === end!.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (end !== start) {
      const s = start!;
      const e = end!;
      const rp = `${A}_PORT_${s.num}_${s.proto.toUpperCase()}`;
      env.push(`${rp}_START=${url(s)}`, `${rp}_PORT_START=${s.num}`, `${rp}_END=${url(e)}`, `${rp}_PORT_END=${e.num}`);
    }
    start = end = p;
  });
  env.push(`${A}_NAME=${fullName}`);
  for (const kv of childEnv) {
    const i = kv.indexOf('=');
    if (i < 0) continue;
    const k = kv.slice(0, i);
    if (k === 'HOME' || k === 'PATH') continue;
    env.push(`${A}_ENV_${k}=${kv.slice(i + 1)}`);
  }
  return env;
}

/** Whether HostConfig.Links means legacy links (the default bridge); on user-defined networks the daemon ignores them, as Docker. */
export const usesLegacyLinks = (c: Pick<Container, 'networkMode'>) => {
  const m = modeOf(c);
  return m.kind === 'network' && m.name === 'bridge';
};

export class LegacyLinks {
  constructor(private readonly d: { containers: ContainerRepo; networks: NetworkRepo }) {}

  /** HostConfig.Links of a new container on the default bridge, each child found by name, id or prefix (Docker's 400s). */
  resolve(links: unknown, find: (term: string) => Container): LegacyLink[] {
    if (links == null) return [];
    if (!Array.isArray(links)) throw invalid('HostConfig.Links must be a list of name:alias');
    return links.map((l) => {
      const { name, alias } = parseLink(l);
      let child: Container;
      try {
        child = find(name);
        for (let m = modeOf(child); m.kind === 'container'; m = modeOf(child)) child = find(m.target);
      } catch (e) {
        if (e instanceof DomainError && e.kind === 'notFound') throw invalid(`could not get container for ${name}: ${e.message}`);
        throw e;
      }
      if (modeOf(child).kind === 'host') throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
      return { containerId: child.id, name: child.name, alias };
    });
  }

  /** At start: every child running, on the default bridge (Docker's 409s). */
  check(c: Container): void {
    if (!usesLegacyLinks(c)) return;
    for (const l of c.links) {
      const child = this.d.containers.get(l.containerId);
      if (!child || child.state !== 'running') throw conflict(`Cannot link to a non running container: /${child?.name ?? l.name} AS /${c.name}/${l.alias}`);
      if (!this.bridgeAddress(child)) throw conflict(`Cannot link to /${child.name}, as it does not belong to the default network`);
    }
  }

  /** The hosts entries of a running container's links: `ip alias hostname [name]`, for children up on the default bridge. */
  hostsEntries(c: Container): Array<{ ip: string; names: string[] }> {
    if (!usesLegacyLinks(c)) return [];
    return c.links.flatMap((l) => {
      const child = this.d.containers.get(l.containerId);
      const ip = child?.state === 'running' ? this.bridgeAddress(child) : undefined;
      if (!child || !ip) return [];
      const names = [l.alias, String(child.config.Hostname ?? '')].filter(Boolean);
      if (l.alias !== child.name) names.push(child.name);
      return [{ ip, names }];
    });
  }

  /** The environment a container's links give its processes (its own Env wins). */
  env(c: Container): string[] {
    if (!usesLegacyLinks(c)) return [];
    return c.links.flatMap((l) => {
      const child = this.d.containers.get(l.containerId);
      const ip = child?.state === 'running' ? this.bridgeAddress(child) : undefined;
      if (!child || !ip) return [];
      return linkEnv(l.alias, `/${c.name}/${l.alias}`, ip, (child.config.Env as string[] | null) ?? [], Object.keys(child.config.ExposedPorts ?? {}));
    });
  }

  /** Running containers linked to this one: their hosts files follow its address. */
  parentsOf(id: string): string[] {
    return this.d.containers.linkedTo(id);
  }

  /** HostConfig.Links as inspect shows it: `/child:/parent/alias`, null without links. */
  render(c: Container): string[] | null {
    if (!c.links.length) return null;
    return c.links.map((l) => `/${this.d.containers.get(l.containerId)?.name ?? l.name}:/${c.name}/${l.alias}`);
  }

  private bridgeAddress(c: Container): string | undefined {
    const bridge = this.d.networks.getByName('bridge');
    const ep = bridge?.predefined ? this.d.containers.endpointsOf(c.id).find((e) => e.networkId === bridge.id) : undefined;
    return ep?.ipv4?.split('/')[0];
  }
}
