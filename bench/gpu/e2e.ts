// The end-to-end half of the "gpu" workload (docs/gpu.md): lookups from Node through CudaEmbeddingCache with
// results in a Float32Array, against the PCIe bound for the bytes moved (keys in + hit rows out at
// 55 GB/s pinned). Before timing, the GPU cache is compared with the CPU path (WasmEmbeddingCache) on
// random data, and every hit row of the timed batch is checked. Merges the kernel benchmark's JSON
// (bench/gpu/query-bench.cu) into one result file.
//   node dist/bench/gpu/e2e.js --out bench/results/gpu.json [--kernel kernel.json] [--quick]
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CudaEmbeddingCache } from '../../engine/cache/cuda-cache.js';
import { WasmEmbeddingCache } from '../../engine/cache/wasm-cache.js';
import { loadNative } from '../../engine/native.js';

const args = process.argv.slice(2);
const argOf = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const out = argOf('--out') ?? 'bench/results/gpu.json';
const kernelJson = argOf('--kernel');

const PCIE_GBS = 55; // pinned host-device, each way, measured once on the H100 machine (not re-measured here)
const dim = 128;
const capacity = quick ? 1 << 20 : 16 << 20;
const batch = quick ? 1 << 16 : 1 << 20;
const loadFactor = 0.75;
const reps = quick ? 5 : 15;

let seed = 0x2545f491;
function next32(): number {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
function fillKeys(keys: BigInt64Array): void {
  const h = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  for (let i = 0; i < h.length; i++) h[i] = next32();
}
// Row of the key with index i: random-looking, never zero, recomputable for checking.
function fillRow(rows: Float32Array, at: number, i: number): void {
  for (let c = 0; c < dim; c++) rows[at + c] = ((Math.imul(i, 0x9e3779b1) ^ Math.imul(c + 1, 0x85ebca77)) >>> 8) / 16777216 + 0.001;
}
function median(v: number[]): number { return [...v].sort((a, b) => a - b)[v.length >> 1]; }

async function checkAgainstCpu(): Promise<string> {
  const n = 1 << 17, q = 1 << 16;
  const gpu = CudaEmbeddingCache.create({ dim, capacity: 1 << 18 });
  const cpu = WasmEmbeddingCache.create({ dim, capacity: 1 << 19, ways: 32 });
  try {
    const keys = new BigInt64Array(n);
    fillKeys(keys);
    const rows = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) fillRow(rows, i * dim, i + 7);
    await gpu.insert(keys, rows);
    await cpu.insert(keys, rows);
    const query = new BigInt64Array(q);
    fillKeys(query);
    for (let i = 0; i < q; i++) if (next32() % 100 < 60) query[i] = keys[next32() % n];
    const a = new Float32Array(q * dim).fill(-1), b = a.slice();
    const [ma, mb] = await Promise.all([gpu.query(query, a), cpu.query(query, b)]);
    if (ma.length !== mb.length || ma.some((v, i) => v !== mb[i])) throw new Error('GPU and CPU caches missed different keys');
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`GPU and CPU rows differ at float ${i}`);
    return `GPU = CPU (WasmEmbeddingCache) on ${q} random queries over ${n} random rows, ${q - ma.length} hits`;
  } finally {
    await gpu.close();
    await cpu.close();
  }
}

async function main(): Promise<void> {
  const check = await checkAgainstCpu();
  console.log(check);
  const cache = CudaEmbeddingCache.create({ dim, capacity, inFlight: 4 });
  console.log(`device: ${cache.device.name}; table ${capacity} rows x ${dim}, load factor ${loadFactor}, ${batch} keys a query`);
  const inserted = Math.floor(capacity * loadFactor);
  const all = new BigInt64Array(inserted);
  fillKeys(all);
  const chunk = 1 << 20;
  const rows = new Float32Array(Math.min(chunk, inserted) * dim);
  const tFill = performance.now();
  for (let first = 0; first < inserted; first += chunk) {
    const n = Math.min(chunk, inserted - first);
    for (let i = 0; i < n; i++) fillRow(rows, i * dim, first + i);
    await cache.insert(all.subarray(first, first + n), rows.subarray(0, n * dim));
  }
  const fillMs = performance.now() - tFill;
  const st = cache.stats();
  console.log(`filled ${st.size} rows (${st.evictions} evicted by full buckets) in ${(fillMs / 1000).toFixed(1)} s`);

  // 60% of the batch drawn from inserted keys, 40% never inserted.
  const origin = new Int32Array(batch);
  const keysPinned = cache.pinnedKeys(batch);
  fillKeys(keysPinned);
  for (let i = 0; i < batch; i++) {
    origin[i] = next32() % 100 < 60 ? next32() % inserted : -1;
    if (origin[i] >= 0) keysPinned[i] = all[origin[i]];
  }
  const keysPlain = keysPinned.slice();
  const outPinned = cache.pinnedFloat32(batch * dim);
  const outPlain = new Float32Array(batch * dim);

  // Check the batch: every hit row is the inserted one, every never-inserted key misses.
  const missing = await cache.query(keysPinned, outPinned);
  const missed = new Uint8Array(batch);
  for (const m of missing) missed[m] = 1;
  const expect = new Float32Array(dim);
  let hits = 0;
  for (let i = 0; i < batch; i++) {
    if (origin[i] < 0) { if (!missed[i]) throw new Error(`never-inserted key at ${i} was found`); continue; }
    if (missed[i]) continue;
    hits++;
    fillRow(expect, 0, origin[i]);
    for (let c = 0; c < dim; c++) if (outPinned[i * dim + c] !== expect[c]) throw new Error(`row ${i} differs at ${c}`);
  }
  const hitRate = hits / batch;
  console.log(`checked ${batch} results: hit rate ${hitRate.toFixed(4)}`);

  const bytes = batch * 8 + hits * dim * 4;
  const boundMs = bytes / (PCIE_GBS * 1e9) * 1e3;
  const runs: Record<string, unknown>[] = [];
  const report = (name: string, times: number[], perCall: number) => {
    const ms = median(times) / perCall;
    const gbs = bytes / (ms * 1e-3) / 1e9;
    const row = { name, medianMs: ms, minMs: Math.min(...times) / perCall, maxMs: Math.max(...times) / perCall, samples: times.length, keysPerSecond: batch / (ms * 1e-3), GBs: gbs, ofPcieBound: boundMs / ms };
    runs.push(row);
    console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(8)} ms  ${(batch / ms / 1e3).toFixed(0).padStart(8)} Mkeys/s  ${gbs.toFixed(1).padStart(6)} GB/s  ${(boundMs / ms).toFixed(2)}x PCIe bound`);
  };
  const timeSeq = async (k: BigInt64Array, o: Float32Array) => {
    const t: number[] = [];
    for (let r = 0; r < reps + 2; r++) {
      const t0 = performance.now();
      await cache.query(k, o);
      if (r >= 2) t.push(performance.now() - t0);
    }
    return t;
  };
  report('pinned keys and out, one call at a time', await timeSeq(keysPinned, outPinned), 1);
  report('plain Float32Array out, one call at a time', await timeSeq(keysPlain, outPlain), 1);
  // Four calls in flight, each with its own pinned output.
  const outs = [outPinned, cache.pinnedFloat32(batch * dim), cache.pinnedFloat32(batch * dim), cache.pinnedFloat32(batch * dim)];
  const tPar: number[] = [];
  for (let r = 0; r < Math.max(3, reps / 3); r++) {
    const t0 = performance.now();
    await Promise.all(outs.map((o) => cache.query(keysPinned, o)));
    tPar.push(performance.now() - t0);
  }
  report('pinned, 4 calls in flight (time per call)', tPar, outs.length);
  // Pooled: the same keys as 64 Ki CSR rows of 16, weighted mean, reduced on the GPU; only the pooled
  // rows cross the bus (keys + offsets + weights in, rows x dim out).
  const pooledRows = batch >> 4;
  const offsets = new Uint32Array(pooledRows + 1).map((_, r) => r * 16);
  const weights = Float32Array.from({ length: batch }, (_, i) => 0.5 + (i % 7) / 8);
  const pooledOut = cache.pinnedFloat32(pooledRows * dim);
  const pooledTimes: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const t0 = performance.now();
    await cache.queryPooled(keysPinned, offsets, weights, 'mean', pooledOut);
    if (r >= 2) pooledTimes.push(performance.now() - t0);
  }
  const pooledBytes = batch * 12 + offsets.byteLength + pooledRows * dim * 4;
  const pooled = { rows: pooledRows, keysPerRow: 16, combiner: 'mean', weighted: true, medianMs: median(pooledTimes), minMs: Math.min(...pooledTimes), maxMs: Math.max(...pooledTimes), samples: pooledTimes.length, bytesMoved: pooledBytes, ofPcieBound: pooledBytes / (PCIE_GBS * 1e9) * 1e3 / median(pooledTimes) };
  console.log(`pooled mean, ${pooledRows} rows of 16 keys: ${pooled.medianMs.toFixed(2)} ms (${(batch / pooled.medianMs / 1e3).toFixed(0)} Mkeys/s, ${pooled.ofPcieBound.toFixed(2)}x the PCIe bound for ${(pooledBytes / 1e6).toFixed(0)} MB)`);
  const allMiss = cache.pinnedKeys(batch);
  fillKeys(allMiss);
  const overhead = await timeSeq(allMiss, outPinned);
  console.log(`all-miss batch (no rows cross the bus), pinned: ${median(overhead).toFixed(2)} ms`);
  await cache.close();

  // How rows reach host memory: threads per key in the query kernel (8/16/32; the kernel writes hit
  // rows over PCIe) and the copy-back path (directWrite off: rows gathered on the device, one copy
  // engine transfer, then the hit runs copied). Smaller table (2 Mi rows), same batch shape.
  const variants: Record<string, unknown>[] = [];
  const small = 3 << 19;
  const shapes = [
    { tile: 8, directWrite: true, chunk: 0 }, { tile: 8, directWrite: true, chunk: 1 << 16 }, { tile: 8, directWrite: true, chunk: 1 << 17 },
    { tile: 8, directWrite: true, chunk: 1 << 18 }, { tile: 32, directWrite: true, chunk: 1 << 17 }, { tile: 8, directWrite: false, chunk: 1 << 17 },
  ] as const;
  for (const v of shapes) {
    const c2 = CudaEmbeddingCache.create({ dim, capacity: 2 << 20, queryTile: v.tile, directWrite: v.directWrite, queryChunk: v.chunk });
    for (let first = 0; first < small; first += chunk) {
      const n = Math.min(chunk, small - first);
      for (let i = 0; i < n; i++) fillRow(rows, i * dim, first + i);
      await c2.insert(all.subarray(first, first + n), rows.subarray(0, n * dim));
    }
    const k2 = c2.pinnedKeys(batch);
    fillKeys(k2);
    for (let i = 0; i < batch; i++) if (next32() % 100 < 60) k2[i] = all[next32() % small];
    const o2 = c2.pinnedFloat32(batch * dim);
    const m2 = await c2.query(k2, o2);
    const b2 = batch * 8 + (batch - m2.length) * dim * 4;
    const t = async (k: BigInt64Array, o: Float32Array) => {
      const times: number[] = [];
      for (let r = 0; r < reps + 2; r++) {
        const t0 = performance.now();
        await c2.query(k, o);
        if (r >= 2) times.push(performance.now() - t0);
      }
      return median(times);
    };
    const pinnedMs = await t(k2, o2);
    const plainMs = await t(k2.slice(), new Float32Array(batch * dim));
    const row = { ...v, hitRate: 1 - m2.length / batch, pinnedMs, plainMs, pinnedOfPcieBound: b2 / (PCIE_GBS * 1e9) * 1e3 / pinnedMs, plainOfPcieBound: b2 / (PCIE_GBS * 1e9) * 1e3 / plainMs };
    variants.push(row);
    console.log(`tile ${v.tile} directWrite ${v.directWrite} chunk ${v.chunk}: pinned ${pinnedMs.toFixed(2)} ms (${row.pinnedOfPcieBound.toFixed(2)}x bound), plain ${plainMs.toFixed(2)} ms (${row.plainOfPcieBound.toFixed(2)}x)`);
    await c2.close();
  }

  // Two or more GPUs: 4 calls in flight on a replicated and on a sharded table over every device.
  const multi: Record<string, unknown>[] = [];
  const nat = loadNative();
  const devCount = nat.ok ? nat.devices : 0;
  if (devCount >= 2) {
    const devices = Array.from({ length: devCount }, (_, d) => d);
    for (const mode of ['replicated', 'sharded'] as const) {
      const c3 = CudaEmbeddingCache.create({ dim, capacity: 4 << 20, devices, deviceMode: mode });
      const fill = 3 << 20;
      for (let first = 0; first < fill; first += chunk) {
        for (let i = 0; i < chunk; i++) fillRow(rows, i * dim, first + i);
        await c3.insert(all.subarray(first, first + chunk), rows.subarray(0, chunk * dim));
      }
      const k3 = c3.pinnedKeys(batch);
      fillKeys(k3);
      for (let i = 0; i < batch; i++) if (next32() % 100 < 60) k3[i] = all[next32() % fill];
      const o3 = [0, 1, 2, 3].map(() => c3.pinnedFloat32(batch * dim));
      const times: number[] = [];
      for (let r = 0; r < Math.max(3, reps / 3); r++) {
        const t0 = performance.now();
        await Promise.all(o3.map((o) => c3.query(k3, o)));
        times.push((performance.now() - t0) / o3.length);
      }
      const row = { mode, devices: devCount, msPerCall: median(times), keysPerSecond: batch / (median(times) * 1e-3) };
      multi.push(row);
      console.log(`${mode} over ${devCount} GPUs, 4 calls in flight: ${row.msPerCall.toFixed(2)} ms a call`);
      await c3.close();
    }
  }

  const result = {
    suite: 'gpu',
    date: new Date().toISOString(),
    machine: { gpu: cache.device.name, cuda: { runtime: cache.device.runtimeVersion, driver: cache.device.driverVersion }, cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
    quick,
    kernel: kernelJson && existsSync(kernelJson) ? JSON.parse(readFileSync(kernelJson, 'utf8')) : null,
    hkvFindKeysPerSecond: { '0.5': 2.26 * 2 ** 30, '0.75': 2.22 * 2 ** 30, '1': 2.35 * 2 ** 30 },
    endToEnd: { check, capacity, dim, batch, loadFactor, hitRate, fillSeconds: fillMs / 1000, bytesMoved: bytes, pcieGBs: PCIE_GBS, pcieBoundMs: boundMs, runs, allMissPinnedMs: median(overhead), pooled, variants, multiGpu: multi },
  };
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`-> ${out}`);
}

await main();
