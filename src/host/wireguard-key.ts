/**
 * This host's WireGuard key pair (encrypted overlay networks): the private key in a file of the data
 * root (0600, made once, kept across restarts so that the other hosts' peers stay valid), the public
 * key derived from it. X25519, in the base64 that wg reads and prints.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';

/** PKCS#8 DER of an X25519 private key, before its 32 bytes */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes in base64');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
}

/** Reads the key file, or makes it; returns the public key. A file that is not a key stops the daemon, naming it. */
export function loadOrCreateKey(file: string): string {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text === undefined) {
    const { privateKey } = generateKeyPairSync('x25519');
    text = privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32).toString('base64');
    writeFileSync(file, text + '\n', { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  try {
    return publicKeyOf(text);
  } catch (e) {
    throw new Error(`${file} is not a WireGuard private key (${(e as Error).message}): remove it and cnmd makes a new one`);
  }
}
