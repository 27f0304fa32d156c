/** The drift suite (drift.test.ts) on the iptables backend. */
process.env.CNMD_TEST_FIREWALL = 'iptables';
await import('./drift.test.js');
