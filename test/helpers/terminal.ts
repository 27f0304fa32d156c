/**
 * A terminal a test types into, as a user would: a tmux session (its own server socket) running a
 * command given as argv (tmux executes it without a shell), read back with capture-pane.
 */
import type { Test } from 'tap';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';

export interface Terminal {
  /** types text, then Enter unless enter is false */
  type(text: string, enter?: boolean): Promise<void>;
  /** sends tmux key names (C-p, C-q, Enter) */
  keys(...names: string[]): Promise<void>;
  /** the screen and its scrollback, as text */
  screen(): Promise<string>;
  /** waits until the screen matches; returns it (or what it was when time ran out) */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** whether the command in it has ended (the session is gone) */
  ended(): Promise<boolean>;
}

export async function openTerminal(t: Test, argv: string[], env: Record<string, string>): Promise<Terminal> {
  const socket = `cnmdt${process.pid}${randomBytes(3).toString('hex')}`;
  const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { reject: false });
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  await tmux('new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', ...envArgs, ...argv);
  // the pane stays after its command ends, so its last screen can be read
  await tmux('set-option', '-t', 'main', 'remain-on-exit', 'on');
  t.teardown(() => tmux('kill-server'));
  const screen = async () => (await tmux('capture-pane', '-t', 'main', '-p', '-S', '-200')).stdout;
  const term: Terminal = {
    async type(text, enter = true) {
      await tmux('send-keys', '-t', 'main', '-l', text);
      if (enter) await tmux('send-keys', '-t', 'main', 'Enter');
    },
    async keys(...names) {
      await tmux('send-keys', '-t', 'main', ...names);
    },
    screen,
    async waitFor(pattern, ms = 10_000) {
      const deadline = Date.now() + ms;
      let s = await screen();
      while (!(typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        s = await screen();
      }
      return s;
    },
    async ended() {
      return (await tmux('display-message', '-t', 'main', '-p', '#{pane_dead}')).stdout.trim() === '1';
    },
  };
  return term;
}

/** Whether tmux is there to type into. */
export async function terminalAvailable(): Promise<boolean> {
  return (await execa('tmux', ['-V'], { reject: false })).exitCode === 0;
}
