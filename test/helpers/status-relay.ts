import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A relay in front of a real upstream (the sandbox) that passes every request
 * and answer through unchanged, except the answers of the paths it is told to
 * rewrite: another HTTP status, or the upstream's own body reshaped. For the
 * answers a real API might give that the simulator never does (errorCode 0
 * under a 4xx, an `auth/token` answer with other field names).
 */
export interface StatusRelay {
  /** Base URL to use as `APM_BASE_URL` (same base path as the target). */
  readonly url: string;
  /** Answers to `path` (relative to the base, `partner/getprog`) get `status` instead of theirs. */
  rewrite(path: string, status: number): void;
  /** Answers to `path` get `reshape(their parsed JSON body)`, re-encoded. */
  reshape(path: string, reshape: (body: Record<string, unknown>) => unknown): void;
  clear(): void;
  close(): Promise<void>;
}

export async function startStatusRelay(targetBaseUrl: string): Promise<StatusRelay> {
  const target = new URL(targetBaseUrl);
  const rewrites = new Map<string, number>();
  const reshapes = new Map<string, (body: Record<string, unknown>) => unknown>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            const path = (req.url ?? '').slice(target.pathname.length);
            const reshape = reshapes.get(path);
            let text = Buffer.concat(body);
            if (reshape) text = Buffer.from(JSON.stringify(reshape(JSON.parse(text.toString('utf8')) as Record<string, unknown>)));
            res.writeHead(rewrites.get(path) ?? answer.statusCode ?? 502, { ...answer.headers, 'content-length': String(text.length) });
            res.end(text);
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    rewrite: (path, status) => void rewrites.set(path, status),
    reshape: (path, reshape) => void reshapes.set(path, reshape),
    clear: () => {
      rewrites.clear();
      reshapes.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
