#!/usr/bin/env node
/** cnmd: parse the configuration, start the daemon, listen on every -H address, stop cleanly on signals. */
import http from 'node:http';
import { chmodSync, existsSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RequestListener } from 'node:http';
import { loadConfig, ConfigError } from './config.js';
import { ExecaExecutor } from './host/executor.js';
import { RecordingExecutor } from './host/recording.js';
import { CrashingExecutor } from './host/fault.js';
import { checkTools } from './host/readers.js';
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
  const metrics = new Metrics();
  const real = config.dryRun
    ? new RecordingExecutor()
    : new ExecaExecutor((file, seconds, ok) => {
        metrics.commands.observe({ tool: file, ok: String(ok) }, seconds);
        if (process.env.CNMD_TRACE_COMMANDS) process.stderr.write(`cnmd: ${file} ${(seconds * 1000).toFixed(1)} ms\n`);
      });
  const exec = withFaultInjection(real);
  if (!config.dryRun) await checkTools(exec, config.iptables);

  let handler: RequestListener | undefined;
  const daemon = await startDaemon({
    config,
    exec,
    metrics,
    logger: pino({ level: config.logLevel }),
    serverFactory: (h) => {
      handler = h as RequestListener;
      return http.createServer(h);
    },
  });
  const log = daemon.app.log;
  await daemon.app.ready();
  const startup = daemon.reconciler.last;
  if (startup) log.info({ applied: startup.steps.length, steps: startup.steps, durationMs: startup.durationMs }, 'start-up reconcile');

  const servers: http.Server[] = [];
  const sockets: string[] = [];
  for (const host of config.hosts) {
    const server = servers.length === 0 ? daemon.app.server : http.createServer(handler!);
    if (server !== daemon.app.server) acceptUpgrades(server, handler!);
    if (host.startsWith('unix://')) {
      const path = host.slice('unix://'.length);
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) unlinkSync(path);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
      chmodSync(path, 0o660);
      sockets.push(path);
    } else {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), resolve));
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
        log.warn({ host }, 'listening on a non-loopback TCP address without authentication: anyone who can reach it controls this host\'s networking');
      }
    }
    servers.push(server);
    log.info({ host }, 'API listening');
  }
  log.info({ dataRoot: config.dataRoot, dryRun: config.dryRun }, 'cnmd started');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await Promise.all(servers.slice(1).map((s) => new Promise((r) => s.close(r))));
    await daemon.close();
    for (const p of sockets) if (existsSync(p)) unlinkSync(p);
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
