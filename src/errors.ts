/**
 * Errors carry their kind; the API maps a kind to an HTTP status in one place (api/errors.ts).
 * Messages follow Docker's wording so that clients print what users already know.
 */
export type ErrorKind =
  | 'invalid' // 400
  | 'forbidden' // 403
  | 'notFound' // 404
  | 'conflict' // 409
  | 'notModified' // 304
  | 'unavailable' // 503
  | 'notImplemented' // 501
  | 'system'; // 500: a bug or a host failure

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string) => new DomainError('invalid', message);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const notFound = (message: string) => new DomainError('notFound', message);
export const conflict = (message: string) => new DomainError('conflict', message);
export const unavailable = (message: string) => new DomainError('unavailable', message);
/** The 503 of every global-scope (overlay) operation while the cluster store is away, or another reason. */
export const storeUnavailable = (message = 'the cluster store is unavailable: overlay networks cannot be changed until it is back') => unavailable(message);
export const systemError = (message: string) => new DomainError('system', message);

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  notModified: 304,
  unavailable: 503,
  notImplemented: 501,
  system: 500,
};
