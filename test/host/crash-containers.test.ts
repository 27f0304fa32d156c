/**
 * Crash safety of container operations: start, stop and rm -f, each killed after every host step
 * it takes (test/helpers/crash.ts). The network operations are in crash-networks.
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { V, createNet, createCtr, stateOf, running, startedOn, crashSuite, type Operation } from '../helpers/crash.js';

const OPERATIONS: Operation[] = [
  {
    name: 'container start',
    setup: async (d, c) => {
      await createNet(d, 'n1');
      await createCtr(d, c, 'n1');
    },
    run: (d, c) => d.request('POST', `${V}/containers/${c}/start`),
    outcome: startedOn('n1'),
  },
  {
    name: 'container stop',
    setup: running('n1'),
    run: (d, c) => d.request('POST', `${V}/containers/${c}/stop?t=5`),
    outcome: async (d, c) => {
      const s = await stateOf(d, c);
      return s === 'exited' ? 'after' : s === 'running' ? 'before' : s;
    },
  },
  {
    name: 'container rm -f',
    setup: running('n1'),
    run: (d, c) => d.request('DELETE', `${V}/containers/${c}?force=1`),
    outcome: async (d, c) => {
      const s = await stateOf(d, c);
      return s === 'gone' ? 'after' : s === 'running' ? 'before' : s;
    },
  },
];

if (await hostTestsReady(t)) crashSuite(t, OPERATIONS);
