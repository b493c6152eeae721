import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MilesApp } from './app';

export interface RunningService {
  readonly publicServer: Server;
  readonly internalServer: Server;
  readonly publicUrl: string;
  readonly internalUrl: string;
  /**
   * Graceful stop: readiness turns false at once, new requests are refused,
   * in-flight ones complete (up to `timeoutMs`), then connections close.
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
      await closeServer(publicServer, timeoutMs);
      await closeServer(internalServer, 1000);
      await app.close();
    },
  };
}
