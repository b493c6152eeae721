import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { methodLabel } from '../observability/metric-labels';
import { requestContextOf } from './request-context';

/**
 * One log line and one histogram sample per answered request. The line holds
 * no header, cookie or body: only what an operator needs to follow a request.
 */
export function accessLog(listener: 'public' | 'internal', logger: Logger, metrics: Metrics): RequestHandler {
  // The line below holds fixed keys only, none of which the redaction paths name, so running the
  // redaction over it (a walk of every wildcard path: 3.5 of the 5.5 µs of a line) changes nothing.
  // Keep it that way: a new key holding a credential belongs in a logger that redacts.
  const lines = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const context = requestContextOf(res);
      const route = context.route ?? 'unmatched';
      metrics.httpRequestDuration.observe({ listener, route, method: methodLabel(req.method), status: String(res.statusCode) }, seconds);
      if (route === '/healthz' || route === '/readyz' || route === '/metrics') return;
      const line: Record<string, unknown> = {
        requestId: context.requestId,
        listener,
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1e6) / 1e3,
      };
      if (context.upstreamErrorCode !== undefined) line.upstreamErrorCode = context.upstreamErrorCode;
      if (context.problemCode) line.error = context.problemCode;
      if (context.callerKeyId) line.caller = context.callerKeyId;
      const tp = req.headers.traceparent;
      if (typeof tp === 'string' && tp.length <= 55) line.traceparent = tp;
      if (res.statusCode >= 500) lines.warn(line, 'request');
      else lines.info(line, 'request');
    });
    next();
  };
}
