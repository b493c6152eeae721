import { loadSettings, SettingsError } from './config/load';
import { tracingRequested } from './observability/tracing';
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
  // Before the app's modules load: the instrumentations hook `node:http` and `redis` as they are
  // required. Without OTEL_EXPORTER_OTLP_ENDPOINT the SDK is not even loaded.
  // The route a request matched names its span; request-context.ts loads neither `node:http` nor `redis`.
  const tracing = tracingRequested(process.env)
    ? (await import('./observability/tracing-sdk')).startTracingSdk(process.env, (await import('./http/request-context')).matchedRouteOf)
    : undefined;
  const { createApp } = await import('./app');
  const { listenService } = await import('./listen');
  const app = await createApp(settings, { tracing: tracing !== undefined });
  for (const warning of settings.warnings) app.logger.warn({ setting: warning.slice(0, warning.indexOf(':')) }, warning);
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
      // The spans of the last requests, still in the exporter's batch.
      .then(() => tracing?.shutdown().catch((err: unknown) => app.logger.warn({ err }, 'some spans could not be exported before stopping')))
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
