import type { SandboxReadings } from './types';

/**
 * The settings of `npm run sandbox`, once, as data: main.ts reads them, and a test holds
 * src/sandbox/README.md against this table. Every strictness reading of the simulator is one of
 * them, so a partner can run the sandbox exactly as strict as the upstream they expect.
 */
export type SandboxSettingKind =
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  | { readonly type: 'text' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'bool' };

export interface SandboxSettingDefinition {
  readonly name: string;
  readonly kind: SandboxSettingKind;
  /** As written in the environment; undefined: none (SANDBOX_PARTNER_SECRET is then random). */
  readonly default?: string;
  readonly description: string;
}

export const sandboxSettingsTable: readonly SandboxSettingDefinition[] = [
  { name: 'SANDBOX_PORT', kind: { type: 'int', min: 0, max: 65535 }, default: '8787', description: 'Port to listen on (0: any free port).' },
  { name: 'SANDBOX_HOST', kind: { type: 'text' }, default: '127.0.0.1', description: 'Address to listen on.' },
  { name: 'SANDBOX_PARTNER_ID', kind: { type: 'text' }, default: 'sandbox-partner', description: 'The one partner id it knows.' },
  { name: 'SANDBOX_PARTNER_SECRET', kind: { type: 'text' }, description: 'That partner\'s secret; random when unset (printed at start).' },
  { name: 'SANDBOX_CLOCK_SKEW_SECONDS', kind: { type: 'int', min: 0, max: 86_400 }, default: '300', description: 'Accepted distance between `iat` and its clock, both ways (errorCode 8 beyond).' },
  { name: 'SANDBOX_TOKEN_TTL_SECONDS', kind: { type: 'int', min: 1, max: 31_536_000 }, default: '3600', description: 'Life of a back-end token from `auth/token`.' },
  { name: 'SANDBOX_JSON_ENCODING', kind: { type: 'enum', values: ['any', 'php', 'standard'] }, default: 'any', description: 'Required encoding of the body and `data_header`: `php` (`json_encode`: `\\/`, `\\uXXXX`), `standard` (`JSON.stringify`), or `any` (raw bytes compared only).' },
  { name: 'SANDBOX_SIGNED_HEADERS_FORMAT', kind: { type: 'enum', values: ['any', 'object', 'list'] }, default: 'any', description: 'Required shape of `data_header`: `object` (`{"Name":"value"}`), `list` (`["Name: value"]`) or `any`.' },
  { name: 'SANDBOX_EMPTY_BODY', kind: { type: 'enum', values: ['any', '{}', '[]'] }, default: 'any', description: 'Required text of a body without parameters: `{}`, `[]` or `any`.' },
  { name: 'SANDBOX_SIGNATURE_HEADER', kind: { type: 'text' }, default: 'Authorization', description: 'Header that carries the signature JWT (`Authorization`: as `Bearer <jwt>`).' },
  { name: 'SANDBOX_REENCODE_CHECK', kind: { type: 'bool' }, default: 'false', description: 'Compare `data_body` with the PHP re-encoding of the decoded body instead of the raw bytes, as a re-encoding upstream would.' },
];

export interface SandboxProcessSettings {
  readonly port: number;
  readonly host: string;
  readonly partnerId: string;
  readonly partnerSecret: string | undefined;
  readonly clockSkewSeconds: number;
  readonly backendTokenTtlSeconds: number;
  readonly readings: Required<SandboxReadings>;
}

/** Start-up refused: one line per problem, each naming the setting. */
export class SandboxSettingsError extends Error {
  readonly code = 'ERR_SANDBOX_SETTINGS';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid sandbox settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SandboxSettingsError';
  }
}

type Value = string | number | boolean | undefined;

function parse(def: SandboxSettingDefinition, raw: string, problems: string[]): Value {
  const text = raw.trim();
  switch (def.kind.type) {
    case 'int': {
      const value = Number(text);
      if (!/^\d+$/.test(text) || value < def.kind.min || value > def.kind.max) {
        problems.push(`${def.name}: must be an integer from ${def.kind.min} to ${def.kind.max} (got ${JSON.stringify(raw)}).`);
        return undefined;
      }
      return value;
    }
    case 'enum':
      if (!def.kind.values.includes(text)) {
        problems.push(`${def.name}: must be one of ${def.kind.values.join(', ')} (got ${JSON.stringify(raw)}).`);
        return undefined;
      }
      return text;
    case 'bool':
      if (text !== 'true' && text !== 'false') {
        problems.push(`${def.name}: must be true or false (got ${JSON.stringify(raw)}).`);
        return undefined;
      }
      return text === 'true';
    case 'text':
      return text;
  }
}

/** Reads every SANDBOX_* setting; throws one `SandboxSettingsError` listing every problem. */
export function loadSandboxSettings(env: Readonly<Record<string, string | undefined>>): SandboxProcessSettings {
  const problems: string[] = [];
  const values = new Map<string, Value>();
  for (const def of sandboxSettingsTable) {
    const given = env[def.name];
    const raw = given === undefined || given.trim() === '' ? def.default : given;
    values.set(def.name, raw === undefined ? undefined : parse(def, raw, problems));
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith('SANDBOX_') && !sandboxSettingsTable.some((s) => s.name === key)) problems.push(`${key}: unknown setting.`);
  }
  const signatureHeader = values.get('SANDBOX_SIGNATURE_HEADER') as string;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(signatureHeader)) problems.push(`SANDBOX_SIGNATURE_HEADER: ${JSON.stringify(signatureHeader)} is not an HTTP header name.`);
  if (problems.length > 0) throw new SandboxSettingsError(problems);
  return {
    port: values.get('SANDBOX_PORT') as number,
    host: values.get('SANDBOX_HOST') as string,
    partnerId: values.get('SANDBOX_PARTNER_ID') as string,
    partnerSecret: values.get('SANDBOX_PARTNER_SECRET') as string | undefined,
    clockSkewSeconds: values.get('SANDBOX_CLOCK_SKEW_SECONDS') as number,
    backendTokenTtlSeconds: values.get('SANDBOX_TOKEN_TTL_SECONDS') as number,
    readings: {
      jsonEncoding: values.get('SANDBOX_JSON_ENCODING') as Required<SandboxReadings>['jsonEncoding'],
      signedHeadersFormat: values.get('SANDBOX_SIGNED_HEADERS_FORMAT') as Required<SandboxReadings>['signedHeadersFormat'],
      emptyBody: values.get('SANDBOX_EMPTY_BODY') as Required<SandboxReadings>['emptyBody'],
      signatureHeader,
      reEncodeCheck: values.get('SANDBOX_REENCODE_CHECK') as boolean,
    },
  };
}
