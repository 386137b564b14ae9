// `hps serve` on the GPU machine: the server (server/) over a ParameterServer whose L1 is the CUDA cache,
// KServe v2 HTTP binary infer of 16,384 keys a request against ps.lookup of the same keys in process,
// interleaved, on the same machine. Every HTTP answer is checked against the in-process rows first.
//   node dist/bench/gpu/serve-e2e.js [--out file.json]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterServer } from '../../engine/index.js';
import { CudaEmbeddingCache } from '../../engine/cache/cuda-cache.js';
import { createServer } from '../../server/server.js';

const outFile = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
const dim = 128, rowsHeld = 1 << 20, batch = 16384, reps = 60;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const keyOf = (i: number) => (BigInt(i) * 0x9e3779b97f4a7c15n + 0x1234567n) & 0x7fffffffffffffffn;

const dir = mkdtempSync(join(tmpdir(), 'hps-serve-e2e-'));
const folder = join(dir, 'sparse');
mkdirSync(folder);
// A small table on disk gives the model its L1; the CUDA cache itself is filled below.
writeFileSync(join(folder, 'key'), new Uint8Array(BigInt64Array.from({ length: 64 }, (_, i) => -1n - BigInt(i)).buffer));
writeFileSync(join(folder, 'emb_vector'), new Uint8Array(new Float32Array(64 * dim).fill(0.5).buffer));
let cache: CudaEmbeddingCache | null = null;
const ps = await ParameterServer.open({
  keyType: 'int64', volatileDb: { type: 'hash_map', numPartitions: 2 }, workerThreads: 0,
  // One request may carry the whole batch: maxBatchSize x maxQueryPerSample >= 16,384 keys.
  models: [{ name: 'm', maxBatchSize: 1, tables: [{ name: 't', dim, sparseFile: folder, maxQueryPerSample: batch }] }],
}, { progress: false, log: () => {}, l1Cache: (spec) => (cache = CudaEmbeddingCache.create({ dim: spec.dim, capacity: 2 * rowsHeld, devices: [0] })) });
const c = cache as CudaEmbeddingCache | null;
if (!c) throw new Error('the CUDA L1 was not built');
const chunk = 1 << 16;
const ks = c.pinnedKeys(chunk), rows = c.pinnedFloat32(chunk * dim);
for (let first = 0; first < rowsHeld; first += chunk) {
  for (let i = 0; i < chunk; i++) {
    ks[i] = keyOf(first + i);
    for (let d = 0; d < dim; d++) rows[i * dim + d] = (first + i) + d / 1024;
  }
  await c.insert(ks, rows);
}
const server = createServer(ps, { httpPort: 0, grpcPort: null, metricsPort: null });
const { http } = await server.listen();
const url = `http://${http.host}:${http.port}/v2/models/m/infer`;
console.log(`serving on ${url}; CUDA L1 holds ${rowsHeld} rows x ${dim}`);

let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % rowsHeld);
const batches = Array.from({ length: 4 }, () => BigInt64Array.from({ length: batch }, () => keyOf(rand())));
function body(keys: BigInt64Array): { body: Buffer; headerLength: number } {
  const header = Buffer.from(JSON.stringify({
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [1, keys.length], parameters: { binary_data_size: keys.byteLength } },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [1, 1], parameters: { binary_data_size: 4 } },
    ],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([header, Buffer.from(keys.buffer), Buffer.from(Int32Array.of(keys.length).buffer)]), headerLength: header.length };
}
const bodies = batches.map(body);
async function infer(i: number): Promise<Float32Array> {
  const b = bodies[i];
  const res = await fetch(url, { method: 'POST', body: b.body, headers: { 'Inference-Header-Content-Length': String(b.headerLength), 'Content-Type': 'application/octet-stream' } });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`infer answered ${res.status}: ${bytes.toString().slice(0, 300)}`);
  const at = Number(res.headers.get('Inference-Header-Content-Length'));
  const out = bytes.subarray(at);
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}
const plain = new Float32Array(batch * dim);
const pinned = ps.allocOutput('m', 't', batch);
for (let b = 0; b < batches.length; b++) {
  await ps.lookup('m', 't', batches[b], plain);
  const got = await infer(b);
  if (got.length !== plain.length || got.some((v, i) => v !== plain[i])) throw new Error(`batch ${b}: HTTP rows differ from ps.lookup`);
  for (let i = 0; i < 64; i++) {
    const row = plain[i * dim];
    if (keyOf(row) !== batches[b][i]) throw new Error(`batch ${b} key ${i}: row ${row} is not the key's`);
  }
}
console.log('HTTP binary infer equals ps.lookup on 4 batches of 16,384 keys');
const t = { http: [] as number[], plain: [] as number[], pinned: [] as number[] };
for (let r = 0; r < reps + 3; r++) {
  const b = r % batches.length;
  let t0 = performance.now();
  await infer(b);
  const h = performance.now() - t0;
  t0 = performance.now();
  await ps.lookup('m', 't', batches[b], plain);
  const p = performance.now() - t0;
  t0 = performance.now();
  await ps.lookup('m', 't', batches[b], pinned);
  const q = performance.now() - t0;
  if (r >= 3) { t.http.push(h); t.plain.push(p); t.pinned.push(q); }
}
const fig = (v: number[]) => ({ medianMs: median(v), minMs: Math.min(...v), maxMs: Math.max(...v), samples: v.length });
const result = {
  date: new Date().toISOString(), batch, dim, rowsHeld,
  httpBinaryInfer: fig(t.http), inProcessPlain: fig(t.plain), inProcessPinned: fig(t.pinned),
  httpOverInProcessPlain: median(t.http) / median(t.plain), httpOverInProcessPinned: median(t.http) / median(t.pinned),
};
console.log(JSON.stringify(result, null, 1));
if (outFile) writeFileSync(outFile, JSON.stringify(result, null, 1) + '\n');
await server.close();
await ps.close();
rmSync(dir, { recursive: true, force: true });
