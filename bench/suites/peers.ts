import { batchKeys, checkBatch, STREAMS, type HostTable, type StreamName } from '../lib/host-table.js';
import { rateAsync, rateSync } from '../lib/measure.js';
import { redisInstalled, startRedis } from '../lib/redis-server.js';
import { openLmdbPeer } from '../lib/lmdb-peer.js';
import type { RunContext } from '../lib/context.js';
import type { SuiteReport } from '../lib/results.js';
import type { Suite } from '../lib/suite.js';

/**
 * The host workload's lookups written the way a Node user would otherwise write them, compared with the
 * host tier's one-thread figure of the same run: a Map<bigint, Float32Array>, lmdb-js getBinaryFast per
 * key with a warm page cache, and Redis MGET through ioredis on loopback.
 */
export const peersSuite: Suite = {
  name: 'peers',
  description: 'Map<bigint, Float32Array>, lmdb-js getBinaryFast per key, Redis MGET (ioredis) vs the host tier',
  needs: ['host'],
  async run(ctx, report) {
    const table = ctx.table();
    report.sizes = { keys: table.keys, dim: table.dim, batch: table.batch, batches: table.batches };
    const targets: Record<string, number> = { Map: 5, 'lmdb-js per key': 10, 'Redis MGET': 30 };
    const compare = (peer: string) => {
      for (const stream of STREAMS) {
        const host = ctx.borrow(report, 'host', `host 1 thread ${stream}`);
        const other = report.figures.find((f) => f.name === `${peer} ${stream}`);
        if (host && other) report.ratio(`host vs ${peer} (${stream})`, host, other, targets[peer]);
      }
    };
    if (!ctx.figures.has('host/host 1 thread zipf')) report.note('no host figures in this run: ratios against the host tier are left out');

    measureMap(ctx, report, table);
    compare('Map');
    await measureLmdb(ctx, report, table);
    compare('lmdb-js per key');
    if (!redisInstalled()) report.skip('Redis MGET', 'redis-server is not installed (apt-get install redis-server)');
    else {
      await measureRedis(ctx, report, table);
      compare('Redis MGET');
    }
  },
};

function verified(table: HostTable, stream: StreamName, lookup: (keys: BigInt64Array, out: Float32Array) => void, what: string): Float32Array {
  const out = new Float32Array(table.batch * table.dim);
  for (let b = 0; b < table.batches; b++) {
    lookup(batchKeys(table, stream, b), out);
    const bad = checkBatch(table, stream, b, out);
    if (bad) throw new Error(`${what} returned a wrong row at ${bad}`);
  }
  return out;
}

function measureMap(ctx: RunContext, report: SuiteReport, table: HostTable): void {
  // Row views of one buffer rather than one Float32Array per row with its own ArrayBuffer: the lookup
  // cost is the same (Map.get + set), and the run does not copy the table a second time.
  const map = new Map<bigint, Float32Array>();
  for (let i = 0; i < table.keys; i++) map.set(table.keyList[i], table.rows.subarray(i * table.dim, (i + 1) * table.dim));
  const dim = table.dim;
  const lookup = (keys: BigInt64Array, out: Float32Array) => {
    for (let i = 0; i < keys.length; i++) out.set(map.get(keys[i])!, i * dim);
  };
  for (const stream of STREAMS) {
    const out = verified(table, stream, lookup, 'Map');
    let b = 0;
    const rate = rateSync(`Map ${stream}`, () => lookup(batchKeys(table, stream, b++), out), table.batch, ctx.measure);
    ctx.record('peers', report.figure(`Map ${stream}`, 'keys/s', rate));
  }
}

async function measureLmdb(ctx: RunContext, report: SuiteReport, table: HostTable): Promise<void> {
  const peer = await openLmdbPeer(table.keyList, table.rows, table.dim);
  try {
    for (const stream of STREAMS) {
      const out = verified(table, stream, peer.lookup, 'lmdb-js'); // also warms the page cache
      let b = 0;
      const rate = rateSync(`lmdb ${stream}`, () => peer.lookup(batchKeys(table, stream, b++), out), table.batch, ctx.measure);
      ctx.record('peers', report.figure(`lmdb-js per key ${stream}`, 'keys/s', rate, 'getBinaryFast with bigint keys (ordered-binary), warm page cache'));
    }
  } finally {
    await peer.close();
  }
}

async function measureRedis(ctx: RunContext, report: SuiteReport, table: HostTable): Promise<void> {
  const redis = await startRedis();
  try {
    const rowBytes = table.dim * 4;
    const bytes = Buffer.from(table.rows.buffer, table.rows.byteOffset, table.rows.byteLength);
    const keyBytes = Buffer.from(table.keyList.buffer, table.keyList.byteOffset, table.keyList.byteLength);
    // Keys go to Redis as their 8 little-endian bytes, the cheapest form a client can send.
    const chunk = 1024;
    for (let start = 0; start < table.keys; start += chunk * 64) {
      const pipe = redis.client.pipeline();
      for (let c = start; c < Math.min(table.keys, start + chunk * 64); c += chunk) {
        const args: Buffer[] = [];
        for (let i = c; i < Math.min(table.keys, c + chunk); i++) args.push(keyBytes.subarray(i * 8, i * 8 + 8), bytes.subarray(i * rowBytes, (i + 1) * rowBytes));
        pipe.mset(...args);
      }
      await pipe.exec();
    }
    const lookup = async (keys: BigInt64Array, out: Float32Array) => {
      const kb = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
      const args: Buffer[] = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) args[i] = kb.subarray(i * 8, i * 8 + 8);
      const values = await redis.client.mgetBuffer(...args);
      const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      for (let i = 0; i < values.length; i++) outBytes.set(values[i]!, i * rowBytes);
    };
    for (const stream of STREAMS) {
      const out = new Float32Array(table.batch * table.dim);
      await lookup(batchKeys(table, stream, 0), out);
      const bad = checkBatch(table, stream, 0, out);
      if (bad) throw new Error(`Redis MGET returned a wrong row at ${bad}`);
      let b = 0;
      const rate = await rateAsync(`redis ${stream}`, () => lookup(batchKeys(table, stream, b++), out), table.batch, ctx.measure);
      ctx.record('peers', report.figure(`Redis MGET ${stream}`, 'keys/s', rate, `one MGET of ${table.batch} 8-byte keys per batch, ioredis mgetBuffer, redis-server on loopback`));
    }
  } finally {
    await redis.stop();
  }
}
