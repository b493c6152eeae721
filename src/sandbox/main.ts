import { randomBytes } from 'node:crypto';
import { startSandbox } from './index';

/**
 * `npm run sandbox`: the simulator as its own process, for building a front-end offline.
 * Settings come from SANDBOX_* environment variables; the secret is printed because this is
 * a local sandbox, never a production upstream.
 */

class SettingError extends Error {}

function integerSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) throw new SettingError(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return value;
}

function textSetting(name: string, fallback: string): string {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

async function main(): Promise<void> {
  const port = integerSetting('SANDBOX_PORT', 8787, 0, 65535);
  const host = textSetting('SANDBOX_HOST', '127.0.0.1');
  const clockSkewSeconds = integerSetting('SANDBOX_CLOCK_SKEW_SECONDS', 300, 0, 86_400);
  const backendTokenTtlSeconds = integerSetting('SANDBOX_TOKEN_TTL_SECONDS', 3600, 1, 31_536_000);
  const partnerId = textSetting('SANDBOX_PARTNER_ID', 'sandbox-partner');
  const secret = process.env.SANDBOX_PARTNER_SECRET || randomBytes(32).toString('hex');

  const sandbox = await startSandbox({
    port,
    host,
    clockSkewSeconds,
    backendTokenTtlSeconds,
    partners: [{ id: partnerId, secret }],
    logger: (line) => console.log(line),
  });

  console.log(
    [
      '================================================================',
      ' app\'s miles SANDBOX SIMULATOR - LOCAL DEVELOPMENT ONLY.',
      ' NOT FOR PRODUCTION: in-memory, demo program, secret printed below.',
      '================================================================',
      ` APM_BASE_URL=${sandbox.url}`,
      ` APM_PARTNER_ID=${partnerId}`,
      ` APM_PARTNER_SECRET=${secret}`,
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
  console.error(`sandbox: cannot start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
