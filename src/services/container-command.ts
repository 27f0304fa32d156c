/**
 * A container's command before it runs: its user, environment (links', its own), working directory
 * and executable checked the way runc reports them (the client's 400), and the spawn spec that
 * places it in the container's namespaces.
 */
import type { Container } from '../model.js';
import type { Executor } from '../host/executor.js';
import { inNamespaces } from '../host/placement.js';
import { invalid } from '../errors.js';
import { processEnv, placement, searchPath, notFoundText, PROCESS_MARKER, groupAddOf } from '../runtime/command.js';
import { hostUser, type ExecUser } from '../runtime/users.js';
import type { Launch } from '../runtime/processes.js';
import { modeOf } from './container-spec.js';
import type { containerPaths } from './paths.js';

export interface PreparedCommand {
  argv: string[];
  env: Record<string, string>;
  user: ExecUser;
  cwd: string;
  /** the container whose network namespace it shares (container:<id>) */
  shared: Container | undefined;
}

/** HostConfig.ConsoleSize ([height, width], what the CLI sends from its terminal) as a terminal size; 80x24 without it. */
export function consoleSize(v: unknown): { cols: number; rows: number } {
  const [rows, cols] = Array.isArray(v) ? v.map(Number) : [];
  return rows > 0 && rows < 65536 && cols > 0 && cols < 65536 ? { cols, rows } : { cols: 80, rows: 24 };
}

/** Checks what the command needs; `failed` records the message and runc's exit code (126, 127) before the 400. */
export async function prepareCommand(
  exec: Executor,
  c: Container,
  argv: string[],
  shared: Container | undefined,
  linked: string[],
  failed: (message: string, code: number) => void,
): Promise<PreparedCommand> {
  const fail = (message: string, code: number) => {
    failed(message, code);
    return invalid(message);
  };
  let user: ExecUser;
  try {
    user = await hostUser(exec, String(c.config.User ?? ''), groupAddOf(c));
  } catch (e) {
    throw fail((e as Error).message, 126);
  }
  const env = { ...processEnv(c, user, !!c.config.Tty, [], linked), [PROCESS_MARKER]: c.id };
  const cwd = String(c.config.WorkingDir || '/');
  if (!(await exec.exists(cwd))) throw fail(`the working directory ${cwd} does not exist on this host (cnmd containers see the host's filesystem)`, 126);
  if (!(await exec.findExecutable(argv[0], searchPath(env)))) throw fail(notFoundText(argv[0]), 127);
  return { argv, env, user, cwd, shared };
}

/** What the processes runtime starts: nsenter into the namespaces, with the logs, terminal and shim of the container. */
export function launchSpec(c: Container, l: PreparedCommand, p: ReturnType<typeof containerPaths>, net: string | undefined): Launch {
  const where = placement({ ...(net ? { net } : {}), mnt: p.mnt, ...(modeOf(c).kind === 'host' ? {} : { uts: p.uts }) }, l.user, l.cwd);
  const { file, args } = inNamespaces(where, l.argv);
  return {
    file, args, env: l.env, stdin: !!c.config.OpenStdin, logs: { stdoutPath: p.stdoutPath, stderrPath: p.stderrPath },
    ...(c.config.Tty ? { tty: consoleSize(c.hostConfig.ConsoleSize) } : {}),
    shim: { socketPath: p.shimSocket, statusPath: p.shimStatus },
  };
}
