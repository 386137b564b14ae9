/**
 * The host tier of this build against another build of it (e.g. the commit before a layout change), in
 * one process, interleaved: both arenas hold the host table (the host workload's 2^21 x dim 128 by default) and
 * answer the same batches in alternating slices, so a busy machine disturbs both sides alike. Rates are
 * per second of the process's CPU time (one thread works), so time the scheduler gives to other
 * processes is not counted.
 *
 *   node dist/bench/host-before-after.js OTHER_DIST [keys=2097152] [dim=128] [partitions=2] [rounds=15]
 *
 * OTHER_DIST is the other build's dist folder (its engine/host/host-arena.js is loaded; its wasm/hps.wasm
 * comes with it). Prints keys/s (median of the rounds, min..max) per side and stream, and new / other.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HostArena } from '../engine/host/host-arena.js';
import { buildHostTable, batchKeys, checkBatch, STREAMS } from './lib/host-table.js';
import { summarize } from './lib/stats.js';

interface Arena { lookup(keys: BigInt64Array, out: Float32Array): Uint32Array; insert(keys: BigInt64Array, rows: Float32Array): void }

const [otherDist, ...rest] = process.argv.slice(2);
if (!otherDist) {
  console.error('usage: node dist/bench/host-before-after.js OTHER_DIST [keys] [dim] [partitions] [rounds]');
  process.exit(2);
}
const [keys, dim, partitions, rounds] = [2 ** 21, 128, 2, 15].map((d, i) => Number(rest[i] ?? d));
const other = (await import(pathToFileURL(resolve(otherDist, 'engine/host/host-arena.js')).href)) as { HostArena: typeof HostArena };
const table = buildHostTable({ keys, dim, batch: 16384, batches: 32 });

function load(make: typeof HostArena): Arena {
  const arena = make.create({ dim, numPartitions: partitions, overflowMargin: keys * 2, expectedKeys: keys });
  for (let s = 0; s < keys; s += 65536) {
    const e = Math.min(keys, s + 65536);
    arena.insert(table.keyList.subarray(s, e), table.rows.subarray(s * dim, e * dim));
  }
  return arena;
}

const sides: [string, Arena][] = [['other', load(other.HostArena)], ['this', load(HostArena)]];
const out = new Float32Array(table.batch * dim);
for (const stream of STREAMS) {
  for (const [name, arena] of sides) {
    for (let b = 0; b < table.batches; b++) {
      if (arena.lookup(batchKeys(table, stream, b), out).length) throw new Error(`${name}: keys missing`);
      const bad = checkBatch(table, stream, b, out);
      if (bad) throw new Error(`${name}: wrong row at ${bad}`);
    }
  }
  const rates: Record<string, number[]> = { other: [], this: [] };
  let b = 0;
  for (let r = 0; r < rounds; r++) {
    // Four batches per side and round; which side goes first alternates.
    const order = r % 2 ? [...sides].reverse() : sides;
    for (const [name, arena] of order) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 4; i++) arena.lookup(batchKeys(table, stream, b + i), out);
      const t = process.cpuUsage(t0);
      rates[name].push((4 * table.batch) / ((t.user + t.system) / 1e6));
    }
    b += 4;
  }
  const fmt = (v: number[]) => { const s = summarize(v); return `${(s.median / 1e6).toFixed(2)} M keys/s (${(s.min / 1e6).toFixed(2)}..${(s.max / 1e6).toFixed(2)})`; };
  const ratios = rates.this.map((t, i) => t / rates.other[i]);
  const r = summarize(ratios);
  console.log(`${stream}: other ${fmt(rates.other)}, this ${fmt(rates.this)}; this / other per round: median ${r.median.toFixed(2)}x (${r.min.toFixed(2)}..${r.max.toFixed(2)})`);
}
