import { randomBytes } from 'node:crypto';
import { startSandbox } from './index';
import { loadSandboxSettings, SandboxSettingsError } from './settings';

/**
 * `npm run sandbox`: the simulator as its own process, for building a front-end offline.
 * Settings come from SANDBOX_* environment variables (settings.ts); the secret is printed
 * because this is a local sandbox, never a production upstream.
 */
async function main(): Promise<void> {
  const settings = loadSandboxSettings(process.env);
  const secret = settings.partnerSecret ?? randomBytes(32).toString('hex');
  const { readings } = settings;

  const sandbox = await startSandbox({
    port: settings.port,
    host: settings.host,
    clockSkewSeconds: settings.clockSkewSeconds,
    backendTokenTtlSeconds: settings.backendTokenTtlSeconds,
    partners: [{ id: settings.partnerId, secret }],
    readings,
    logger: (line) => console.log(line),
  });

  console.log(
    [
      '================================================================',
      ' app\'s miles SANDBOX SIMULATOR - LOCAL DEVELOPMENT ONLY.',
      ' NOT FOR PRODUCTION: in-memory, demo program, secret printed below.',
      '================================================================',
      ` APM_BASE_URL=${sandbox.url}`,
      ` APM_PARTNER_ID=${settings.partnerId}`,
      ` APM_PARTNER_SECRET=${secret}`,
      '----------------------------------------------------------------',
      ` readings: JSON encoding ${readings.jsonEncoding}, data_header ${readings.signedHeadersFormat},` +
        ` empty body ${readings.emptyBody}, signature in ${readings.signatureHeader},` +
        ` ${readings.reEncodeCheck ? 'data_body compared with the PHP re-encoding' : 'data_body compared byte for byte'}`,
      '================================================================',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`sandbox: ${signal} received, closing`);
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof SandboxSettingsError) {
    for (const problem of err.problems) console.error(`sandbox: refused to start: ${problem}`);
  } else {
    console.error(`sandbox: cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(1);
});
