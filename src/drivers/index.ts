import type { Driver } from './driver.js';
import { bridgeDriver } from './bridge.js';
import { hostDriver, nullDriver } from './simple.js';
import { macvlanDriver } from './macvlan.js';
import { overlayDriver } from './overlay.js';

import type { DriverContext } from './driver.js';
import type { Config } from '../config.js';
import type { FirewallBackendName } from '../firewall/intent.js';

export type { Driver, DriverContext } from './driver.js';

/** The firewall backend of a configuration whose backend was chosen (main.ts probes the host when it is not given). */
export const firewallOf = (config: Config): FirewallBackendName => (config.iptables ? (config.firewallBackend ?? 'iptables') : 'none');

/** The daemon settings the drivers need, derived from the Config once. */
export function driverContext(config: Config): DriverContext {
  return {
    instance: config.instance,
    chainPrefix: config.instance.toUpperCase(),
    firewall: firewallOf(config),
    ipForward: config.ipForward,
    ipMasq: config.ipMasq,
    icc: config.icc,
    mtu: config.mtu,
    defaultBridgeName: config.bridgeName,
  };
}

const DRIVERS: Driver[] = [bridgeDriver, hostDriver, nullDriver, macvlanDriver, overlayDriver];

/** Drivers Docker ships that cnmd does not implement yet: refused with a clear 400, not "plugin not found". */
export const PLANNED_DRIVERS = ['ipvlan'];

export function getDriver(name: string): Driver | undefined {
  return DRIVERS.find((d) => d.name === name);
}
