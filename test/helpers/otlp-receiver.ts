import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An attribute value as OTLP/JSON encodes it (`intValue` is a string when it exceeds 2^53). */
type AnyValue =
  | { stringValue: string }
  | { intValue: number | string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values?: AnyValue[] } }
  | { kvlistValue: { values?: KeyValue[] } }
  | { bytesValue: string };
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  events?: { name: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface ExportTraceServiceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { scope?: { name: string }; spans?: OtlpSpan[] }[] }[];
}

export type AttributeValue = string | number | boolean | readonly AttributeValue[] | { readonly [key: string]: AttributeValue };

/** One span as received, decoded. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly scope: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: readonly { readonly name: string; readonly attributes: Readonly<Record<string, AttributeValue>> }[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, AttributeValue>>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

function valueOf(v: AnyValue): AttributeValue {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(valueOf);
  if ('kvlistValue' in v) return attributesOf(v.kvlistValue.values);
  return v.bytesValue;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

/**
 * A real OTLP/HTTP trace receiver on a free loopback port: `POST /v1/traces` with OTLP/JSON
 * bodies (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), decoded into spans. Anything else is
 * recorded as a protocol error and answered 415/404, so a test sees it rather than missing spans.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly errors: string[] = [];
  /** Raw bodies as received, for searching them whole. */
  readonly bodies: string[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.writeHead(this.receive(req.method, req.url, req.headers['content-type'], Buffer.concat(chunks).toString('utf8')), { 'Content-Type': 'application/json' }).end('{}'));
  });

  private constructor() {}

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** One export request: its HTTP status. */
  private receive(method: string | undefined, url: string | undefined, contentType: string | undefined, text: string): number {
    if (method !== 'POST' || url !== '/v1/traces') {
      this.errors.push(`${method ?? '?'} ${url ?? '?'}`);
      return 404;
    }
    if (!(contentType ?? '').startsWith('application/json')) {
      this.errors.push(`content-type ${contentType ?? 'none'}`);
      return 415;
    }
    try {
      this.accept(text);
    } catch (err) {
      this.errors.push(`undecodable body: ${(err as Error).message}`);
      return 400;
    }
    return 200;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private accept(text: string): void {
    const request = JSON.parse(text) as ExportTraceServiceRequest;
    this.bodies.push(text);
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: s.kind,
            scope: ss.scope?.name ?? '',
            attributes: attributesOf(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
            statusCode: s.status?.code ?? 0,
            resource,
          });
        }
      }
    }
  }

  /** The spans of one trace, once `ready` holds for them (the exporter sends in batches). */
  async trace(traceId: string, ready: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<readonly ReceivedSpan[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const spans = this.spans.filter((s) => s.traceId === traceId);
      if (ready(spans)) return spans;
      if (Date.now() > end) throw new Error(`trace ${traceId}: spans never complete; received ${JSON.stringify(spans.map((s) => s.name))}; errors ${JSON.stringify(this.errors)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
