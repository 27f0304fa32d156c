/**
 * What a container gets on the host when it starts or connects: endpoints (interface name, veth,
 * addresses, MAC) chosen inside the caller's transaction, and the host ports it publishes.
 */
import { randomBytes } from 'node:crypto';
import type { Container, Endpoint, EndpointSettingsInput, Network, PortBinding } from '../model.js';
import { conflict, forbidden, invalid, unavailable } from '../errors.js';
import { newId } from '../ids.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import { type Executor, PortInUseError } from '../host/executor.js';
import { getDriver } from '../drivers/index.js';
import { OPT } from '../drivers/bridge.js';
import { allocateAddress, checkStatic, macFromIPv4 } from '../ipam/allocator.js';
import { parseAddr, formatAddr } from '../ipam/cidr.js';
import { findNetwork } from './lookup.js';
import { portAllocatedError, type PortRequest } from './ports.js';

export interface EndpointDeps {
  containers: ContainerRepo;
  networks: NetworkRepo;
  exec: Executor;
  /** addresses other hosts hold on a global network */
  remoteAddresses?: (networkId: string) => string[];
}

const isUserNetwork = (n: Network) => !n.predefined;

export class EndpointAllocator {
  constructor(private readonly d: EndpointDeps) {}

  private tryNetwork(term: string): Network | undefined {
    try {
      return findNetwork(this.d.networks, term);
    } catch {
      return undefined;
    }
  }

  /** Picks the interface name, veth name, addresses and MAC of a new endpoint (inside the caller's transaction). */
  allocate(c: Container, network: Network, configKey: string, s: EndpointSettingsInput, exclude: Iterable<string> = []): Endpoint {
    if (network.driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
    if (network.driver === 'null') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (!getDriver(network.driver)?.endpoint) throw invalid(`the ${network.driver} driver does not support endpoints in cnmd yet`);
    if (network.scope === 'global' && !network.attachable) {
      // Docker's text (its swarm's error, wrapped)
      throw forbidden(`Could not attach to network ${network.name}: rpc error: code = PermissionDenied desc = network ${network.name} not manually attachable`);
    }
    const existing = this.d.containers.endpointsOf(c.id);
    if (existing.some((e) => e.networkId === network.id)) throw forbidden(`endpoint with name ${c.name} already exists in network ${network.name}`);
    const prefix = network.options[OPT.ifacePrefix] || 'eth';
    const usedNames = new Set(existing.map((e) => e.ifname));
    let n = 0;
    while (usedNames.has(`${prefix}${n}`)) n++;
    const inUse = new Set([...this.d.containers.addressesOn(network.id), ...(this.d.remoteAddresses?.(network.id) ?? []), ...exclude]);
    // Static addresses other containers asked for on this network are not handed out dynamically, even
    // while those containers are stopped; between two static requests for one address, the first to start wins.
    const reserved = new Set<string>();
    for (const r of this.d.containers.staticRequests()) {
      if (r.containerId === c.id || this.tryNetwork(r.network)?.id !== network.id) continue;
      for (const a of r.addresses) {
        const p = parseAddr(a);
        if (p) reserved.add(formatAddr(p.family, p.value));
      }
    }
    const addressFor = (family: 4 | 6, requested: string | null | undefined): string | null => {
      const subnet = network.subnets.find((x) => x.family === family);
      if (!subnet || (family === 6 && !network.enableIPv6) || (family === 4 && !network.enableIPv4)) {
        if (requested) throw invalid(`no configured subnet contains IP address ${requested}`);
        return null;
      }
      const bits = subnet.subnet.split('/')[1];
      if (requested) {
        if (!isUserNetwork(network)) throw invalid('user specified IP address is supported on user defined networks only');
        if (subnet.auto) throw invalid('user specified IP address is supported only when connecting to networks with user configured subnets');
        const v = checkStatic(subnet, requested, inUse);
        if (v === 'outside') throw invalid(`no configured subnet contains IP address ${requested}`);
        if (v === 'taken') throw forbidden('Address already in use');
        const a = parseAddr(requested)!;
        return `${formatAddr(a.family, a.value)}/${bits}`;
      }
      const a = allocateAddress(subnet, new Set([...inUse, ...reserved]));
      if (!a) throw unavailable(`no available IPv${family} addresses on this network's address pools: ${network.name} (${network.id})`);
      return `${a}/${bits}`;
    };
    const ipv4 = addressFor(4, s.IPAMConfig?.IPv4Address);
    const ipv6 = addressFor(6, s.IPAMConfig?.IPv6Address);
    const mac = s.MacAddress ? s.MacAddress.toLowerCase() : ipv4 ? macFromIPv4(ipv4.split('/')[0]) : randomMac();
    const endpoint: Endpoint = {
      id: newId(),
      containerId: c.id,
      networkId: network.id,
      configKey,
      ifname: `${prefix}${n}`,
      hostIfname: `veth${randomBytes(4).toString('hex').slice(0, 7)}`,
      mac,
      ipv4,
      ipv6,
      gwPriority: s.GwPriority ?? 0,
      position: existing.length,
    };
    this.d.containers.insertEndpoint(endpoint);
    return endpoint;
  }

  /** Holds a host port for every request, or none: Docker's error for a port that is taken. */
  async reservePorts(requests: PortRequest[]): Promise<PortBinding[]> {
    const held: PortBinding[] = [];
    try {
      for (const r of requests) {
        let port: number | undefined;
        const [lo, hi] = r.hostPorts;
        for (let p = lo; p <= hi && port === undefined; p++) {
          try {
            port = await this.d.exec.reservePort(r.proto, r.hostIp, p);
          } catch (e) {
            if (!(e instanceof PortInUseError)) throw e;
            if (p === hi) throw conflict(portAllocatedError(r.hostIp, lo === hi ? lo : p));
          }
        }
        held.push({ proto: r.proto, containerPort: r.containerPort, hostIp: r.hostIp, hostPort: port! });
      }
      return held;
    } catch (e) {
      await this.releasePorts(held);
      throw e;
    }
  }

  async releasePorts(ports: PortBinding[]): Promise<void> {
    for (const p of ports) await this.d.exec.releasePort(p.proto, p.hostIp, p.hostPort);
  }
}

function randomMac(): string {
  const b = randomBytes(4);
  return ['02', '42', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
