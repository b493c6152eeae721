import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSandboxHandler, DEFAULT_BASE_PATH, normaliseBasePath } from './pipeline';
import type { Sandbox, SandboxServerOptions } from './types';

function urlHost(host: string): string {
  // A wildcard address is reached through the loopback; IPv6 literals need brackets in a URL.
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the simulator on its own `node:http` server. */
export async function startSandbox(options: SandboxServerOptions): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const basePath = normaliseBasePath(options.basePath ?? DEFAULT_BASE_PATH);
  const sandbox = createSandboxHandler({ ...options, basePath });
  const server = createServer(sandbox.handler);
  // Benchmarks keep connections open between bursts; Node's 5 s default would reset them.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}${basePath}`;
  let closing: Promise<void> | undefined;

  return {
    url,
    port,
    readings: sandbox.readings,
    get calls() {
      return sandbox.calls;
    },
    callCount: sandbox.callCount,
    resetCalls: sandbox.resetCalls,
    injectFault: sandbox.injectFault,
    clearFaults: sandbox.clearFaults,
    expireBackendTokens: sandbox.expireBackendTokens,
    killUserTokens: sandbox.killUserTokens,
    userPoints: sandbox.userPoints,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        sandbox.dispose();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
