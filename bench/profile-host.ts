import { Session } from 'node:inspector/promises';
import { Command } from 'commander';
import { buildHostTable, batchKeys, type StreamName } from './lib/host-table.js';
import { HostArena } from '../engine/host/host-arena.js';
import { printSelfTime, type CpuProfile } from './lib/cpuprofile.js';

/**
 * Profiles the host workload's lookup loop with V8's sampling profiler (node:inspector) and prints the
 * functions with the most self time, so that "what limits the host path" comes from a profile.
 * `node dist/bench/profile-host.js [--keys 2097152] [--dim 128] [--stream zipf] [--seconds 5]`
 */
const opts = new Command('profile-host')
  .option('--keys <n>', 'table keys', (v) => Number(v), 2 ** 21)
  .option('--dim <n>', 'dim', (v) => Number(v), 128)
  .option('--batch <n>', 'keys per batch', (v) => Number(v), 16384)
  .option('--partitions <n>', 'HostArena partitions', (v) => Number(v), 2)
  .option('--stream <name>', 'zipf or uniform', 'zipf')
  .option('--seconds <s>', 'seconds of profiled lookups', (v) => Number(v), 5)
  .parse()
  .opts<{ keys: number; dim: number; batch: number; partitions: number; stream: StreamName; seconds: number }>();

const table = buildHostTable({ keys: opts.keys, dim: opts.dim, batch: opts.batch, batches: 64 });
const arena = HostArena.create({ dim: opts.dim, numPartitions: opts.partitions, expectedKeys: opts.keys });
for (let s = 0; s < opts.keys; s += 65536) {
  const e = Math.min(opts.keys, s + 65536);
  arena.insert(table.keyList.subarray(s, e), table.rows.subarray(s * opts.dim, e * opts.dim));
}
const out = new Float32Array(opts.batch * opts.dim);
for (let b = 0; b < 64; b++) arena.lookup(batchKeys(table, opts.stream, b), out); // warm up (JIT, caches)

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const t0 = performance.now();
let keys = 0;
for (let b = 0; performance.now() - t0 < opts.seconds * 1000; b++) {
  arena.lookup(batchKeys(table, opts.stream, b), out);
  keys += opts.batch;
}
const seconds = (performance.now() - t0) / 1000;
const { profile } = await session.post('Profiler.stop');
session.disconnect();

console.log(`host lookups: ${opts.keys} keys x dim ${opts.dim}, ${opts.partitions} partitions, batch ${opts.batch}, ${opts.stream}: ${(keys / seconds / 1e6).toFixed(2)} M keys/s (${((keys * opts.dim * 4) / seconds / 1e9).toFixed(2)} GB/s of rows) while profiled`);
console.log('self time:');
printSelfTime(profile as CpuProfile);
