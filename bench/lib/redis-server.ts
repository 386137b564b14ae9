import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A redis-server this process started on a free loopback port, with a connected client. */
export interface LocalRedis {
  port: number;
  client: Redis;
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export function redisInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts redis-server on loopback with persistence off and returns once it answers PING. The server is
 * killed when stop() is called, and also if this process exits first.
 */
export async function startRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
  ], { stdio: 'ignore' });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Connection errors while the server starts are expected; they surface through connect() below.
  client.on('error', () => {});
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (err) {
      if (attempt > 50 || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not start: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    client,
    async stop() {
      client.disconnect();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      process.off('exit', killOnExit);
    },
  };
}
