/**
 * Crash safety, bridge networks and sandboxes: network create and rm, container start, stop and
 * rm -f, connect and disconnect, each killed after every host step it takes (test/helpers/crash.ts).
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { V, ok, createNet, createCtr, stateOf, running, exists, startedOn, networksBecome, crashSuite, type Operation } from '../helpers/crash.js';

const OPERATIONS: Operation[] = [
  {
    name: 'network create',
    setup: async () => undefined,
    run: (d) => d.request('POST', `${V}/networks/create`, { Name: 'n1' }),
    outcome: async (d) => ((await exists(d, 'n1')) ? 'after' : 'before'),
  },
  {
    name: 'network rm',
    setup: async (d) => void (await createNet(d, 'n1')),
    run: (d) => d.request('DELETE', `${V}/networks/n1`),
    outcome: async (d) => ((await exists(d, 'n1')) ? 'before' : 'after'),
  },
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
  {
    name: 'network connect',
    setup: running('n1', 'n2'),
    run: (d, c) => d.request('POST', `${V}/networks/n2/connect`, { Container: c }),
    outcome: networksBecome('n1', 'n1,n2'),
  },
  {
    name: 'network disconnect',
    setup: async (d, c) => {
      await running('n1', 'n2')(d, c);
      await ok(d.request('POST', `${V}/networks/n2/connect`, { Container: c }), 'connect');
    },
    run: (d, c) => d.request('POST', `${V}/networks/n2/disconnect`, { Container: c }),
    outcome: networksBecome('n1,n2', 'n1'),
  },
];

if (await hostTestsReady(t)) crashSuite(t, OPERATIONS);
