import { EventEmitter } from 'node:events';

/** A command for a node whose connection is down: failed at once, never queued. */
export class RedisNotConnected extends Error {
  readonly code = 'ERR_REDIS_NOT_CONNECTED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisNotConnected';
  }
}

/** Between two attempts at a first connection that failed as a whole (sentinels or seeds unreachable). */
const CONNECT_RETRY_MS = 2000;
/** How often readiness is looked at to emit `ready` (sentinel and cluster keep it in several clients). */
const READY_WATCH_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * The common part of the topologies whose readiness is spread over several
 * node-redis clients (sentinel, cluster): a first connection retried as a
 * whole until it succeeds or the connection is closed, and a watch that emits
 * `ready` whenever the connections carrying commands change and are ready:
 * readiness turning true, or a new master (a failover may swap a frozen
 * master for a live one without readiness ever turning false).
 */
export abstract class WatchedConnection extends EventEmitter {
  protected closed = false;
  private watch: NodeJS.Timeout | undefined;
  private lastKey: string | undefined;
  private dropPending: (() => void) | undefined;

  /** Identifies the ready connections carrying commands; undefined when not ready. */
  protected abstract readyKey(): string | undefined;

  protected startWatch(): void {
    if (this.watch) return;
    const look = (): void => {
      const key = this.readyKey();
      if (key !== undefined && key !== this.lastKey) this.emit('ready');
      this.lastKey = key;
      this.watched(key !== undefined);
    };
    look();
    this.watch = setInterval(look, READY_WATCH_MS);
    this.watch.unref();
  }

  /** Called at every look at readiness. */
  protected watched(_ready: boolean): void {
    // nothing by default
  }

  protected stopWatch(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
  }

  /** Errors of node-redis, some of which arrive as text. */
  protected forwardError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', asError(err));
  }

  /** Builds and connects a client, again and again until it connects or the connection is closed. */
  protected async connectWithRetries<T>(make: () => T, connect: (client: T) => Promise<unknown>, drop: (client: T) => void, adopt: (client: T) => void): Promise<void> {
    while (!this.closed) {
      const client = make();
      // Closed while this attempt is still connecting: `stopConnecting` drops it at once.
      this.dropPending = () => drop(client);
      try {
        await connect(client);
        if (this.closed) return;
        adopt(client);
        this.startWatch();
        return;
      } catch (err) {
        if (this.closed) return;
        drop(client);
        this.forwardError(err);
        await sleep(CONNECT_RETRY_MS);
      } finally {
        this.dropPending = undefined;
      }
    }
  }

  /** Marks the connection closed and drops a first connection still under way. */
  protected stopConnecting(): void {
    this.closed = true;
    this.stopWatch();
    const drop = this.dropPending;
    this.dropPending = undefined;
    drop?.();
  }
}
