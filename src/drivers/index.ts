import type { Driver } from './driver.js';
import { bridgeDriver } from './bridge.js';
import { hostDriver, nullDriver } from './simple.js';
import { macvlanDriver } from './macvlan.js';
import { overlayDriver } from './overlay.js';

export type { Driver, DriverContext } from './driver.js';

const DRIVERS: Driver[] = [bridgeDriver, hostDriver, nullDriver, macvlanDriver, overlayDriver];

/** Drivers Docker ships that cnmd does not implement yet: refused with a clear 400, not "plugin not found". */
export const PLANNED_DRIVERS = ['ipvlan'];

export function getDriver(name: string): Driver | undefined {
  return DRIVERS.find((d) => d.name === name);
}
