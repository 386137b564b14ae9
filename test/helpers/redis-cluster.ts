import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A real Redis Cluster of 3 masters and 3 replicas (redis-server processes with --cluster-enabled yes,
 * joined by `redis-cli --cluster create ... --cluster-replicas 1`) on free loopback ports, each node in
 * its own folder under the OS temp folder. stop() kills every process and removes the folders; they are
 * also killed if this process exits first, so a failing test leaves nothing behind.
 */
export interface LocalCluster {
  /** `127.0.0.1:port` of every node, masters first as created. */
  addresses: string[];
  /** The `address` value of a ps.json: every node, comma-separated. */
  address: string;
  password: string | null;
  /** The folder holding every node's files (removed by stop()). */
  root: string;
  /** Process IDs of the six redis-server processes, in the order of `addresses`. */
  pids: number[];
  /** A plain client of the node at `address`. */
  node(address: string): Redis;
  /** Addresses of the nodes that are masters now (asked of a live node). */
  masters(): Promise<string[]>;
  /** Empties every master (FLUSHALL). */
  flushAll(): Promise<void>;
  /** SIGKILLs the node at `address`. */
  kill(address: string): void;
  /** Resolves once every live node reports cluster_state:ok and all 16384 slots are served. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** requirepass and masterauth of every node. */
  password?: string;
  /** cluster-node-timeout: how long a master may be silent before its replica takes over. */
  nodeTimeoutMs?: number;
}

/** Whether any of `cluster`'s processes is still alive or its folder still exists (after stop()). */
export function leftovers(cluster: LocalCluster): string[] {
  const left: string[] = [];
  for (const pid of cluster.pids) {
    try {
      process.kill(pid, 0);
      left.push(`process ${pid} is alive`);
    } catch {
      // gone, as expected
    }
  }
  if (existsSync(cluster.root)) left.push(`folder ${cluster.root} exists`);
  return left;
}

export function clusterToolsInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const password = options.password ?? null;
  const root = mkdtempSync(join(tmpdir(), 'hps-redis-cluster-'));
  const children = new Map<string, ChildProcess>();
  const clients: Redis[] = [];
  const killAll = () => { for (const c of children.values()) if (c.exitCode === null) c.kill('SIGKILL'); };
  process.on('exit', killAll);
  const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
  const cleanup = async () => {
    for (const c of clients) c.disconnect();
    const exits = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r)));
    killAll();
    await Promise.all(exits);
    process.off('exit', killAll);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const ports = new Set<number>();
    while (ports.size < 12) ports.add(await freePort());
    const list = [...ports];
    const addresses: string[] = [];
    for (let i = 0; i < 6; i++) {
      const port = list[i];
      const dir = join(root, `node-${port}`);
      spawnSync('mkdir', ['-p', dir]);
      const child = spawn('redis-server', [
        '--port', String(port), '--cluster-port', String(list[6 + i]), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000), '--cluster-replica-validity-factor', '0',
        '--dir', dir, '--save', '', '--appendonly', 'no', ...auth,
      ], { stdio: 'ignore' });
      const address = `127.0.0.1:${port}`;
      children.set(address, child);
      addresses.push(address);
    }
    const node = (address: string) => {
      const [host, port] = address.split(':');
      const c = new Redis({ host, port: Number(port), password: password ?? undefined, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      clients.push(c);
      return c;
    };
    for (const a of addresses) await waitPing(node(a), a, children.get(a)!);
    const create = spawnSync('redis-cli', [...(password ? ['-a', password, '--no-auth-warning'] : []), '--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    const alive = () => addresses.filter((a) => { const c = children.get(a)!; return c.exitCode === null && c.signalCode === null; });
    const cluster: LocalCluster = {
      addresses,
      address: addresses.join(','),
      password,
      root,
      pids: addresses.map((a) => children.get(a)!.pid!),
      node,
      async masters() {
        const c = node(alive()[0]);
        await c.connect();
        const text = (await c.call('CLUSTER', 'NODES')) as string;
        c.disconnect();
        return text.split('\n').filter((l) => {
          const flags = (l.split(' ')[2] ?? '').split(',');
          // A master with slots: a node that redis-cli is still turning into a replica shows as a master without any.
          return flags.includes('master') && !flags.some((f) => f.startsWith('fail')) && l.trim().split(' ').length > 8;
        }).map((l) => l.split(' ')[1].split('@')[0]);
      },
      async flushAll() {
        for (const a of await cluster.masters()) {
          const c = node(a);
          await c.connect();
          await c.flushall();
          c.disconnect();
        }
      },
      kill(address) {
        children.get(address)!.kill('SIGKILL');
      },
      async waitHealthy(timeoutMs = 30_000) {
        const until = Date.now() + timeoutMs;
        for (;;) {
          if (await healthy(alive(), node)) return;
          if (Date.now() > until) throw new Error(`the Redis cluster at ${addresses.join(', ')} did not become healthy in ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      stop: cleanup,
    };
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function waitPing(client: Redis, address: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (err) {
      if (attempt > 100 || child.exitCode !== null) throw new Error(`redis-server at ${address} did not start: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Every live node says cluster_state:ok with all slots served, knows every live node, and all of them
 * agree on which nodes are masters (right after creation or a failover, views converge over a moment).
 */
async function healthy(alive: string[], node: (a: string) => Redis): Promise<boolean> {
  let masters: string | null = null;
  for (const a of alive) {
    const c = node(a);
    try {
      await c.connect();
      const info = (await c.call('CLUSTER', 'INFO')) as string;
      if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
      const nodes = ((await c.call('CLUSTER', 'NODES')) as string).split('\n').filter((l) => l.trim() !== '');
      const live = nodes.filter((l) => !l.split(' ')[2].split(',').some((f) => f.startsWith('fail')));
      if (live.length < alive.length) return false;
      const liveMasters = live.filter((l) => l.split(' ')[2].split(',').includes('master'));
      // Every live master serves slots (none is a replica-to-be still shown as an empty master).
      if (liveMasters.some((l) => l.trim().split(' ').length <= 8)) return false;
      const view = liveMasters.map((l) => l.split(' ')[1].split('@')[0]).sort().join(',');
      if (masters !== null && view !== masters) return false;
      masters = view;
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }
  return true;
}
