import type { Network } from '../model.js';
import type { DesiredState } from './model.js';
import { getDriver, type DriverContext } from '../drivers/index.js';
import { bridgeBase } from '../drivers/bridge.js';

/** Desired host state for the given networks plus the shared base. Pure. */
export function desiredState(networks: Network[], ctx: DriverContext): DesiredState {
  const base = bridgeBase(ctx);
  const state: DesiredState = {
    links: [],
    chains: base.chains.map((c) => ({ ...c, body: [] })),
    hooks: base.hooks,
    sysctls: ctx.ipForward ? [{ key: 'net.ipv4.ip_forward', value: '1' }] : [],
  };
  const shared = new Map(state.chains.map((c) => [`${c.table} ${c.name}`, c]));
  for (const n of networks) {
    const driver = getDriver(n.driver);
    if (!driver || n.configOnly) continue;
    const o = driver.objects(n, ctx);
    state.links.push(...o.links);
    state.chains.push(...o.chains);
    state.sysctls.push(...o.sysctls);
    const owner = n.id.slice(0, 12);
    for (const r of o.rules) shared.get(`${r.table} ${r.chain}`)?.body.push({ spec: r.spec, owner });
  }
  return state;
}
