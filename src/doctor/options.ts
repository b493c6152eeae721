/** The command line of `npm run doctor`. */

export interface DoctorOptions {
  /** Print the report as JSON. */
  readonly json: boolean;
  /** Headers to try as the signature header besides `Authorization` and the current `APM_SIGNATURE_HEADER`. */
  readonly signatureHeaders: readonly string[];
  /** Pause between two upstream calls. */
  readonly pauseMs: number;
  /** Limit of the whole upstream search. */
  readonly timeLimitMs: number;
  readonly help: boolean;
}

export const DEFAULT_PAUSE_MS = 250;
export const DEFAULT_TIME_LIMIT_SECONDS = 60;

export const USAGE = `Usage: npm run doctor -- [options]     (in the image: node dist/doctor.js [options])

Checks the settings of this environment against Redis and the upstream before going live.
Read-only: it never changes upstream state.

  --json                        the report as JSON
  --signature-header NAME       also try NAME as the signature header (repeatable, or a comma list)
  --pause-ms N                  pause between two upstream calls (default ${DEFAULT_PAUSE_MS}, 0-10000)
  --time-limit-seconds N        limit of the whole upstream search (default ${DEFAULT_TIME_LIMIT_SECONDS}, 1-600)
  --help                        this text

Exit status: 0 when every needed check passes, 1 when one fails, 2 on a bad option.
`;

/** A bad command line. */
export class DoctorUsageError extends Error {
  readonly code = 'ERR_DOCTOR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'DoctorUsageError';
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers every call signs: none of them can carry the signature. */
const SIGNED = new Set(['content-type', 'accept', 'x-request-id']);

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new DoctorUsageError(`${flag} takes a whole number from ${min} to ${max}${text === undefined ? '' : ` (got ${JSON.stringify(text)})`}`);
  }
  return Number(text);
}

/**
 * @example
 * parseDoctorArgs(['--json', '--signature-header', 'X-Apm-Signature'])
 */
export function parseDoctorArgs(argv: readonly string[]): DoctorOptions {
  let json = false;
  let help = false;
  let pauseMs = DEFAULT_PAUSE_MS;
  let timeLimitMs = DEFAULT_TIME_LIMIT_SECONDS * 1000;
  const signatureHeaders: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[(i += 1)];
    switch (flag) {
      case '--json':
        json = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      case '--signature-header': {
        const names = (value() ?? '').split(',').map((n) => n.trim()).filter(Boolean);
        if (names.length === 0) throw new DoctorUsageError('--signature-header takes a header name');
        for (const name of names) {
          if (!HEADER_NAME.test(name)) throw new DoctorUsageError(`--signature-header: ${JSON.stringify(name)} is not an HTTP header name`);
          if (SIGNED.has(name.toLowerCase())) throw new DoctorUsageError(`--signature-header: ${name} is itself a signed header`);
          signatureHeaders.push(name);
        }
        break;
      }
      case '--pause-ms':
        pauseMs = integer('--pause-ms', value(), 0, 10_000);
        break;
      case '--time-limit-seconds':
        timeLimitMs = integer('--time-limit-seconds', value(), 1, 600) * 1000;
        break;
      default:
        throw new DoctorUsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  return { json, help, pauseMs, timeLimitMs, signatureHeaders };
}
