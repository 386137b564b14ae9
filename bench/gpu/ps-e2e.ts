// The GPU path through the public API: ParameterServer.lookup / lookupPooled with a CUDA L1, against
// the same cache called directly (the pinned kernel-only figure) and the PCIe bound for the bytes moved
// (keys in, rows out; the bound's bandwidth is measured on the machine and passed as --pcie GB/s).
// Every row of the checked batch is compared with the row inserted for its key before timing.
// With two or more GPUs: one GPU against replicated and sharded tables over all of them, per call with 4
// calls in flight, and the capacity of a sharded table twice one GPU's share.
//   node dist/bench/gpu/ps-e2e.js --pcie 55 --out bench/results/gpu-ps.json [--quick]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadNative } from '../../engine/native.js';
import { batchOf, check, dim, median, openFilled as open, rowsHeld, valueOf, type Layout } from './ps-fixture.js';

const args = process.argv.slice(2);
const argOf = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const outFile = argOf('--out') ?? 'bench/results/gpu-ps.json';
const pcieGBs = Number(argOf('--pcie') ?? 55);
const share = quick ? 1 << 20 : 8 << 20;   // rows of one GPU's cache share
const batch = quick ? 1 << 16 : 1 << 20;   // keys a call
const reps = quick ? 5 : 11;

async function timeIt(fn: () => Promise<unknown>, n = reps): Promise<number[]> {
  await fn();
  const t: number[] = [];
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return t;
}

async function main(): Promise<void> {
  const nat = loadNative();
  if (!nat.ok) throw new Error(nat.reason);
  const dir = mkdtempSync(join(tmpdir(), 'hps-gpu-ps-'));
  const result: Record<string, unknown> = {
    suite: 'gpu-ps', date: new Date().toISOString(), quick,
    machine: { gpu: nat.device0.name, gpus: nat.devices, cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
    dim, batch, share, pcieGBs,
  };
  try {
    // 1. One GPU: the public API against the cache called directly, pinned and plain outputs.
    const one: Layout = { name: 'one GPU', devices: [0], deviceMode: 'replicated', capacity: share, fill: Math.floor(share * 0.75) };
    const { ps, cache } = await open(one, dir);
    const { keys, rows } = await batchOf(cache, batch, one.fill);
    const keysPinned = cache.pinnedKeys(batch);
    keysPinned.set(keys);
    const pinned = ps.allocOutput('m', 't', batch);
    const plain = new Float32Array(batch * dim);
    const kernelOut = cache.pinnedFloat32(batch * dim);
    pinned.fill(Number.NaN); plain.fill(Number.NaN);
    await ps.lookup('m', 't', keys, pinned);
    check(pinned, rows, 'ps.lookup into allocOutput');
    await ps.lookup('m', 't', keys, plain);
    check(plain, rows, 'ps.lookup into a plain Float32Array');
    const missing = await cache.query(keysPinned, kernelOut);
    if (missing.length !== 0) throw new Error(`${missing.length} inserted keys missed`);
    check(kernelOut, rows, 'cache.query');
    console.log(`checked: ${batch} rows from ps.lookup (pinned and plain) and cache.query equal the inserted rows`);
    const bytes = batch * 8 + batch * dim * 4;
    const boundMs = bytes / (pcieGBs * 1e9) * 1e3;
    const single: Record<string, { ms: number[]; ofBound: number }> = {};
    const add = (name: string, t: number[], perCall = 1) => {
      const ms = t.map((x) => x / perCall);
      (single[name] ??= { ms: [], ofBound: 0 }).ms.push(...ms);
    };
    // Interleaved rounds, so drift hits every variant alike.
    const outs4 = [pinned, ps.allocOutput('m', 't', batch), ps.allocOutput('m', 't', batch), ps.allocOutput('m', 't', batch)];
    const kouts4 = [kernelOut, cache.pinnedFloat32(batch * dim), cache.pinnedFloat32(batch * dim), cache.pinnedFloat32(batch * dim)];
    const plains4 = [plain, ...[1, 2, 3].map(() => new Float32Array(batch * dim).fill(1))];
    for (let round = 0; round < 3; round++) {
      add('kernel only: cache.query, pinned keys and out', await timeIt(() => cache.query(keysPinned, kernelOut), 4));
      add('(a) ps.lookup into allocOutput (pinned)', await timeIt(() => ps.lookup('m', 't', keys, pinned), 4));
      add('(b) ps.lookup into a plain Float32Array', await timeIt(() => ps.lookup('m', 't', keys, plain), 4));
      add('kernel only, 4 calls in flight', await timeIt(() => Promise.all(kouts4.map((o) => cache.query(keysPinned, o))), 2), 4);
      add('(a) ps.lookup, 4 in flight, allocOutput', await timeIt(() => Promise.all(outs4.map((o) => ps.lookup('m', 't', keys, o))), 2), 4);
      add('(b) ps.lookup, 4 in flight, plain', await timeIt(() => Promise.all(plains4.map((o) => ps.lookup('m', 't', keys, o))), 2), 4);
    }
    for (const [name, v] of Object.entries(single)) {
      const ms = median(v.ms);
      v.ofBound = boundMs / ms;
      console.log(`${name.padEnd(48)} ${ms.toFixed(2).padStart(7)} ms  (${Math.min(...v.ms).toFixed(2)}-${Math.max(...v.ms).toFixed(2)})  ${(batch / ms / 1e3).toFixed(0).padStart(5)} Mkeys/s  ${(boundMs / ms).toFixed(2)}x PCIe bound`);
    }
    // Pooled: 64 Ki rows of 16 keys, weighted mean; reduced on the GPU (only rows x dim floats cross).
    const pooledRows = batch >> 4;
    const offsets = Uint32Array.from({ length: pooledRows + 1 }, (_, r) => r * 16);
    const weights = Float32Array.from({ length: batch }, (_, i) => 0.5 + (i % 7) / 8);
    const pooledOut = ps.allocOutput('m', 't', pooledRows);
    const viaPs = await ps.lookupPooled('m', 't', keys, offsets, { combiner: 'mean', weights, out: pooledOut });
    // Reference on the host from the checked rows.
    for (let r = 0; r < pooledRows; r += 97) {
      for (let d = 0; d < dim; d += 13) {
        let acc = 0, wsum = 0;
        for (let k = r * 16; k < (r + 1) * 16; k++) { acc += weights[k] * Math.fround(valueOf(rows[k], d)); wsum += weights[k]; }
        const want = acc / wsum;
        if (Math.abs(viaPs[r * dim + d] - want) > 1e-4 * (1 + Math.abs(want))) throw new Error(`pooled row ${r} column ${d}: ${viaPs[r * dim + d]} vs ${want}`);
      }
    }
    const pooledPs = await timeIt(() => ps.lookupPooled('m', 't', keys, offsets, { combiner: 'mean', weights, out: pooledOut }));
    const pooledKernel = await timeIt(() => cache.queryPooled(keysPinned, offsets, weights, 'mean', pooledOut));
    const pooledBytes = batch * 12 + offsets.byteLength + pooledRows * dim * 4;
    const pooled = {
      rows: pooledRows, keysPerRow: 16, combiner: 'mean', weighted: true, bytesMoved: pooledBytes,
      psLookupPooledMs: median(pooledPs), cacheQueryPooledMs: median(pooledKernel),
      unpooledLookupMs: median(single['(a) ps.lookup into allocOutput (pinned)'].ms),
    };
    console.log(`pooled mean, ${pooledRows} rows of 16: ps.lookupPooled ${pooled.psLookupPooledMs.toFixed(2)} ms, cache.queryPooled ${pooled.cacheQueryPooledMs.toFixed(2)} ms (the unpooled lookup of the same keys: ${pooled.unpooledLookupMs.toFixed(2)} ms)`);
    result.single = { layout: one, bytesMoved: bytes, pcieBoundMs: boundMs, runs: Object.fromEntries(Object.entries(single).map(([k, v]) => [k, { medianMs: median(v.ms), minMs: Math.min(...v.ms), maxMs: Math.max(...v.ms), samples: v.ms.length, ofPcieBound: v.ofBound }])), pooled };
    await ps.close();

    // 2. Several GPUs: one GPU, replicated and sharded over all, 4 calls in flight, pinned outputs.
    if (nat.devices >= 2) {
      const all = Array.from({ length: nat.devices }, (_, d) => d);
      const layouts: Layout[] = [
        { name: 'one GPU', devices: [0], deviceMode: 'replicated', capacity: share, fill: Math.floor(share * 0.75) },
        { name: `replicated x${all.length}`, devices: all, deviceMode: 'replicated', capacity: share, fill: Math.floor(share * 0.75) },
        { name: `sharded x${all.length}`, devices: all, deviceMode: 'sharded', capacity: share * all.length, fill: Math.floor(share * all.length * 0.75) },
        { name: `sharded x${all.length}, unchunked`, devices: all, deviceMode: 'sharded', capacity: share * all.length, fill: Math.floor(share * all.length * 0.75), queryChunk: 0 },
      ];
      const multi: Record<string, unknown>[] = [];
      for (const layout of layouts) {
        const { ps: p, cache: c, fillSeconds: fillS } = await open(layout, dir);
        const b = await batchOf(c, batch, layout.fill);
        const o4 = [0, 1, 2, 3].map(() => p.allocOutput('m', 't', batch));
        await p.lookup('m', 't', b.keys, o4[0]);
        check(o4[0], b.rows, `${layout.name}: ps.lookup`);
        const perCall = async (keys: BigInt64Array) => {
          const times: number[] = [];
          for (let r = 0; r < reps; r++) {
            const s = performance.now();
            await Promise.all(o4.map((o) => p.lookup('m', 't', keys, o)));
            times.push((performance.now() - s) / 4);
          }
          return times;
        };
        const times = await perCall(b.keys);
        // Sharded: the same keys ordered by owning GPU, so each GPU writes one contiguous part of the
        // output (a probe of what the interleaved writes of routed keys cost).
        let groupedMs: number | null = null;
        if (layout.deviceMode === 'sharded' && !layout.queryChunk) {
          const { shard } = nat.addon.placement(b.keys, 1, layout.devices.length);
          const order = Array.from({ length: batch }, (_, i) => i).sort((x, y) => shard[x] - shard[y] || x - y);
          groupedMs = median(await perCall(BigInt64Array.from(order, (i) => b.keys[i])));
        }
        // Capacity: every inserted row is looked up once; the share found is what the table holds.
        const found = await rowsHeld(p, c, layout.fill);
        const row = { ...layout, groupedByGpuMsPerCall: groupedMs, msPerCall: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), keysPerSecond: batch / (median(times) * 1e-3), tableRows: c.capacity, inserted: layout.fill, found, fillSeconds: fillS };
        multi.push(row);
        if (groupedMs !== null) console.log(`${layout.name}: the same keys ordered by owning GPU: ${groupedMs.toFixed(2)} ms a call`);
        console.log(`${layout.name.padEnd(14)} capacity ${c.capacity} rows, ${found}/${layout.fill} inserted rows found; 4 in flight: ${row.msPerCall.toFixed(2)} ms a call (${row.minMs.toFixed(2)}-${row.maxMs.toFixed(2)}), ${(row.keysPerSecond / 1e6).toFixed(0)} Mkeys/s`);
        await p.close();
      }
      result.multiGpu = multi;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  console.log(`-> ${outFile}`);
}

await main();
