/** The bridge suite (bridge.test.ts) on the iptables backend. */
process.env.CNMD_TEST_FIREWALL = 'iptables';
await import('./bridge.test.js');
