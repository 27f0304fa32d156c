#!/usr/bin/env -S node --max-semi-space-size=1
/** cnmd: parse the configuration, start the daemon, listen on every -H address, stop cleanly on signals. */
import './heap.js';
import type { RequestListener, Server } from 'node:http';
import { existsSync, unlinkSync } from 'node:fs';
import { loadConfig, ConfigError, isLoopbackListener } from './config.js';
import { readTlsFiles, serverFor, socketGroup, listenUnix, listenTcp, type TlsFiles } from './host/listeners.js';
import { takeDataRoot, DaemonRunningError } from './host/pidfile.js';
import { ExecaExecutor } from './host/executor.js';
import { Spawner } from './host/spawner.js';
import { RecordingExecutor } from './host/recording.js';
import { CrashingExecutor } from './host/fault.js';
import { checkTools, chooseFirewall, findFirewallTools } from './host/readers.js';
import { firewallOf } from './drivers/index.js';
import { startDaemon } from './daemon.js';
import { Metrics } from './metrics.js';
import pino from 'pino';
import { acceptUpgrades } from './api/hijack.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`cnmd: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let tls: TlsFiles | undefined;
  let gid = 0;
  let release: () => void = () => {};
  try {
    if (config.tlsVerify && config.hosts.some((h) => h.startsWith('tcp://'))) tls = readTlsFiles(config);
    if (config.hosts.some((h) => h.startsWith('unix://'))) gid = socketGroup(config.group, config.instance);
    // before anything touches the host or a socket: a second daemon on this data root stops here
    release = takeDataRoot(config.dataRoot, config.instance);
  } catch (e) {
    process.stderr.write(`cnmd: ${(e as Error).message}\n`);
    process.exit(e instanceof DaemonRunningError ? 1 : 2);
  }
  const metrics = new Metrics();
  const logger = pino({ level: config.logLevel });
  const real = config.dryRun
    ? new RecordingExecutor()
    : new ExecaExecutor(
        (file, seconds, ok) => {
          metrics.commands.observe({ tool: file, ok: String(ok) }, seconds);
          if (process.env.CNMD_TRACE_COMMANDS) process.stderr.write(`cnmd: ${file} ${(seconds * 1000).toFixed(1)} ms\n`);
        },
        new Spawner(undefined, (why) => logger.warn({ why }, 'the spawn helper stopped: it starts again with the next command; after a second time the daemon starts host commands itself')),
      );
  if (real instanceof ExecaExecutor) Object.assign(real.relayLimits, { flows: config.limits.relayFlows, onRefused: () => metrics.refused.inc({ limit: 'relay_flows' }) });
  const exec = withFaultInjection(real);
  const firewallTools = config.dryRun ? { iptables: false, nft: true } : await findFirewallTools(exec);
  if (config.iptables && !config.firewallBackend) config = { ...config, firewallBackend: chooseFirewall(firewallTools) };
  if (!config.dryRun) await checkTools(exec, firewallOf(config));

  let handler: RequestListener | undefined;
  let daemon;
  try {
    daemon = await startDaemon({
      config,
      exec,
      firewallTools,
      metrics,
      logger,
      serverFactory: (h) => {
        handler = h as RequestListener;
        return serverFor(config.hosts[0], handler, tls);
      },
    });
  } catch (e) {
    release();
    throw e;
  }
  const log = daemon.app.log;
  await daemon.app.ready();
  const startup = daemon.reconciler.last;
  if (startup) log.info({ applied: startup.steps.length, steps: startup.steps, durationMs: startup.durationMs }, 'start-up reconcile');

  const servers: Server[] = [];
  const sockets: string[] = [];
  for (const host of config.hosts) {
    const server = servers.length === 0 ? (daemon.app.server as Server) : serverFor(host, handler!, tls);
    if (server !== daemon.app.server) acceptUpgrades(server, handler!);
    if (host.startsWith('unix://')) {
      const path = host.slice('unix://'.length);
      await listenUnix(server, path, gid);
      sockets.push(path);
    } else {
      await listenTcp(server, host);
      if (!tls && isLoopbackListener(host)) {
        log.warn({ host }, 'listening on loopback TCP without TLS (--tls=false): every local user can run commands as root through it');
      }
    }
    servers.push(server);
    log.info({ host, tls: host.startsWith('tcp://') && !!tls, group: host.startsWith('unix://') ? gid : undefined }, 'API listening');
  }
  log.info({ dataRoot: config.dataRoot, dryRun: config.dryRun }, 'cnmd started');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await Promise.all(servers.slice(1).map((s) => new Promise((r) => s.close(r))));
    await daemon.close();
    if (real instanceof ExecaExecutor) real.close();
    for (const p of sockets) if (existsSync(p)) unlinkSync(p);
    release();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The crash suite's hook (src/host/fault.ts): only with CNMD_FAULT_CRASH_AFTER set, armed by SIGUSR2. */
function withFaultInjection(exec: ExecaExecutor | RecordingExecutor) {
  const k = process.env.CNMD_FAULT_CRASH_AFTER;
  if (k === undefined || !/^\d+$/.test(k)) return exec;
  const crashing = new CrashingExecutor(exec, Number(k));
  process.on('SIGUSR2', () => crashing.arm());
  return crashing;
}

main().catch((e) => {
  process.stderr.write(`cnmd: ${(e as Error).message}\n`);
  process.exit(1);
});
