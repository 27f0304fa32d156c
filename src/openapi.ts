/** The OpenAPI document of the routes, built from their schemas without touching the host. */
import { loadConfig } from './config.js';
import { RecordingExecutor } from './host/recording.js';
import { startDaemon } from './daemon.js';

export async function openapiDocument(): Promise<string> {
  const config = loadConfig(['--data-root', '/nonexistent', '--reconcile-interval', '0'], () => undefined);
  const d = await startDaemon({ config, exec: new RecordingExecutor(), dbPath: ':memory:', buildOpenapi: true });
  try {
    await d.app.ready();
    return JSON.stringify(d.app.swagger(), null, 2) + '\n';
  } finally {
    await d.close();
  }
}
