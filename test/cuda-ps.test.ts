import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative } from '../engine/native.js';
import { PipelineFixture } from './helpers/pipeline-fixture.js';
import { sameAsWasm } from './helpers/l1-equality.js';

// ParameterServer with the CUDA L1 against the WASM L1, on random data: lookup, lookupMany,
// lookupPooled (every combiner, with and without weights, reduced on the GPU), update, erase and
// prefetch, on one GPU, replicated and sharded over two (devices 0 and 1, or device 0 listed twice on a
// one-GPU machine) and, on a machine with more, over all of its GPUs, inline and split over workers; and the pinned outputs of allocOutput. Without a GPU
// (CI) the suite registers no test and prints why.
const native = loadNative();
const fixtures: PipelineFixture[] = [];
const fixture = () => {
  const fx = new PipelineFixture(6000, 24, 31);
  fixtures.push(fx);
  return fx;
};
test.after(() => fixtures.forEach((fx) => fx.dir.remove()));

if (!native.ok) {
  console.log(`cuda-ps: skipped, ${native.reason}`);
} else {
  const pair = native.devices >= 2 ? [0, 1] : [0, 0];
  const layouts = [
    { name: 'one GPU', devices: [0], deviceMode: 'replicated' as const },
    { name: `replicated on devices ${pair.join(', ')}`, devices: pair, deviceMode: 'replicated' as const },
    { name: `sharded on devices ${pair.join(', ')}`, devices: pair, deviceMode: 'sharded' as const },
  ];
  if (native.devices > 2) {
    const all = Array.from({ length: native.devices }, (_, d) => d);
    layouts.push(
      { name: `replicated on all ${all.length} GPUs`, devices: all, deviceMode: 'replicated' as const },
      { name: `sharded on all ${all.length} GPUs`, devices: all, deviceMode: 'sharded' as const },
    );
  }
  for (const layout of layouts) {
    for (const workers of [0, 2]) {
      test(`${layout.name}, ${workers ? 'split over 2 workers' : 'inline'}: random requests give the WASM path's rows`, async () => {
        const split = workers ? 128 : undefined;
        const wasmFx = fixture();
        const wasm = await wasmFx.open({ l1Backend: 'wasm' }, { workerThreads: workers }, split);
        const gpu = await fixture().open({ l1Backend: 'cuda', deployedDevices: layout.devices, deviceMode: layout.deviceMode }, { workerThreads: workers }, split);
        try {
          await sameAsWasm(wasm, gpu, wasmFx, 77 + workers, 60);
          const s = gpu.stats()[0];
          assert.is(s.l1Cache?.kind, 'cuda');
          assert.ok(s.l1.hits > 0, `the GPU cache answered (${s.l1.hits} L1 hits)`);
          assert.is(s.l1.hits + s.l2.hits + s.l3.hits + s.defaults, s.uniqueKeys);
        } finally {
          await wasm.close();
          await gpu.close();
        }
      });
    }
    test(`${layout.name}: outputs from allocOutput (pinned) give the same rows as plain arrays, in lookup, lookupMany and lookupPooled`, async () => {
      const fx = fixture();
      const gpu = await fx.open({ l1Backend: 'cuda', deployedDevices: layout.devices, deviceMode: layout.deviceMode });
      try {
        const keys = BigInt64Array.from({ length: 3000 }, (_, i) => (i % 13 === 0 ? fx.absent(40)[i % 40] : fx.keys[(i * 7919) % 6000]));
        const pinned = gpu.allocOutput('m', 't', keys.length);
        assert.is(pinned.length, keys.length * fx.dim);
        for (let round = 0; round < 3; round++) {
          pinned.fill(Number.NaN);
          assert.equal(await gpu.lookup('m', 't', keys, pinned), fx.expected(keys), `round ${round}: lookup into pinned memory`);
        }
        const [a, b] = await gpu.lookupMany('m', [{ table: 't', keys, out: pinned }, { table: 't', keys: keys.subarray(0, 100) }]);
        assert.equal(a, fx.expected(keys));
        assert.equal(b, fx.expected(keys.subarray(0, 100)));
        const offsets = Uint32Array.from({ length: 301 }, (_, r) => r * 10);
        const pooledPinned = gpu.allocOutput('m', 't', 300);
        const viaPinned = await gpu.lookupPooled('m', 't', keys, offsets, { combiner: 'mean', out: pooledPinned });
        const viaPlain = await gpu.lookupPooled('m', 't', keys, offsets, { combiner: 'mean' });
        // The first call cached the rows it fetched from below: the second sums them on the GPU instead
        // of on the host, in another order, so the two agree within float32 rounding.
        for (let i = 0; i < viaPlain.length; i++) {
          assert.ok(Math.abs(viaPinned[i] - viaPlain[i]) <= 1e-5 * (1 + Math.abs(viaPlain[i])), `pooled float ${i}: ${viaPinned[i]} vs ${viaPlain[i]}`);
        }
        assert.throws(() => gpu.allocOutput('m', 't', -1), /allocOutput: n/);
      } finally {
        await gpu.close();
      }
    });
  }
}

test.run();
