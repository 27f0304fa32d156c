/** The crash matrix of network operations (crash-networks.test.ts) on the iptables backend. */
process.env.CNMD_TEST_FIREWALL = 'iptables';
await import('./crash-networks.test.js');
