/** Docker-shaped events, kept in a bounded history and pushed to subscribers (GET /events). */
import { nowNs } from '../ids.js';

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export class EventBus {
  private readonly history: DockerEvent[] = [];
  private readonly listeners = new Set<(e: DockerEvent) => void>();

  constructor(private readonly keep = 1024) {}

  emit(type: string, action: string, id: string, attributes: Record<string, string>): DockerEvent {
    const ns = nowNs();
    const e: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(ns / 1_000_000_000n),
      timeNano: Number(ns),
    };
    this.history.push(e);
    if (this.history.length > this.keep) this.history.shift();
    for (const l of this.listeners) l(e);
    return e;
  }

  since(timeNano: number): DockerEvent[] {
    return this.history.filter((e) => e.timeNano >= timeNano);
  }

  subscribe(fn: (e: DockerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
