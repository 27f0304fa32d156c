/**
 * What another host wrote to the cluster store, checked before anything of it is mirrored: the same
 * gates as API input. A record reaches `ip -batch`/`bridge -batch` lines (MACs, VTEPs, VNIs,
 * gateways) and resolv.conf-like answers (names) on every host, so whoever can write to etcd must
 * not be able to smuggle text there. A record that fails is dropped whole, with why. Pure.
 */
import type { Network, Subnet } from '../model.js';
import { containsAddr, formatAddr, formatPrefix, masked, parseAddr, parsePrefix } from '../ipam/cidr.js';
import { VNI_OPTION } from '../drivers/overlay.js';
import { WIREGUARD_KEY } from '../host/wg-text.js';
import type { EndpointRecord, NodeRecord } from './store.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; why: string };

const ID = /^[0-9a-f]{64}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** a DNS label sequence, as container names and aliases are */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/;
/** option keys and values: printable, no quote, backslash, '#' or space (they may reach host text) */
const OPTION_TEXT = /^[A-Za-z0-9_.:/,=+@-]{0,255}$/;
const MAX_VNI = 2 ** 24 - 1;

const fail = (why: string): { ok: false; why: string } => ({ ok: false, why });
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** An address in its one spelling (what cnmd writes): 10.0.0.1, not 010.0.0.1 or ::ffff:… */
function canonicalAddr(s: unknown, family?: 4 | 6): string | undefined {
  if (typeof s !== 'string') return undefined;
  const a = parseAddr(s);
  if (!a || (family && a.family !== family)) return undefined;
  return formatAddr(a.family, a.value) === s ? s : undefined;
}

function checkSubnet(v: unknown): Checked<Subnet> {
  if (!isObject(v)) return fail('a subnet that is not an object');
  const family = v.family;
  if (family !== 4 && family !== 6) return fail('a subnet family that is not 4 or 6');
  const p = typeof v.subnet === 'string' ? parsePrefix(v.subnet) : undefined;
  if (!p || p.family !== family || formatPrefix(masked(p)) !== v.subnet) return fail(`subnet ${String(v.subnet)} is not a canonical prefix`);
  const gw = canonicalAddr(v.gateway, family);
  if (!gw || !containsAddr(p, family, parseAddr(gw)!.value)) return fail(`gateway ${String(v.gateway)} is not an address of ${v.subnet}`);
  const aux: Record<string, string> = {};
  for (const [k, a] of Object.entries(isObject(v.aux) ? v.aux : {})) {
    const addr = canonicalAddr(a, family);
    if (!OPTION_TEXT.test(k) || !addr || !containsAddr(p, family, parseAddr(addr)!.value)) return fail(`auxiliary address ${k.slice(0, 40)} is not an address of ${v.subnet}`);
    aux[k] = addr;
  }
  const shown = checkStrings(v.shown, 'shown subnet fields');
  return { ok: true, value: { family, subnet: v.subnet as string, gateway: gw, aux, auto: !!v.auto, shown: shown.ok ? shown.value : {} } as Subnet };
}

function checkStrings(v: unknown, what: string): Checked<Record<string, string>> {
  if (v === null || v === undefined) return { ok: true, value: {} };
  if (!isObject(v)) return fail(`${what} that are not an object`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' || !OPTION_TEXT.test(k) || !OPTION_TEXT.test(x)) return fail(`${what} with a key or value cnmd does not write: ${JSON.stringify(k).slice(0, 80)}`);
  }
  return { ok: true, value: v as Record<string, string> };
}

/** A global network, as /cnmd/networks/<id> holds it. */
export function checkNetwork(v: unknown, id: string): Checked<Network> {
  if (!isObject(v)) return fail('not an object');
  if (!ID.test(id) || v.id !== id) return fail('its id is not the 64 hex digits of its key');
  if (typeof v.name !== 'string' || !v.name || v.name.length > 255 || /[\0-\x1f\x7f]/.test(v.name)) return fail('a name that is empty, too long or has control characters');
  if (v.driver !== 'overlay' || v.scope !== 'global') return fail('not a global overlay network');
  const options = checkStrings(v.options, 'options');
  if (!options.ok) return options;
  // labels never reach host text: any text without control characters
  const labels = isObject(v.labels) ? v.labels : {};
  if (!Object.entries(labels).every(([k, x]) => typeof x === 'string' && k.length <= 1024 && x.length <= 4096 && !/[\0-\x1f\x7f]/.test(k + x))) return fail('labels with control characters, or too long');
  const vni = options.value[VNI_OPTION];
  if (!/^\d{1,8}$/.test(vni ?? '') || Number(vni) < 1 || Number(vni) > MAX_VNI) return fail(`VXLAN id ${String(vni)} is not an integer from 1 to ${MAX_VNI}`);
  if (!Array.isArray(v.subnets) || !v.subnets.length || v.subnets.length > 8) return fail('no subnets, or too many');
  const subnets: Subnet[] = [];
  for (const s of v.subnets) {
    const c = checkSubnet(s);
    if (!c.ok) return c;
    subnets.push(c.value);
  }
  if (typeof v.created !== 'string' || !/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(v.created)) return fail('a creation time that is not RFC 3339');
  return {
    ok: true,
    value: {
      id, name: v.name, driver: 'overlay', scope: 'global', created: v.created, enableIPv4: v.enableIPv4 !== false, enableIPv6: v.enableIPv6 === true,
      internal: v.internal === true, attachable: v.attachable === true, ingress: false, configOnly: false, configFrom: '', ipamDriver: 'default',
      ipamOptions: v.ipamOptions === null ? null : checkStrings(v.ipamOptions, 'IPAM options').ok ? (v.ipamOptions as Record<string, string>) ?? null : null, options: options.value, labels: labels as Record<string, string>, predefined: false, bridgeName: null, subnets,
    },
  };
}

/** A host, as /cnmd/nodes/<id> holds it. */
export function checkNode(v: unknown, id: string): Checked<NodeRecord> {
  if (!isObject(v)) return fail('not an object');
  if (!ID.test(id) || v.id !== id) return fail('its id is not the 64 hex digits of its key');
  const address = canonicalAddr(v.address, 4);
  if (!address) return fail(`address ${String(v.address)} is not an IPv4 address`);
  const name = typeof v.name === 'string' && v.name.length <= 253 && /^[A-Za-z0-9._-]*$/.test(v.name) ? v.name : '';
  if (v.wireguard !== undefined && (typeof v.wireguard !== 'string' || !WIREGUARD_KEY.test(v.wireguard))) return fail(`WireGuard key ${String(v.wireguard).slice(0, 60)} is not 32 bytes in base64`);
  return { ok: true, value: { id, address, name, ...(typeof v.wireguard === 'string' ? { wireguard: v.wireguard } : {}) } };
}

/**
 * Another host's endpoint, as /cnmd/endpoints/<network>/<id> holds it. Its VTEP must be the address
 * of the node it names, and its addresses in the network's subnets.
 */
export function checkEndpoint(v: unknown, networkId: string, id: string, nodes: ReadonlyMap<string, NodeRecord>, network?: Network): Checked<EndpointRecord> {
  if (!isObject(v)) return fail('not an object');
  if (!ID.test(id) || v.id !== id || !ID.test(networkId) || v.networkId !== networkId) return fail('its ids are not the 64 hex digits of its key');
  if (typeof v.containerId !== 'string' || !ID.test(v.containerId)) return fail('a container id that is not 64 hex digits');
  if (typeof v.node !== 'string' || !ID.test(v.node)) return fail('a node id that is not 64 hex digits');
  const node = nodes.get(v.node);
  if (!node) return fail(`node ${v.node.slice(0, 12)} is not a member of the cluster`);
  if (v.vtep !== node.address) return fail(`VTEP ${String(v.vtep).slice(0, 40)} is not the address of its node (${node.address})`);
  if (typeof v.mac !== 'string' || !MAC.test(v.mac) || (parseInt(v.mac.slice(0, 2), 16) & 1) === 1) return fail(`MAC ${String(v.mac).slice(0, 40)} is not a unicast address in lower case`);
  const addrs: Record<'ipv4' | 'ipv6', string | null> = { ipv4: null, ipv6: null };
  for (const [key, family] of [['ipv4', 4], ['ipv6', 6]] as const) {
    const a = v[key];
    if (a === null || a === undefined) continue;
    const p = typeof a === 'string' ? parsePrefix(a) : undefined;
    if (!p || p.family !== family || canonicalAddr((a as string).split('/')[0], family) === undefined) return fail(`${key} ${String(a).slice(0, 60)} is not an address with its prefix length`);
    const inside = network ? network.subnets.some((s) => s.family === family && containsAddr(parsePrefix(s.subnet)!, family, p.addr)) : true;
    if (!inside) return fail(`${key} ${String(a)} is not in the network's subnets`);
    addrs[key] = a as string;
  }
  if (!addrs.ipv4 && !addrs.ipv6) return fail('no address');
  if (!Array.isArray(v.names) || v.names.length > 64 || !v.names.every((n) => typeof n === 'string' && NAME.test(n))) return fail('names that are not DNS names');
  return { ok: true, value: { id, networkId, containerId: v.containerId, node: v.node, vtep: node.address, mac: v.mac, ipv4: addrs.ipv4, ipv6: addrs.ipv6, names: v.names as string[] } };
}
