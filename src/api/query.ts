/** Query-string helpers with Docker's parsing rules. */
import { invalid } from '../errors.js';

/** httputils.BoolValue: "", 0, no, false, none are false; anything else is true. */
export function boolValue(v: unknown): boolean {
  if (v === undefined) return false;
  const s = String(v).trim().toLowerCase();
  return !['', '0', 'no', 'false', 'none'].includes(s);
}

/** strconv.ParseBool, with Docker's error for the named parameter. */
export function strictBool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  const s = String(v);
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw invalid(`invalid value for ${name}: ${s}: strconv.ParseBool: parsing "${s}": invalid syntax`);
}

/** In this plugin's scope every request body reaches the handler as the stream it is, whatever its label (archives: docker cp, build contexts, image tarballs). */
export function passBodiesThrough(scope: import('fastify').FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}
