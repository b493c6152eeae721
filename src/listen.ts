import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MilesApp } from './app';

export interface RunningService {
  readonly publicServer: Server;
  readonly internalServer: Server;
  readonly publicUrl: string;
  readonly internalUrl: string;
  /**
   * Graceful stop: readiness turns false at once, new requests are refused,
   * every answer from then on carries `Connection: close`, in-flight ones
   * complete (up to `timeoutMs`), then connections close.
   */
  stop(timeoutMs?: number): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts both listeners; port 0 picks free ports (tests). */
export async function listenService(app: MilesApp, ports: { port?: number; internalPort?: number; host?: string } = {}): Promise<RunningService> {
  const host = ports.host ?? app.settings.host;
  const publicServer: Server = createServer(app.publicApp);
  const internalServer = createServer(app.internalApp);
  // Longer than any load balancer's idle timeout, so it never reuses a socket we just closed.
  publicServer.keepAliveTimeout = 65_000;
  publicServer.headersTimeout = 66_000;
  publicServer.requestTimeout = 30_000;
  const closeAfterAnswer = closeConnectionsWhileDraining(publicServer, app);
  const publicPort = await listen(publicServer, ports.port ?? app.settings.port, host);
  const internalPort = await listen(internalServer, ports.internalPort ?? app.settings.internalPort, host);
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  async function closeServer(server: Server, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      timer.unref();
      // Idle keep-alive sockets would hold close() open; busy ones finish their
      // request first and are closed as soon as they turn idle.
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      server.close(() => {
        clearTimeout(timer);
        clearInterval(sweeper);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  return {
    publicServer: publicServer,
    internalServer,
    publicUrl: `http://${local}:${publicPort}`,
    internalUrl: `http://${local}:${internalPort}`,
    async stop(timeoutMs = app.settings.shutdownTimeoutMs) {
      app.lifecycle.startDraining();
      closeAfterAnswer();
      // A keep-alive connection idle right now may already carry the client's next request: closing
      // it would reset that request. It gets the grace to arrive (and its answer closes the connection).
      const grace = Math.min(app.settings.shutdownIdleGraceMs, timeoutMs);
      if (grace > 0) await untilNoConnection(publicServer, grace);
      await closeServer(publicServer, Math.max(0, timeoutMs - grace));
      await closeServer(internalServer, 1000);
      await app.close();
    },
  };
}

/**
 * Once the service drains, every answer on `server` carries `Connection: close`, the answers in
 * flight included: the client (or the ingress) then never sends another request on a connection
 * that is about to close, which it would see reset. Node closes such a connection itself once
 * the answer is sent. Returns what to call when draining starts.
 */
function closeConnectionsWhileDraining(server: Server, app: MilesApp): () => void {
  const unanswered = new Set<ServerResponse>();
  // Before the app's own listener, so that even an answer sent at once carries the header.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (app.lifecycle.draining) {
      res.setHeader('Connection', 'close');
      return;
    }
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  return () => {
    for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
    unanswered.clear();
  };
}

/** Resolves once `server` holds no connection, or after `ms`. */
async function untilNoConnection(server: Server, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const open = await new Promise<number>((resolve) => server.getConnections((err, count) => resolve(err ? 1 : count)));
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, until - Date.now()))));
  }
}
