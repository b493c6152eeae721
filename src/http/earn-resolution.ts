import type { Logger } from '../observability/logger';
import { endpoint as catalogueEntry, type EndpointSpec } from '../upstream/catalogue';
import type { UpstreamClient } from '../upstream/client';
import { JSON_TYPE, type HttpAnswer } from '../upstream/http-answer';
import type { UnknownOutcomeResolution } from './idempotency';
import { ErrorCode } from '../upstream/error-code';


export interface EarnResolutionOptions {
  /** IDEMPOTENCY_RESOLVE_ACTIONS: `auto`, action names, or `none`. */
  readonly actions: readonly string[];
  readonly client: UpstreamClient;
  readonly logger: Logger;
}

/**
 * The resolution of an earn's unknown outcome (see `UnknownOutcomeResolution`), or undefined
 * when the request cannot have one: not an earn (the catalogue entry's `earn`), or no unique field (`param1`).
 */
export type EarnResolution = (endpoint: EndpointSpec, input: Readonly<Record<string, unknown>>, requestId: string) => UnknownOutcomeResolution | undefined;

/**
 * Settles an earn whose outcome is unknown by sending it again, for the actions where the
 * upstream's errorCode 7 can only mean "this `action` + `param1` is already stored": those with a
 * unique `param1` and no per-user limit (a 7 from a limit would prove nothing). The answer to a
 * 7 is then the success it proves, in the upstream's envelope shape:
 * `{"errorCode":0,"errorMsg":"ok","data":{"alreadyApplied":true,"action":…,"param1":…}}` (200);
 * the earn and the new balance are not in it, the history and the balance show them.
 *
 * @example
 * const resolutionOf = createEarnResolution({ actions: settings.idempotencyResolveActions, client, logger });
 * await idempotency.run(scope, key, fingerprint, exec, requestId, { resolution: resolutionOf(endpoint, input, requestId) });
 */
export function createEarnResolution(options: EarnResolutionOptions): EarnResolution {
  const { client, logger } = options;
  const auto = options.actions.length === 1 && options.actions[0] === 'auto';
  const named = new Set(auto ? [] : options.actions.filter((a) => a !== 'none'));
  if (!auto && named.size === 0) return () => undefined;
  const program = catalogueEntry('partner/getprog');

  /** Whether the program lists the action without a per-user limit (asked only when a resolution is due: rare). */
  async function unlimited(action: string, requestId: string): Promise<boolean> {
    try {
      const answer = await client.call({ endpoint: program, sub: '', body: {}, requestId });
      const actions = (answer.envelope.data as { actions?: unknown } | undefined)?.actions;
      if (answer.errorCode !== ErrorCode.Ok || !Array.isArray(actions)) return false;
      const entry = actions.find((a): a is { action: string; maxPerUser?: unknown } => typeof a === 'object' && a !== null && (a as { action?: unknown }).action === action);
      return entry !== undefined && entry.maxPerUser === undefined;
    } catch (err) {
      // Not knowing the program keeps the 504: the safe answer.
      logger.warn({ requestId, err: { message: (err as Error).message } }, 'idempotency: the program could not be read to settle an unknown outcome; it stays unknown');
      return false;
    }
  }

  return (endpoint, input, requestId) => {
    if (!endpoint.earn) return undefined;
    const action = input[endpoint.earn.actionField];
    const param1 = input[endpoint.earn.uniqueField];
    if (typeof action !== 'string' || typeof param1 !== 'string' || param1 === '') return undefined;
    return {
      qualifies: async () => (auto ? unlimited(action, requestId) : named.has(action)),
      settle(answer: HttpAnswer): HttpAnswer {
        if (answer.errorCode !== ErrorCode.AlreadyApplied) return answer;
        const body = JSON.stringify({ errorCode: ErrorCode.Ok, errorMsg: 'ok', data: { alreadyApplied: true, action, param1 } });
        return { status: 200, body, contentType: JSON_TYPE, errorCode: ErrorCode.Ok };
      },
    };
  };
}
