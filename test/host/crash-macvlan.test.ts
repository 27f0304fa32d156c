/**
 * Crash safety, macvlan: a container started on a macvlan network and a running one connected to
 * another, each killed after every host step (test/helpers/crash.ts).
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { V, createNet, createCtr, networksOf, stateOf, running, withParent, macvlan, crashSuite, type Operation } from '../helpers/crash.js';

const OPERATIONS: Operation[] = [
  {
    name: 'macvlan container start',
    host: withParent,
    setup: async (d, c) => {
      await createNet(d, 'n1', macvlan);
      await createCtr(d, c, 'n1');
    },
    run: (d, c) => d.request('POST', `${V}/containers/${c}/start`),
    outcome: async (d, c) => {
      const [s, nets] = [await stateOf(d, c), await networksOf(d, c)];
      return s === 'running' && nets === 'n1' ? 'after' : s === 'created' ? 'before' : `${s} on ${nets}`;
    },
  },
  {
    name: 'macvlan connect',
    host: withParent,
    setup: async (d, c) => {
      await running('n1')(d, c);
      await createNet(d, 'n2', macvlan);
    },
    run: (d, c) => d.request('POST', `${V}/networks/n2/connect`, { Container: c }),
    outcome: async (d, c) => {
      const nets = await networksOf(d, c);
      return nets === 'n1,n2' ? 'after' : nets === 'n1' ? 'before' : nets;
    },
  },
];
if (await hostTestsReady(t)) crashSuite(t, OPERATIONS);
