/** Prometheus metrics (prom-client), one registry per daemon: served at /metrics. */
import { Registry, Histogram, Counter, Gauge, collectDefaultMetrics } from 'prom-client';

/** The period of the event-loop delay sampling behind cnmd_nodejs_eventloop_lag_* (one timer). */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Histogram({
    name: 'cnmd_http_request_duration_seconds',
    help: 'API request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly commands = new Histogram({
    name: 'cnmd_host_command_duration_seconds',
    help: 'Host commands (ip, iptables-restore, iptables-save, nsenter, …) by tool and outcome',
    labelNames: ['tool', 'ok'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'cnmd_reconcile_runs_total',
    help: 'Reconcile runs by scope (all, scoped, repair) and outcome',
    labelNames: ['scope', 'ok'],
    registers: [this.registry],
  });
  readonly steps = new Counter({
    name: 'cnmd_reconcile_steps_total',
    help: 'Host steps applied by reconciles, by scope',
    labelNames: ['scope'],
    registers: [this.registry],
  });
  readonly drift = new Counter({
    name: 'cnmd_drift_repaired_total',
    help: 'Steps the periodic repair applied: drift found on the host and repaired',
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'cnmd_limit_refused_total',
    help: 'Work refused at a limit, by limit (dns_forwards, requests, streams, relay_flows)',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly clusterRejected = new Counter({
    name: 'cnmd_cluster_rejected_total',
    help: 'Records of the cluster store that failed their check and were not mirrored, by kind (network, endpoint, node)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly objects = new Gauge({
    name: 'cnmd_objects',
    help: 'Objects in the store by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  constructor() {
    // prom-client samples the event loop's delay with a timer of this period: its default, 10 ms,
    // woke a daemon at rest 100 times a second (0.8% of a core with nothing to do)
    collectDefaultMetrics({ register: this.registry, prefix: 'cnmd_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
}
