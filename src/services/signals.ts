/** Signals as the API names them (KILL, SIGKILL, 9) and their numbers (exit code 128 + n). */
import { invalid } from '../errors.js';

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15, SIGCONT: 18, SIGSTOP: 19, SIGWINCH: 28,
};

export function normalizeSignal(s: string): NodeJS.Signals {
  if (/^\d+$/.test(s)) {
    const name = Object.entries(SIGNALS).find(([, n]) => n === Number(s))?.[0];
    if (!name) throw invalid(`Invalid signal: ${s}`);
    return name as NodeJS.Signals;
  }
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  if (!(name in SIGNALS)) throw invalid(`Invalid signal: ${s}`);
  return name as NodeJS.Signals;
}

export const signalNumber = (s: NodeJS.Signals) => SIGNALS[s] ?? 0;
