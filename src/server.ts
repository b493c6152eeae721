import { createApp } from './app';
import { loadSettings, SettingsError } from './config/load';
import { listenService } from './listen';
import { tuneHeapGrowth } from './process/heap-growth';

// First thing: the collections' pace applies to every allocation after it.
tuneHeapGrowth();

/**
 * The process entry: settings, app, listeners, and a graceful SIGTERM. A
 * refused start prints one line per problem, naming the setting, and exits 1.
 */
async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings(process.env);
  } catch (err) {
    if (err instanceof SettingsError) {
      for (const p of err.problems) process.stderr.write(`miles-bff: refused to start: ${p}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(settings);
  const running = await listenService(app);
  app.logger.info(
    { public: running.publicUrl, internal: running.internalUrl, upstream: settings.upstream.kind, identity: settings.identity.mode },
    `miles-bff listening: public ${running.publicUrl}, internal ${running.internalUrl}`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'draining: readiness off, finishing in-flight requests');
    running
      .stop()
      .then(() => {
        app.logger.info('stopped');
        app.logger.flush?.();
        process.exit(0);
      })
      .catch((err: unknown) => {
        app.logger.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`miles-bff: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
