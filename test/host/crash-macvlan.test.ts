/**
 * Crash safety, macvlan: a container started on a macvlan network and a running one connected to
 * another, each killed after every host step (test/helpers/crash.ts).
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { V, createNet, createCtr, running, withParent, macvlan, startedOn, networksBecome, crashSuite, type Operation } from '../helpers/crash.js';

const OPERATIONS: Operation[] = [
  {
    name: 'macvlan container start',
    host: withParent,
    setup: async (d, c) => {
      await createNet(d, 'n1', macvlan);
      await createCtr(d, c, 'n1');
    },
    run: (d, c) => d.request('POST', `${V}/containers/${c}/start`),
    outcome: startedOn('n1'),
  },
  {
    name: 'macvlan connect',
    host: withParent,
    setup: async (d, c) => {
      await running('n1')(d, c);
      await createNet(d, 'n2', macvlan);
    },
    run: (d, c) => d.request('POST', `${V}/networks/n2/connect`, { Container: c }),
    outcome: networksBecome('n1', 'n1,n2'),
  },
];
if (await hostTestsReady(t)) crashSuite(t, OPERATIONS);
