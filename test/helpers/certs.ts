/** Throwaway certificate authorities and certificates for the TLS tests (openssl, in a temporary directory). */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';

export interface Pki {
  dir: string;
  /** ca.pem, cert.pem, key.pem of a client, as DOCKER_CERT_PATH wants them */
  clientDir(cn: string, ca?: 'ca' | 'other'): Promise<string>;
  path(name: string): string;
}

export async function makePki(t: Test, serverAddresses: string[]): Promise<Pki> {
  const dir = mkdtempSync('/tmp/cnmd-pki-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
  for (const ca of ['ca', 'other']) {
    await ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=cnmd test ${ca}`);
  }
  const sign = async (name: string, cn: string, ca: string, ext: string) => {
    writeFileSync(`${dir}/${name}.ext`, ext);
    await ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  const san = serverAddresses.map((a) => (/^[\d.:]+$/.test(a) ? `IP:${a}` : `DNS:${a}`)).join(',');
  // clientAuth too: etcd's gRPC gateway dials etcd itself with the server's certificate
  await sign('server', 'cnmd', 'ca', `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  return {
    dir,
    path: (name) => `${dir}/${name}`,
    async clientDir(cn, ca = 'ca') {
      const name = `client-${ca}-${cn}`;
      await sign(name, cn, ca, 'extendedKeyUsage=clientAuth\n');
      const out = `${dir}/${name}.d`;
      mkdirSync(out);
      copyFileSync(`${dir}/ca.pem`, `${out}/ca.pem`);
      copyFileSync(`${dir}/${name}.pem`, `${out}/cert.pem`);
      copyFileSync(`${dir}/${name}-key.pem`, `${out}/key.pem`);
      return out;
    },
  };
}
