/** Docker's resolver address inside containers; cnmd's sandboxes reach its DNS server there. */
export const SANDBOX_DNS = '127.0.0.11';
