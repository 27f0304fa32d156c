import type { Network } from '../../src/model.js';
import type { DriverContext } from '../../src/drivers/index.js';

export const ctx: DriverContext = {
  instance: 'cnmd',
  chainPrefix: 'CNMD',
  firewall: 'iptables',
  ipForward: true,
  ipMasq: true,
  icc: true,
  mtu: 1500,
  defaultBridgeName: 'cnmd0',
};

export function bridgeNetwork(over: Partial<Network> & { id: string }): Network {
  return {
    name: 'net-' + over.id.slice(0, 4),
    driver: 'bridge',
    scope: 'local',
    created: '2026-01-01T00:00:00Z',
    enableIPv4: true,
    enableIPv6: false,
    internal: false,
    attachable: false,
    ingress: false,
    configOnly: false,
    configFrom: '',
    ipamDriver: 'default',
    ipamOptions: null,
    options: {},
    labels: {},
    predefined: false,
    bridgeName: 'cnmd-' + over.id.slice(0, 10),
    subnets: [{ family: 4, subnet: '10.50.0.0/24', gateway: '10.50.0.1', aux: {}, auto: false, shown: {} }],
    ...over,
  };
}

export const ID_A = 'aaaaaaaaaaaa' + '0'.repeat(52);
export const ID_B = 'bbbbbbbbbbbb' + '0'.repeat(52);
