import { createClient, createSentinel } from 'redis';
import type { RedisConnectionSettings, RedisEndpoint, RedisTopology } from '../config/settings';
import type { RedisConnection, RedisMaster } from './connection';
import { addressOf, nodeOptions, RESP_VERSION, socketOptions, type NodeClientTuning, type NodeOptions, type SentinelClient } from './node-options';
import { RedisNotConnected, WatchedConnection } from './watched-connection';

/** How long the master may stay unreachable before the sentinels are asked again unprompted. */
const SENTINEL_NUDGE_AFTER_MS = 1000;
/**
 * Reconnections to one master address before its client gives up, so that
 * node-redis asks the sentinels again rather than wait on an address that may
 * never come back (its reconfiguration waits for that connection).
 */
const SENTINEL_MASTER_RETRIES = 8;

/**
 * `REDIS_MODE=sentinel`: node-redis' sentinel client (`createSentinel`), which
 * asks the sentinels for the master and follows every failover they announce.
 * Commands fail at once while the master named by the sentinels is not
 * connected; a missed announcement is made up for by asking again (`watched`).
 */
export class SentinelConnection extends WatchedConnection implements RedisConnection {
  readonly mode = 'sentinel' as const;
  readonly description: string;
  private sentinel: SentinelClient | undefined;
  private readonly master: RedisMaster;
  private notReadySince: number | undefined;
  private nudging = false;

  constructor(
    private readonly settings: RedisConnectionSettings,
    private readonly topology: Extract<RedisTopology, { mode: 'sentinel' }>,
    private readonly tuning: NodeClientTuning,
  ) {
    super();
    this.description = `sentinel ${topology.masterName} via ${topology.sentinels.map(addressOf).join(',')}${settings.tls ? ' (TLS)' : ''}`;
    this.master = { address: topology.masterName, send: (args) => this.send(args) };
  }

  /** Connected to the master the sentinels named (node-redis' own `isReady` stays true through a failover). */
  get isReady(): boolean {
    return this.readyKey() !== undefined;
  }

  protected readyKey(): string | undefined {
    const s = this.sentinel;
    const master = s?.isReady ? s.getMasterNode() : undefined;
    return master ? `${master.host}:${master.port}` : undefined;
  }

  /** Options of a connection to a sentinel: it carries the failover announcements (a subscription), so no heartbeat, no idle watchdog. */
  private sentinelOptions(endpoint?: RedisEndpoint): Pick<NodeOptions, 'password' | 'socket'> {
    const { settings, topology, tuning } = this;
    return {
      ...(topology.sentinelPassword !== undefined ? { password: topology.sentinelPassword } : {}),
      socket: socketOptions(settings, { ...(tuning.socket?.connectTimeout !== undefined ? { connectTimeout: tuning.socket.connectTimeout } : {}) }, endpoint),
    };
  }

  /**
   * Before node-redis' sentinel client connects: one sentinel at least answers
   * and names the master. node-redis retries a failing first connection by
   * itself but prints every failure on the console (stack traces amid the
   * JSON log lines); a service started while its sentinels are unreachable
   * waits here instead, quietly, logging through the `error` event.
   */
  private async someSentinelNamesMaster(): Promise<void> {
    const { topology } = this;
    let lastFailure: unknown;
    for (const endpoint of topology.sentinels) {
      const options = this.sentinelOptions(endpoint);
      const client = createClient({ ...options, RESP: RESP_VERSION, socket: { ...options.socket, reconnectStrategy: false } });
      client.on('error', () => undefined);
      try {
        await client.connect();
        if (Array.isArray(await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', topology.masterName]))) return;
      } catch (err) {
        lastFailure = err;
      } finally {
        if (client.isOpen) client.destroy();
      }
    }
    throw new RedisNotConnected(`no sentinel of ${topology.sentinels.map(addressOf).join(',')} answers with a master named ${topology.masterName}`, { cause: lastFailure });
  }

  private make(): SentinelClient {
    const { settings, topology, tuning } = this;
    // The protocol and command options are the sentinel client's own, applied to every node it opens.
    const { RESP, commandOptions, ...perNode } = nodeOptions(settings, { ...tuning, socket: { ...tuning.socket, reconnectStrategy: this.masterReconnects() } });
    const sentinel = createSentinel({
      name: topology.masterName,
      sentinelRootNodes: topology.sentinels.map((e) => ({ host: e.host, port: e.port })),
      RESP,
      ...(commandOptions ? { commandOptions } : {}),
      nodeClientOptions: perNode,
      sentinelClientOptions: this.sentinelOptions(),
      masterPoolSize: 1,
      passthroughClientErrorEvents: true,
    });
    sentinel.on('error', (err: unknown) => this.forwardError(err));
    return sentinel;
  }

  private masterReconnects(): NonNullable<NodeClientTuning['socket']>['reconnectStrategy'] {
    const base = this.tuning.socket?.reconnectStrategy;
    return (retries, cause) => {
      if (retries >= SENTINEL_MASTER_RETRIES) return new Error(`the master stayed unreachable after ${retries} attempts; asking the sentinels again`, { cause });
      return base ? base(retries, cause) : Math.min(50 * 2 ** retries, 2000);
    };
  }

  /**
   * node-redis looks for a new master when the sentinels announce one, or when
   * a command meets a lost master connection. Commands are not sent while the
   * master is unreachable (they fail at once instead), so should the
   * announcement be missed (the subscribed sentinel gone at that moment), one
   * PING a second long after the loss makes node-redis ask the sentinels.
   */
  protected override watched(ready: boolean): void {
    const s = this.sentinel;
    if (ready || !s || this.closed) {
      this.notReadySince = undefined;
      return;
    }
    this.notReadySince ??= Date.now();
    if (this.nudging || Date.now() - this.notReadySince < SENTINEL_NUDGE_AFTER_MS) return;
    this.nudging = true;
    s.sendCommand(false, ['PING'])
      .catch(() => undefined)
      .finally(() => {
        this.nudging = false;
      });
  }

  async send(args: readonly string[]): Promise<unknown> {
    const s = this.sentinel;
    if (!s || !this.isReady) throw new RedisNotConnected(`no connection to the master of ${this.topology.masterName}`);
    return s.sendCommand(false, [...args]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.send(args);
  }

  masters(): readonly RedisMaster[] {
    return [this.master];
  }

  bySlot(keys: readonly string[]): string[][] {
    return keys.length ? [[...keys]] : [];
  }

  connect(): Promise<void> {
    return this.connectWithRetries(
      () => this.make(),
      async (s) => {
        await this.someSentinelNamesMaster();
        if (!this.closed) await s.connect();
      },
      (s) => void s.destroy().catch(() => undefined),
      (s) => {
        this.sentinel = s;
      },
    );
  }

  async close(): Promise<void> {
    this.stopConnecting();
    await this.sentinel?.close();
  }

  destroy(): void {
    this.stopConnecting();
    void this.sentinel?.destroy().catch(() => undefined);
  }
}
