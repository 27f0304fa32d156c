/** The daemon's log as the services see it. */
export interface Log {
  warn(obj: unknown, msg: string): void;
}

/**
 * For a step whose failure must not fail the request (an undo, a repair that the next reconcile
 * retries): the failure is logged with what was being done, never swallowed.
 */
export const warnOnFail = (log: () => Log, what: string) => (e: unknown) => {
  log().warn({ err: e instanceof Error ? e.message : String(e) }, what);
};
