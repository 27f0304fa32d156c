/**
 * Crash safety of network operations: create, rm, connect and disconnect, each killed after every
 * host step it takes (test/helpers/crash.ts), on the nftables backend (crash-networks-iptables runs it
 * on iptables). The container operations are in crash-containers.
 */
import t from 'tap';
import { hostTestsReady } from '../helpers/host.js';
import { V, ok, createNet, running, exists, networksBecome, crashSuite, type Operation } from '../helpers/crash.js';

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
