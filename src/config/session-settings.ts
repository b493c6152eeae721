import type { SettingsReader } from './environment';
import type { Settings } from './settings';

/**
 * The `SESSION_*`, `TOKEN_ENCRYPTION_KEY` and `COOKIE_*` settings: how
 * sessions are signed, how long they live, how `userToken`s are sealed at
 * rest, and the session cookie's flags.
 */
export function readSessionSettings(r: SettingsReader): Settings['session'] {
  const secrets = r.get('SESSION_SECRET') ?? [];
  r.need(!r.production || secrets.length > 0, 'SESSION_SECRET: required when NODE_ENV=production (32 characters or more).');
  secrets.forEach((s, i) => r.need(s.length >= 32, `SESSION_SECRET: secret #${i + 1} is shorter than 32 characters.`));

  const tokenEncryptionKeys = (r.get('TOKEN_ENCRYPTION_KEY') ?? []).map((k, i) => {
    const buf = /^[0-9a-fA-F]{64}$/.test(k) ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64');
    r.need(buf.length === 32, `TOKEN_ENCRYPTION_KEY: key #${i + 1} is not 32 bytes (64 hex or 44 base64 characters).`);
    return buf;
  });

  const cookieSecure = r.get('COOKIE_SECURE');
  const cookieSameSite = r.get('COOKIE_SAMESITE');
  r.need(!(cookieSameSite === 'none' && !cookieSecure), 'COOKIE_SAMESITE: none needs COOKIE_SECURE=true (browsers refuse it otherwise).');
  if (r.production) r.need(cookieSecure, 'COOKIE_SECURE: false is refused when NODE_ENV=production.');

  const idleTtlSeconds = r.get('SESSION_TTL_SECONDS');
  const absoluteTtlSeconds = r.get('SESSION_ABSOLUTE_TTL_SECONDS');
  r.need(absoluteTtlSeconds >= idleTtlSeconds, 'SESSION_ABSOLUTE_TTL_SECONDS: must not be shorter than SESSION_TTL_SECONDS.');

  const cookieBase = r.get('SESSION_COOKIE_NAME');
  return {
    secrets,
    cookieName: cookieSecure ? `__Host-${cookieBase}` : cookieBase,
    idleTtlSeconds,
    absoluteTtlSeconds,
    maxPerUser: r.get('SESSION_MAX_PER_USER'),
    tokenEncryptionKeys,
    cookieSecure,
    cookieSameSite,
  };
}
