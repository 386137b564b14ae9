import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseL1Backend, createL1Cache } from '../engine/cache/select.js';
import { CudaEmbeddingCache } from '../engine/cache/cuda-cache.js';
import { loadNative, nativeAddonPath, type NativeStatus } from '../engine/native.js';
import { HpsError } from '../engine/errors.js';

// L1 selection and the no-GPU path; runs on any machine. Branches that need the other machine's state
// (a GPU here, or none on the GPU machine) are checked with the status the loader would return there.
const noGpu: NativeStatus = { ok: false, path: '/x/hps_cuda.node', reason: 'the CUDA addon loaded but no CUDA device is available (no GPU or no driver)' };
const gpu = { ok: true, path: '/x/hps_cuda.node', devices: 2, addon: {} as never, device0: { name: 'NVIDIA H100 80GB HBM3', major: 9, minor: 0, multiProcessors: 132, memoryBytes: 8e10, runtimeVersion: 13000, driverVersion: 13000 } } as NativeStatus;

test('auto picks CUDA when the addon loaded and sees a GPU, naming the card', () => {
  const c = chooseL1Backend('auto', () => gpu);
  assert.is(c.backend, 'cuda');
  assert.match(c.reason, /CUDA on NVIDIA H100 80GB HBM3 \(sm_90, 2 device\(s\)\)/);
});

test('auto falls back to WASM and says why', () => {
  const c = chooseL1Backend('auto', () => noGpu);
  assert.is(c.backend, 'wasm');
  assert.match(c.reason, /WASM, because the CUDA addon loaded but no CUDA device/);
});

test('l1Backend "wasm" forces WASM without probing; "cuda" without a GPU is a NO_GPU error', () => {
  assert.is(chooseL1Backend('wasm', () => { throw new Error('must not probe'); }).backend, 'wasm');
  assert.throws(() => chooseL1Backend('cuda', () => noGpu), (e: unknown) => e instanceof HpsError && e.code === 'NO_GPU' && /l1Backend is "cuda"/.test(e.message));
  assert.throws(() => chooseL1Backend('gpu' as never), (e: unknown) => e instanceof HpsError && e.code === 'BAD_CONFIG' && /l1Backend: got gpu/.test(e.message));
});

test('this machine: the loader reports a reason or a device, and createL1Cache logs one line', async () => {
  const st = loadNative();
  const lines: string[] = [];
  const cache = createL1Cache({ dim: 8, capacity: 256, policy: 'lru', backend: 'auto', log: (l) => lines.push(l) });
  try {
    assert.is(lines.length, 1);
    if (st.ok) {
      assert.is(cache.kind, 'cuda');
      assert.match(lines[0], /CUDA on /);
    } else {
      assert.is(cache.kind, 'wasm');
      assert.ok(lines[0].includes(st.reason), lines[0]);
      assert.ok(st.reason.length > 20 && st.path === nativeAddonPath());
      assert.throws(() => CudaEmbeddingCache.create({ dim: 8, capacity: 256 }), (e: unknown) => e instanceof HpsError && e.code === 'NO_GPU');
    }
    // Whichever cache was built works: insert random rows and read them back.
    const keys = BigInt64Array.from({ length: 50 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n - 7n);
    const rows = Float32Array.from({ length: 50 * 8 }, (_, i) => Math.sin(i + 1));
    await cache.insert(BigInt64Array.from(keys, (k) => BigInt.asIntN(64, k)), rows);
    const out = new Float32Array(rows.length);
    assert.is((await cache.query(BigInt64Array.from(keys, (k) => BigInt.asIntN(64, k)), out)).length, 0);
    assert.equal(out, rows);
  } finally {
    await cache.close();
  }
});

test('an addon path that does not exist gives a reason naming it (fresh process)', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import { loadNative } from ${JSON.stringify(new URL('../engine/native.js', import.meta.url).href)}; console.log(JSON.stringify(loadNative()));`],
    { encoding: 'utf8', env: { ...process.env, HPS_NATIVE_ADDON: '/nonexistent/hps_cuda.node' } });
  const st = JSON.parse(r.stdout) as { ok: boolean; reason: string };
  assert.is(st.ok, false);
  assert.match(st.reason, /\/nonexistent\/hps_cuda.node is missing/);
});

test.run();
