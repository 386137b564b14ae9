import { Session } from 'node:inspector/promises';
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHostTable, type StreamName } from './lib/host-table.js';
import { ParameterServer } from '../engine/parameter-server.js';
import { HostArena } from '../engine/host/host-arena.js';
import { printSelfTime, type CpuProfile } from './lib/cpuprofile.js';

/**
 * Profiles the host workload's lookup loop with V8's sampling profiler (node:inspector) and prints the
 * functions with the most self time, so that "what limits the host path" comes from a profile.
 * `node dist/bench/profile-host.js [--keys 2097152] [--dim 128] [--stream zipf] [--seconds 5]`; with
 * `--server`, the same keys go through ParameterServer.lookup (default config, table imported from a
 * HugeCTR folder in a temp dir) instead of HostArena.lookup, e.g. `--server --batch 256`.
 */
const opts = new Command('profile-host')
  .option('--keys <n>', 'table keys', (v) => Number(v), 2 ** 21)
  .option('--dim <n>', 'dim', (v) => Number(v), 128)
  .option('--batch <n>', 'keys per batch', (v) => Number(v), 16384)
  .option('--partitions <n>', 'HostArena partitions', (v) => Number(v), 2)
  .option('--stream <name>', 'zipf or uniform', 'zipf')
  .option('--seconds <s>', 'seconds of profiled lookups', (v) => Number(v), 5)
  .option('--server', 'profile ParameterServer.lookup instead of HostArena.lookup')
  .parse()
  .opts<{ keys: number; dim: number; batch: number; partitions: number; stream: StreamName; seconds: number; server?: boolean }>();

// 2^20 queries per stream whatever the batch size, so small batches do not cycle over a cached few keys.
const table = buildHostTable({ keys: opts.keys, dim: opts.dim, batch: opts.batch, batches: Math.max(1, Math.ceil(2 ** 20 / opts.batch)) });
let lookup: (keys: BigInt64Array, out: Float32Array) => unknown;
let close = async (): Promise<void> => {};
if (opts.server) {
  const dir = mkdtempSync(join(tmpdir(), 'hps-profile-server-'));
  mkdirSync(join(dir, 't0'));
  writeFileSync(join(dir, 't0', 'key'), table.keyList);
  writeFileSync(join(dir, 't0', 'emb_vector'), table.rows);
  const server = await ParameterServer.open({
    models: [{ name: 'm', tables: [{ name: 't0', dim: opts.dim, sparseFile: join(dir, 't0') }] }],
    volatileDb: { numPartitions: opts.partitions },
    persistentDb: { type: 'lmdb', path: join(dir, 'lmdb') },
  }, { progress: false });
  lookup = (keys, out) => server.lookup('m', 't0', keys, out);
  close = async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  };
} else {
  const arena = HostArena.create({ dim: opts.dim, numPartitions: opts.partitions, expectedKeys: opts.keys });
  for (let s = 0; s < opts.keys; s += 65536) {
    const e = Math.min(opts.keys, s + 65536);
    arena.insert(table.keyList.subarray(s, e), table.rows.subarray(s * opts.dim, e * opts.dim));
  }
  lookup = (keys, out) => arena.lookup(keys, out);
}
const stream = table.streams[opts.stream].keys;
const batches = Math.floor(stream.length / opts.batch);
const batchAt = (b: number) => stream.subarray((b % batches) * opts.batch, ((b % batches) + 1) * opts.batch);
const out = new Float32Array(opts.batch * opts.dim);
for (let b = 0; b < 2 * batches; b++) await lookup(batchAt(b), out); // warm up (JIT, caches)

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const t0 = performance.now();
let keys = 0;
for (let b = 0; performance.now() - t0 < opts.seconds * 1000; b++) {
  await lookup(batchAt(b), out);
  keys += opts.batch;
}
const seconds = (performance.now() - t0) / 1000;
const { profile } = await session.post('Profiler.stop');
session.disconnect();
await close();

console.log(`${opts.server ? 'ParameterServer' : 'HostArena'} lookups: ${opts.keys} keys x dim ${opts.dim}, ${opts.partitions} partitions, batch ${opts.batch}, ${opts.stream}: ${(keys / seconds / 1e6).toFixed(2)} M keys/s (${((keys * opts.dim * 4) / seconds / 1e9).toFixed(2)} GB/s of rows) while profiled`);
console.log('self time:');
printSelfTime(profile as CpuProfile);
