/** API versions: the /v1.NN/ prefix, negotiation limits and Docker's errors for them. */
export const API_VERSION = '1.49';
export const MIN_API_VERSION = '1.24';
export const CNMD_VERSION = '0.1.0';

/** "1.41" -> 1.41 as a comparable number (minor versions stay below 100). */
export function versionNumber(v: string): number {
  const [major, minor = '0'] = v.split('.');
  return Number(major) + Number(minor) / 100;
}

export const API_VERSION_NUMBER = versionNumber(API_VERSION);

/** Splits "/v1.41/networks" into its version and the path without it. */
export function splitVersionPrefix(url: string): { version?: string; path: string } {
  const m = /^\/v([0-9][0-9.]*)(\/.*|\?.*)?$/.exec(url);
  if (!m) return { path: url };
  const rest = m[2] ?? '/';
  return { version: m[1], path: rest.startsWith('?') ? '/' + rest : rest };
}

export type VersionCheck = { ok: true; version: number } | { ok: false; message: string; json: boolean };

export function checkVersion(requested: string | undefined): VersionCheck {
  if (requested === undefined) return { ok: true, version: API_VERSION_NUMBER };
  const n = versionNumber(requested);
  if (Number.isNaN(n)) return { ok: false, message: `invalid API version: ${requested}`, json: true };
  if (n > API_VERSION_NUMBER) {
    return { ok: false, message: `client version ${requested} is too new. Maximum supported API version is ${API_VERSION}`, json: true };
  }
  if (n < versionNumber(MIN_API_VERSION)) {
    return {
      ok: false,
      message: `client version ${requested} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      // Docker answers clients older than 1.24 in plain text.
      json: false,
    };
  }
  return { ok: true, version: n };
}

/** Docker's headers, for responses written straight to the socket (streams that bypass Fastify's hooks). */
export function dockerHeaders(contentType: string): Record<string, string> {
  return { 'Content-Type': contentType, 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `cnmd/${CNMD_VERSION} (linux)` };
}
