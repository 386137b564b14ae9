import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PipelineFixture } from './helpers/pipeline-fixture.js';

const fx = new PipelineFixture(20000, 16, 21);
test.after(() => fx.dir.remove());

test('lookups served by worker threads while update() rewrites the same keys never see a mixed vector, and see every update once it resolved', async () => {
  // splitMinKeys 256: every lookup below goes to the two workers, in ranges, while the main thread writes.
  const ps = await fx.open({ l1CacheFraction: 0.3, hitRateThreshold: 0.5 }, { workerThreads: 2 }, 256);
  const hot = fx.ranked(0, 300).filter((_, i) => i % 3 === 0); // in L1, L2 and L3
  const cold = fx.ranked(15000, 15100); // L3 only at first
  const written = new BigInt64Array([...hot, ...cold]);
  const stamp = (s: number) => new Float32Array(written.length * fx.dim).fill(s);
  const batch = new BigInt64Array(4096);
  for (let i = 0; i < batch.length; i++) batch[i] = i % 2 === 0 ? written[i % written.length] : fx.keys[(i * 7919) % fx.keys.length];
  const isWritten = new Set(written);
  let rowsChecked = 0;
  try {
    let s = 1;
    await ps.update('m', 't', written, stamp(s));
    for (let round = 0; round < 60; round++) {
      const lookups = [ps.lookup('m', 't', batch), ps.lookup('m', 't', batch)];
      const low = s;
      for (let w = 0; w < 4; w++) await ps.update('m', 't', written, stamp(++s));
      const results = await Promise.all(lookups);
      for (const out of results) {
        for (let i = 0; i < batch.length; i++) {
          if (!isWritten.has(batch[i])) continue;
          const v = out[i * fx.dim];
          for (let d = 1; d < fx.dim; d++) {
            if (out[i * fx.dim + d] !== v) assert.unreachable(`round ${round} row ${i}: mixed vector ${Array.from(out.subarray(i * fx.dim, (i + 1) * fx.dim))}`);
          }
          if (!(v >= low && v <= s)) assert.unreachable(`round ${round} row ${i}: stamp ${v} outside the writes in flight [${low}, ${s}]`);
          rowsChecked++;
        }
      }
      // After the writes resolved, a new lookup (inline, and split across the workers) sees the last one.
      const inline = await ps.lookup('m', 't', written);
      if (inline.some((x) => x !== s)) assert.unreachable(`round ${round}: an inline lookup after update(${s}) resolved saw an older stamp`);
      const split = await ps.lookup('m', 't', batch);
      for (let i = 0; i < batch.length; i += 2) {
        if (split[i * fx.dim] !== s) assert.unreachable(`round ${round}: a worker lookup after update(${s}) resolved saw ${split[i * fx.dim]}`);
      }
    }
    const stats = ps.stats()[0];
    assert.ok(stats.l1.hits > 0 && stats.l3.hits > 0, 'the lookups went through L1 and L3');
    assert.ok(rowsChecked > 200000, `checked ${rowsChecked} rows`);
  } finally {
    await ps.close();
  }
});

test.run();
