/** The published-ports suite (ports.test.ts) on the iptables backend. */
process.env.CNMD_TEST_FIREWALL = 'iptables';
await import('./ports.test.js');
