import { EventEmitter } from 'node:events';
import { createClient } from 'redis';
import type { RedisConnectionSettings, RedisTopology } from '../config/settings';
import type { RedisConnection, RedisMaster } from './connection';
import { addressOf, nodeOptions, type NodeClient, type NodeClientTuning } from './node-options';

/**
 * `REDIS_MODE=standalone`: one node-redis client (`createClient`), which
 * reconnects by itself (its `reconnectStrategy`) and emits `ready` each time
 * it can send again; every key lives on the one node, so nothing to route.
 */
export class StandaloneConnection extends EventEmitter implements RedisConnection {
  readonly mode = 'standalone' as const;
  readonly description: string;
  private readonly client: NodeClient;
  private readonly master: RedisMaster;

  constructor(settings: RedisConnectionSettings, topology: Extract<RedisTopology, { mode: 'standalone' }>, tuning: NodeClientTuning) {
    super();
    this.description = `${settings.tls ? 'rediss' : 'redis'}://${addressOf(topology.endpoint)}/${topology.database}`;
    this.client = createClient({ ...nodeOptions(settings, tuning, topology.endpoint), database: topology.database });
    this.client.on('error', (err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
    this.client.on('ready', () => this.emit('ready'));
    this.master = { address: addressOf(topology.endpoint), send: (args) => this.send(args) };
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  send(args: readonly string[]): Promise<unknown> {
    return this.client.sendCommand([...args]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.client.sendCommand([...args]);
  }

  masters(): readonly RedisMaster[] {
    return [this.master];
  }

  bySlot(keys: readonly string[]): string[][] {
    return keys.length ? [[...keys]] : [];
  }

  async connect(): Promise<void> {
    // node-redis retries a first connection by itself (reconnectStrategy).
    await this.client.connect();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  destroy(): void {
    this.client.destroy();
  }
}
