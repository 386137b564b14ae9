// Replicated and sharded CUDA L1 tables over 1, 2, 4 and 8 GPUs (as many as the machine has), through
// ParameterServer.lookup: per GPU-share `--share` rows x dim 128 (16 Mi by default), 1 Mi keys a call,
// 4 calls in flight into pinned outputs (allocOutput). For each layout: the per-call time, the rows the
// table holds (capacity), and for sharded tables the host time that sharding costs a call (every GPU
// gets every key and answers its own; the host merges their miss flags). Every layout's first batch is
// checked row by row against the inserted rows.
//   node dist/bench/gpu/scale.js --out bench/results/gpu-scale.json [--share 16777216] [--quick]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadNative } from '../../engine/native.js';
import { batchOf, check, median, openFilled, rowsHeld, type Layout } from './ps-fixture.js';

const args = process.argv.slice(2);
const argOf = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const outFile = argOf('--out') ?? 'bench/results/gpu-scale.json';
const share = Number(argOf('--share') ?? (quick ? 1 << 20 : 16 << 20));
const batch = quick ? 1 << 16 : 1 << 20;
const reps = quick ? 4 : 12;
const inFlight = 4;

async function main(): Promise<void> {
  const nat = loadNative();
  if (!nat.ok) throw new Error(nat.reason);
  const counts = [1, 2, 4, 8].filter((n) => n <= nat.devices);
  const layouts: Layout[] = [];
  for (const n of counts) {
    const devices = Array.from({ length: n }, (_, d) => d);
    layouts.push({ name: `replicated x${n}`, devices, deviceMode: 'replicated', capacity: share, fill: share });
    if (n > 1) layouts.push({ name: `sharded x${n}`, devices, deviceMode: 'sharded', capacity: share * n, fill: share * n });
  }
  const most = counts[counts.length - 1];
  if (most > 1) {
    const devices = Array.from({ length: most }, (_, d) => d);
    layouts.push({ name: `sharded x${most}, 128 Ki chunks`, devices, deviceMode: 'sharded', capacity: share * most, fill: share * most, queryChunk: 131072 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'hps-gpu-scale-'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (const layout of layouts) {
      const { ps, cache, fillSeconds } = await openFilled(layout, dir);
      const b = await batchOf(cache, batch, layout.fill);
      const outs = Array.from({ length: inFlight }, () => ps.allocOutput('m', 't', batch));
      await ps.lookup('m', 't', b.keys, outs[0]);
      check(outs[0], b.rows, `${layout.name}: ps.lookup`);
      await Promise.all(outs.map((o) => ps.lookup('m', 't', b.keys, o)));
      const times: number[] = [];
      const sharding0 = cache.shardingSeconds;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        await Promise.all(outs.map((o) => ps.lookup('m', 't', b.keys, o)));
        times.push((performance.now() - t0) / inFlight);
      }
      const shardingMsPerCall = (cache.shardingSeconds - sharding0) * 1e3 / (reps * inFlight);
      const held = await rowsHeld(ps, cache, layout.fill);
      const ms = median(times);
      const row = {
        ...layout, gpus: layout.devices.length, slots: cache.capacity, inserted: layout.fill, rowsHeld: held, fillSeconds,
        msPerCall: ms, minMs: Math.min(...times), maxMs: Math.max(...times), samples: times.length,
        keysPerSecond: batch / (ms * 1e-3), shardingHostMsPerCall: shardingMsPerCall, shardingHostShareOfCall: shardingMsPerCall / ms,
      };
      rows.push(row);
      console.log(`${layout.name.padEnd(26)} ${ms.toFixed(2).padStart(6)} ms a call (${row.minMs.toFixed(2)}-${row.maxMs.toFixed(2)}), ${(row.keysPerSecond / 1e6).toFixed(0).padStart(4)} Mkeys/s; holds ${held}/${layout.fill} rows; sharding on the host ${shardingMsPerCall.toFixed(2)} ms a call (${(100 * row.shardingHostShareOfCall).toFixed(1)}%)`);
      await ps.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const one = rows.find((r) => r.name === 'replicated x1') as { msPerCall: number; rowsHeld: number };
  for (const r of rows as { name: string; msPerCall: number; rowsHeld: number; speedupVsOne?: number; capacityVsOne?: number }[]) {
    r.speedupVsOne = one.msPerCall / r.msPerCall;
    r.capacityVsOne = r.rowsHeld / one.rowsHeld;
    console.log(`${r.name.padEnd(26)} ${r.speedupVsOne.toFixed(2)}x one GPU per call, ${r.capacityVsOne.toFixed(2)}x its rows`);
  }
  const result = {
    suite: 'gpu-scale', date: new Date().toISOString(), quick,
    machine: { gpu: nat.device0.name, gpus: nat.devices, cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
    dim: 128, batch, share, inFlight, routing: 'none on the host: every GPU gets every key (8 bytes a key on its link), its kernel answers the keys of its shard and writes their rows at their positions in the pinned output; the host merges the miss flags',
    layouts: rows,
  };
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  console.log(`-> ${outFile}`);
}

await main();
