/**
 * What containers' files are made from on the host: its resolv.conf (the upstream servers of
 * containers on the default bridge), read again every few seconds, and which of /etc/resolv.conf,
 * /etc/hosts, /etc/hostname exist (a bind over one needs it there).
 */
import type { Executor } from '../host/executor.js';

const ETC_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname'];

export class HostEtc {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly exec: Executor,
    private resolv: string,
    readonly files: ReadonlySet<string>,
  ) {}

  static async read(exec: Executor): Promise<HostEtc> {
    const files = new Set<string>();
    for (const f of ETC_FILES) if (await exec.exists(f)) files.add(f);
    return new HostEtc(exec, (await exec.readFile('/etc/resolv.conf')) ?? '', files);
  }

  resolvConf(): string {
    return this.resolv;
  }

  /** Reads resolv.conf again every `seconds` (the periodic repair then rewrites the containers' copies). */
  follow(seconds: number): void {
    this.timer = setInterval(() => void this.exec.readFile('/etc/resolv.conf').then((t) => (this.resolv = t ?? this.resolv)), seconds * 1000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
