/** What the HTTP application is given: the routes' options, built from the daemon's parts. */
import { logOptionsOf } from '../runtime/log-rotation.js';
import { firewallOf } from '../drivers/index.js';
import type { FastifyServerOptions } from 'fastify';
import type { AppDeps } from '../app.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { EventBus } from '../services/events.js';
import type { NetworkService } from '../services/networks.js';
import type { containerStack } from '../services/container-stack.js';
import type { Sandboxes } from '../services/sandboxes.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { RepairLoop } from '../reconcile/repair-loop.js';
import type { ClusterSync } from '../cluster/sync.js';
import type { ContainerRepo } from '../store/containers.js';
import type { NetworkRepo } from '../store/networks.js';
import type { Executor } from '../host/executor.js';
import type { ImageService } from '../services/images.js';
import type { VolumeService } from '../services/volumes.js';
import { versionInfo, systemInfo } from '../services/system.js';
import { DEFAULT_POOLS } from '../ipam/pools.js';
import { containerViews } from './views.js';
import { renderSummary } from './render-container.js';
import { summary as imageSummary } from './images.js';
import type { AccessOptions } from './access.js';
import { commandOf } from '../services/container-spec.js';

export interface AppParts {
  config: Config;
  daemonId: string;
  metrics: Metrics;
  events: EventBus;
  networks: NetworkService;
  stack: ReturnType<typeof containerStack>;
  sandboxes: Sandboxes;
  reconciler: Reconciler;
  repair: RepairLoop;
  cluster?: ClusterSync;
  containers: ContainerRepo;
  networksRepo: NetworkRepo;
  exec: Executor;
  images: ImageService;
  volumes: VolumeService;
  logger?: import('fastify').FastifyBaseLogger;
  serverFactory?: FastifyServerOptions['serverFactory'];
  /** tests: who sent an injected request */
  identify?: AccessOptions['identify'];
}

export function appDeps(p: AppParts): AppDeps {
  const { config, stack, containers } = p;
  const view = containerViews({ sandboxes: p.sandboxes, networks: p.networksRepo, execIds: (id) => stack.execs.of(id), links: (c) => stack.links.render(c) });
  const df = (api: number) => ({
    LayersSize: 0,
    Images: p.images.list(new Map()).map((i) => imageSummary(i, api, p.images.usedBy(i.id).length)),
    Containers: containers.list().map((c) => ({ ...renderSummary(view(c), api), SizeRw: 0, SizeRootFs: 0 })),
    Volumes: p.volumes.list(new Map()).map((v) => ({ ...p.volumes.render(v), UsageData: { Size: -1, RefCount: p.volumes.usedBy(v.name).length } })),
    BuildCache: [],
  });
  const countObjects = () => {
    const c = containers.counts();
    p.metrics.objects.set({ kind: 'network' }, p.networksRepo.count());
    p.metrics.objects.set({ kind: 'container' }, c.total);
    p.metrics.objects.set({ kind: 'container_running' }, c.running);
    p.metrics.objects.set({ kind: 'endpoint' }, containers.allEndpoints().length);
  };
  return {
    state: async (withPlan) => ({
      Last: p.reconciler.last ?? null,
      LastRepair: p.repair.last ?? null,
      IntervalSeconds: config.reconcileInterval,
      ...(withPlan ? { Plan: await p.reconciler.planAll() } : {}),
    }),
    metrics: { registry: p.metrics.registry, requests: p.metrics.requests, refresh: countObjects },
    logger: p.logger,
    limits: {
      requests: config.limits.apiRequests,
      streams: config.limits.apiStreams,
      followerBuffer: config.limits.followerBuffer,
      onRefused: (limit) => p.metrics.refused.inc({ limit }),
    },
    access: {
      authz: config.authz,
      allowedHosts: config.allowedHosts,
      identify: p.identify,
      runsProcess: (ref) => {
        try {
          return commandOf(p.stack.service.get(ref)).length > 0;
        } catch {
          return undefined;
        }
      },
    },
    logRequests: config.logLevel === 'debug' || config.logLevel === 'trace',
    serverFactory: p.serverFactory,
    system: {
      version: versionInfo,
      df,
      info: (apiVersion) => {
        const n = containers.counts();
        const clusterInfo = p.cluster && { available: p.cluster.available, nodes: p.cluster.peers() };
        const info = systemInfo(config, p.daemonId, { containers: n.total, running: n.running, stopped: n.total - n.running }, config.defaultAddressPools ?? DEFAULT_POOLS, clusterInfo);
        // API 1.49 (Docker 28.2) added the firewall backend; none (--iptables=false) is not reported, as in dockerd
        const firewall = firewallOf(config);
        if (apiVersion >= 1.49 && firewall !== 'none') info.FirewallBackend = { Driver: firewall };
        return info;
      },
    },
    networks: {
      networks: p.networks,
      attach: stack.attachments,
      peersOf: p.cluster && ((id) => p.cluster!.peersOf(id).map((x) => ({ Name: x.name, IP: x.address }))),
      endpointsOf: (id) =>
        containers.endpointsOn(id).map((e) => {
          const c = containers.get(e.containerId)!;
          return { containerId: e.containerId, Name: c.name, EndpointID: e.id, MacAddress: e.mac, IPv4Address: e.ipv4 ?? '', IPv6Address: e.ipv6 ?? '' };
        }),
    },
    containers: {
      containers: stack.service,
      attachments: stack.attachments,
      view,
      processes: stack.processes,
      execs: stack.execs,
      exec: p.exec,
      logPaths: (c) => p.sandboxes.paths(c),
      logKeep: (c) => logOptionsOf(c).maxFile,
      statsSource: stack.statsSource,
      files: stack.files,
    },
    images: { images: p.images },
    volumes: { volumes: p.volumes },
    events: p.events,
  };
}
