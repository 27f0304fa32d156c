/**
 * Image references as Docker reads them (distribution/reference): an optional registry with a port,
 * lowercase path components, a tag or a digest; `busybox` means `busybox:latest` on Docker Hub,
 * whose `docker.io/library/` prefix is not shown. Pure.
 */
import { createHash } from 'node:crypto';
import { invalid } from '../errors.js';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;

export interface Reference {
  /** repository without the default registry's prefixes (busybox, team/app, registry:5000/app) */
  repository: string;
  tag?: string;
  digest?: string;
  /** repository:tag or repository@digest: how cnmd records and shows it */
  text: string;
}

export function parseReference(input: string): Reference {
  const s = input.trim();
  if (!s || s.length > 255) throw invalid(`invalid reference format`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid('invalid reference format');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid('invalid reference format');
  }
  const parts = rest.split('/');
  const hasDomain = parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost' || /[A-Z]/.test(parts[0]));
  const domain = hasDomain ? parts.shift()! : undefined;
  if (domain && !DOMAIN.test(domain)) throw invalid('invalid reference format');
  for (const p of parts) {
    if (/[A-Z]/.test(p)) throw invalid(`invalid reference format: repository name (${rest}) must be lowercase`);
    if (!COMPONENT.test(p)) throw invalid('invalid reference format');
  }
  let path = parts.join('/');
  const hub = !domain || domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io';
  if (hub && path.startsWith('library/') && parts.length === 2) path = path.slice('library/'.length);
  const repository = hub ? path : `${domain}/${path}`;
  if (!tag && !digest) tag = 'latest';
  return { repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), text: digest ? `${repository}@${digest}` : `${repository}:${tag}` };
}

/** The id cnmd gives an image first recorded by this reference: 64 hex, sha256 of it. */
export const imageIdFor = (r: Reference) => createHash('sha256').update(`cnmd image ${r.text}`).digest('hex');
