import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from './global-setup';
import { OPENSSL, REDIS_CLI, REDIS_SERVER, requireTool } from './tools';

/**
 * Real Redis topologies on loopback ports, started from the `redis-server`
 * binary for the suites that run the service on them:
 * - `startLocalCluster()`: a Redis Cluster of 3 masters (and optionally one
 *   replica each), made with `redis-cli --cluster create`;
 * - `startLocalSentinels()`: a master, a replica (`--replicaof`) and 3
 *   sentinels (`redis-server --sentinel`) watching them with a quorum of 2;
 * - `startLocalTlsRedis()`: one server speaking TLS only (certificates from a
 *   CA made with openssl) and wanting a password.
 *
 * Every process runs in a process group of its own and is SIGKILLed, group
 * and all, by `stop()`. Each topology keeps its files under a directory named
 * `miles-bff-topology-*` in the temp dir, with the pid of the test process
 * that owns it: a later start removes what an owner that died without
 * stopping (a killed Jest worker) left behind.
 *
 * @example
 * const cluster = await startLocalCluster();
 * const svc = await startTestService({ redis: false, env: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: cluster.nodesSetting } });
 * await cluster.stop();
 */
export interface LocalNode {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Whether the process still runs. */
  readonly running: boolean;
  /** SIGKILL (a crash): resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface LocalCluster {
  /** Every node, masters first as created. */
  readonly nodes: readonly LocalNode[];
  /** `REDIS_CLUSTER_NODES`: the seed list `127.0.0.1:p1,127.0.0.1:p2,…`. */
  readonly nodesSetting: string;
  /** The address of the master serving `key` now (asks the cluster). */
  masterOf(key: string): Promise<string>;
  /** Every key matching a SCAN pattern, with the master holding it. */
  keys(pattern: string): Promise<Array<{ readonly key: string; readonly master: string }>>;
  /** The addresses of the masters now. */
  masters(): Promise<string[]>;
  /** With replicas: waits until each has acknowledged every write of its master (WAIT). */
  waitReplicated(timeoutMs?: number): Promise<void>;
  /** Waits until `cluster info` says `cluster_state:ok` on every running node. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalSentinels {
  /** `REDIS_SENTINEL_NAME` */
  readonly masterName: string;
  /** `REDIS_SENTINELS`: `127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3`. */
  readonly sentinelsSetting: string;
  /** The data nodes: [0] started as master, [1] as its replica. */
  readonly dataNodes: readonly LocalNode[];
  readonly sentinels: readonly LocalNode[];
  /** The master's address as the sentinels see it now. */
  currentMaster(): Promise<string>;
  /** Every key matching a SCAN pattern, on the current master. */
  keys(pattern: string): Promise<string[]>;
  /** Waits until the replica has acknowledged every write the master took (WAIT). */
  waitReplicated(timeoutMs?: number): Promise<void>;
  /** Waits until every sentinel names a master other than `address`, and that master answers as one. */
  waitPromotedFrom(address: string, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

const ROOT = tmpdir();
const DIR_PREFIX = 'miles-bff-topology-';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Refuses clearly, rather than skipping, when the binaries are missing. */
export function requireRedisBinaries(): void {
  requireTool(REDIS_SERVER);
  requireTool(REDIS_CLI);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Kills what topologies of dead owners left running, and their directories. */
function sweepLeftovers(): void {
  for (const name of readdirSync(ROOT)) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(ROOT, name);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      // Being created right now, or not ours: leave it.
      continue;
    }
    if (owner > 0 && alive(owner)) continue;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.pid') || file === 'owner.pid') continue;
      const pid = Number(readFileSync(join(dir, file), 'utf8'));
      // Only a redis-server that is still ours (the pid may have been reused since).
      if (pid > 0 && alive(pid) && commandLineOf(pid).includes('redis-server')) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function answersPing(port: number): Promise<boolean> {
  const client = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** One command to one node, on a connection of its own; its reply in RESP2 shapes (arrays, not maps), as the service reads them. */
async function ask(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ RESP: 2, socket: { host: '127.0.0.1', port, connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** Every key of one node matching a SCAN pattern. */
async function scanNode(port: number, pattern: string): Promise<string[]> {
  const client = createClient({ RESP: 2, socket: { host: '127.0.0.1', port, connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = (await client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [string, string[]];
      keys.push(...page);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  } finally {
    client.destroy();
  }
}

class Group {
  readonly dir: string;
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = (): void => this.killAllNow();

  constructor(label: string) {
    requireRedisBinaries();
    sweepLeftovers();
    this.dir = mkdtempSync(join(ROOT, `${DIR_PREFIX}${label}-`));
    writeFileSync(join(this.dir, 'owner.pid'), String(process.pid));
    // A test process that ends without afterAll still takes its servers along.
    process.once('exit', this.onExit);
  }

  /**
   * Starts one `redis-server` and resolves once it answers PING; retried on
   * other ports when the one picked was taken meanwhile (parallel suites).
   */
  async start(name: string, argsFor: (port: number, busPort: number) => string[], answers: (port: number) => Promise<boolean> = answersPing): Promise<LocalNode> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const port = await freePort();
      const busPort = await freePort();
      const child = spawn('redis-server', argsFor(port, busPort), { cwd: this.dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-2000);
      });
      this.children.add(child);
      if (child.pid) writeFileSync(join(this.dir, `${name}.pid`), String(child.pid));
      const exited = new Promise<'exited'>((resolve) => child.once('exit', () => resolve('exited')));
      for (let i = 0; i < 100; i += 1) {
        const outcome = await Promise.race([answers(port), exited]);
        if (outcome === true) return this.node(child, port);
        if (outcome === 'exited') break;
        await sleep(50);
      }
      lastError = new Error(`redis-server ${name} on port ${port} did not start: ${stderr.trim() || 'no answer to PING'} (log: ${join(this.dir, `${name}.log`)})`);
      this.kill(child);
    }
    throw lastError ?? new Error(`redis-server ${name} did not start`);
  }

  private node(child: ChildProcess, port: number): LocalNode {
    return {
      port,
      address: `127.0.0.1:${port}`,
      get running() {
        return child.exitCode === null && child.signalCode === null;
      },
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        this.kill(child);
        await gone;
      },
    };
  }

  private kill(child: ChildProcess): void {
    if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }

  private killAllNow(): void {
    for (const child of this.children) this.kill(child);
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    const exits = [...this.children]
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    this.killAllNow();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exits), new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    this.children.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const COMMON = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];

export interface LocalClusterOptions {
  /** Replicas per master (0: 3 nodes; 1: 6 nodes, so a master change can be made). */
  readonly replicas?: 0 | 1;
}

/** A Redis Cluster of 3 masters on loopback, `cluster_state:ok` when it resolves. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const group = new Group('cluster');
  const count = 3 * (1 + (options.replicas ?? 0));
  try {
    const nodes: LocalNode[] = [];
    for (let i = 0; i < count; i += 1) {
      const nodeDir = join(group.dir, `node-${i}`);
      mkdirSync(nodeDir);
      nodes.push(
        await group.start(`node-${i}`, (port, busPort) => [
          '--port', String(port),
          '--cluster-enabled', 'yes',
          '--cluster-port', String(busPort),
          '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout', '2000',
          // A replica may take over however long ago it last heard from its master (tests kill masters early).
          '--cluster-replica-validity-factor', '0',
          '--dir', nodeDir,
          '--logfile', join(group.dir, `node-${i}.log`),
          ...COMMON,
        ]),
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(options.replicas ?? 0), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);

    const waitHealthy = async (timeoutMs = 20_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        const states = await Promise.all(
          nodes.filter((n) => n.running).map(async (n) => {
            try {
              const info = String(await ask(n.port, ['CLUSTER', 'INFO']));
              const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1] ?? 0);
              if (!/cluster_state:ok/.test(info) || known < nodes.length) return `${n.address}: ${/cluster_state:\w+/.exec(info)?.[0] ?? '?'} known ${known}`;
              const replication = String(await ask(n.port, ['INFO', 'replication']));
              // A replica counts once it is in sync with its master (it could not take over otherwise).
              return /role:slave/.test(replication) && !/master_link_status:up/.test(replication) ? `${n.address}: replica not in sync` : 'ok';
            } catch (err) {
              return `${n.address}: ${(err as Error).message}`;
            }
          }),
        );
        if (states.every((s) => s === 'ok')) return;
        last = states.filter((s) => s !== 'ok').join('; ');
        await sleep(100);
      }
      throw new Error(`the local cluster is not healthy after ${timeoutMs} ms: ${last}`);
    };
    await waitHealthy();

    const masters = async (): Promise<string[]> => {
      const running = nodes.find((n) => n.running);
      if (!running) throw new Error('no node of the local cluster runs');
      const ranges = (await ask(running.port, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
      return [...new Set(ranges.map((r) => `${r[2][0]}:${r[2][1]}`))];
    };
    return {
      nodes,
      nodesSetting: nodes.slice(0, 3).map((n) => n.address).join(','),
      masters,
      async waitReplicated(timeoutMs = 5000) {
        for (const master of await masters()) {
          const acked = Number(await ask(Number(master.split(':')[1]), ['WAIT', '1', String(timeoutMs)]));
          if (acked < 1) throw new Error(`the replica of ${master} did not acknowledge its writes in time`);
        }
      },
      async keys(pattern) {
        const found = await Promise.all(
          (await masters()).map(async (master) => (await scanNode(Number(master.split(':')[1]), pattern)).map((key) => ({ key, master }))),
        );
        return found.flat();
      },
      async masterOf(key) {
        const running = nodes.find((n) => n.running);
        if (!running) throw new Error('no node of the local cluster runs');
        const slot = Number(await ask(running.port, ['CLUSTER', 'KEYSLOT', key]));
        const ranges = (await ask(running.port, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no master serves slot ${slot}`);
        return `${range[2][0]}:${range[2][1]}`;
      },
      waitHealthy,
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}

export interface LocalSentinelsOptions {
  readonly masterName?: string;
}

/** A master, its replica and 3 sentinels (quorum 2; down after 1 s; failover timeout 5 s). */
export async function startLocalSentinels(options: LocalSentinelsOptions = {}): Promise<LocalSentinels> {
  const masterName = options.masterName ?? 'miles-test';
  const group = new Group('sentinel');
  try {
    const master = await group.start('master', (port) => ['--port', String(port), '--dir', group.dir, '--logfile', join(group.dir, 'master.log'), '--dbfilename', 'master.rdb', ...COMMON]);
    const replica = await group.start('replica', (port) => [
      '--port', String(port),
      '--replicaof', '127.0.0.1', String(master.port),
      '--dir', group.dir,
      '--logfile', join(group.dir, 'replica.log'),
      '--dbfilename', 'replica.rdb',
      ...COMMON,
    ]);
    // The replica in sync before the sentinels look (they learn of it from the master).
    const deadline = Date.now() + 10_000;
    while (!/master_link_status:up/.test(String(await ask(replica.port, ['INFO', 'replication']).catch(() => '')))) {
      if (Date.now() > deadline) throw new Error('the replica never synced with the master');
      await sleep(50);
    }
    const sentinels: LocalNode[] = [];
    for (let i = 0; i < 3; i += 1) {
      sentinels.push(
        await group.start(`sentinel-${i}`, (port) => {
          // Sentinel rewrites its configuration file: one per process and attempt.
          const conf = join(group.dir, `sentinel-${i}-${port}.conf`);
          writeFileSync(
            conf,
            [
              `port ${port}`,
              'bind 127.0.0.1',
              'protected-mode no',
              `dir ${group.dir}`,
              `logfile ${join(group.dir, `sentinel-${i}.log`)}`,
              `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
              `sentinel down-after-milliseconds ${masterName} 1000`,
              `sentinel failover-timeout ${masterName} 5000`,
              `sentinel parallel-syncs ${masterName} 1`,
              '',
            ].join('\n'),
          );
          return [conf, '--sentinel'];
        }),
      );
    }

    const namedMasterBy = async (port: number): Promise<string> => {
      const reply = (await ask(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName])) as [string, string] | null;
      if (!reply) throw new Error(`sentinel on ${port} knows no master ${masterName}`);
      return `${reply[0]}:${reply[1]}`;
    };
    // Every sentinel must have found the replica and the other sentinels, or a failover cannot be agreed.
    // A sentinel still starting (or slow to accept on a loaded machine) is not ready yet; the poll gives up at the deadline only.
    const ready = Date.now() + 15_000;
    let lastFailure: unknown;
    for (;;) {
      const views = await Promise.all(
        sentinels.map(async (s) => {
          try {
            const info = (await ask(s.port, ['SENTINEL', 'MASTER', masterName])) as string[];
            const field = (name: string): number => Number(info[info.indexOf(name) + 1] ?? 0);
            return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
          } catch (err) {
            lastFailure = err;
            return false;
          }
        }),
      );
      if (views.every(Boolean)) break;
      if (Date.now() > ready) throw new Error('the sentinels did not discover the replica and each other in time', { cause: lastFailure });
      await sleep(100);
    }

    const dataNodes = [master, replica];
    return {
      masterName,
      sentinelsSetting: sentinels.map((s) => s.address).join(','),
      dataNodes,
      sentinels,
      currentMaster: () => namedMasterBy(sentinels.find((s) => s.running)?.port ?? sentinels[0]!.port),
      async keys(pattern) {
        const current = await namedMasterBy(sentinels.find((s) => s.running)?.port ?? sentinels[0]!.port);
        return scanNode(Number(current.split(':')[1]), pattern);
      },
      async waitReplicated(timeoutMs = 5000) {
        const current = await namedMasterBy(sentinels[0]!.port);
        const node = dataNodes.find((n) => n.address === current);
        if (!node) throw new Error(`the master ${current} is not one of the data nodes`);
        const acked = Number(await ask(node.port, ['WAIT', '1', String(timeoutMs)]));
        if (acked < 1) throw new Error('the replica did not acknowledge the writes in time');
      },
      async waitPromotedFrom(address, timeoutMs = 15_000) {
        const deadline = Date.now() + timeoutMs;
        let last = '';
        while (Date.now() < deadline) {
          try {
            const views = await Promise.all(sentinels.filter((s) => s.running).map((s) => namedMasterBy(s.port)));
            const chosen = views[0];
            if (chosen && chosen !== address && views.every((v) => v === chosen)) {
              const port = Number(chosen.split(':')[1]);
              const role = (await ask(port, ['ROLE'])) as [string, ...unknown[]];
              if (role[0] === 'master') return chosen;
              last = `${chosen} is still ${role[0]}`;
            } else {
              last = `sentinels name ${views.join(', ')}`;
            }
          } catch (err) {
            last = (err as Error).message;
          }
          await sleep(100);
        }
        throw new Error(`no failover from ${address} within ${timeoutMs} ms (${last})`);
      },
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}

export interface LocalTlsRedis {
  /** `rediss://127.0.0.1:<port>` */
  readonly url: string;
  /** The PEM file of the CA that signed the server's certificate (for 127.0.0.1). */
  readonly caFile: string;
  /** The PEM file of another CA, which did not. */
  readonly otherCaFile: string;
  readonly password: string;
  stop(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
}

/** A standalone Redis that speaks TLS only (a certificate for 127.0.0.1 from a CA of its own) and wants a password. */
export async function startLocalTlsRedis(): Promise<LocalTlsRedis> {
  requireTool(OPENSSL);
  const group = new Group('tls');
  try {
    const dir = group.dir;
    for (const ca of ['ca', 'other-ca']) {
      openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=miles-bff ${ca}`]);
    }
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.cnf']);
    const password = 'tls-redis-password-0123456789';
    const caFile = join(dir, 'ca.pem');
    const node = await group.start(
      'tls',
      (port) => [
        '--port', '0',
        '--tls-port', String(port),
        '--tls-cert-file', join(dir, 'server.pem'),
        '--tls-key-file', join(dir, 'server.key'),
        '--tls-ca-cert-file', caFile,
        '--tls-auth-clients', 'no',
        '--requirepass', password,
        '--dir', dir,
        '--logfile', join(dir, 'tls.log'),
        ...COMMON,
      ],
      async (port) => {
        const client = createClient({ RESP: 2, socket: { host: '127.0.0.1', port, tls: true, ca: readFileSync(caFile, 'utf8'), connectTimeout: 500, reconnectStrategy: false }, password });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          if (client.isOpen) client.destroy();
        }
      },
    );
    return { url: `rediss://127.0.0.1:${node.port}`, caFile, otherCaFile: join(dir, 'other-ca.pem'), password, stop: () => group.stop() };
  } catch (err) {
    await group.stop();
    throw err;
  }
}
