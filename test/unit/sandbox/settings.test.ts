import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSandboxSettings, SandboxSettingsError, sandboxSettingsTable } from '../../../src/sandbox/settings';

describe('settings of npm run sandbox', () => {
  it('default to the lenient readings (raw bytes compared only) on port 8787', () => {
    expect(loadSandboxSettings({})).toEqual({
      port: 8787,
      host: '127.0.0.1',
      partnerId: 'sandbox-partner',
      partnerSecret: undefined,
      clockSkewSeconds: 300,
      backendTokenTtlSeconds: 3600,
      readings: { jsonEncoding: 'any', signedHeadersFormat: 'any', emptyBody: 'any', signatureHeader: 'Authorization', reEncodeCheck: false },
    });
  });

  it('read every strictness reading', () => {
    const settings = loadSandboxSettings({
      SANDBOX_JSON_ENCODING: 'php',
      SANDBOX_SIGNED_HEADERS_FORMAT: 'object',
      SANDBOX_EMPTY_BODY: '{}',
      SANDBOX_SIGNATURE_HEADER: 'X-Signature',
      SANDBOX_REENCODE_CHECK: 'true',
    });
    expect(settings.readings).toEqual({ jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'X-Signature', reEncodeCheck: true });
  });

  it('refuse bad values and unknown names, one problem each', () => {
    let error: unknown;
    try {
      loadSandboxSettings({ SANDBOX_PORT: '70000', SANDBOX_SIGNED_HEADERS_FORMAT: 'array', SANDBOX_REENCODE_CHECK: 'yes', SANDBOX_SIGNATURE_HEADER: 'X Sig', SANDBOX_PORTT: '1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SandboxSettingsError);
    expect((error as SandboxSettingsError).problems).toEqual([
      'SANDBOX_PORT: must be an integer from 0 to 65535 (got "70000").',
      'SANDBOX_SIGNED_HEADERS_FORMAT: must be one of any, object, list (got "array").',
      'SANDBOX_REENCODE_CHECK: must be true or false (got "yes").',
      'SANDBOX_PORTT: unknown setting.',
      'SANDBOX_SIGNATURE_HEADER: "X Sig" is not an HTTP header name.',
    ]);
  });

  it('are each documented in src/sandbox/README.md with their default', () => {
    const readme = readFileSync(join(__dirname, '../../../src/sandbox/README.md'), 'utf8');
    for (const def of sandboxSettingsTable) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${def.name}\` |`));
      expect([def.name, row !== undefined]).toEqual([def.name, true]);
      if (def.default !== undefined) expect([def.name, row!.includes(`\`${def.default}\``)]).toEqual([def.name, true]);
    }
  });
});
