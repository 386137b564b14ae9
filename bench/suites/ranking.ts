import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterServer } from '../../engine/index.js';
import { FULL_DATASET, QUICK_DATASET, SampleGenerator, type Batch, type DatasetOptions } from '../../examples/ranking/dataset.js';
import { prepareModelFolder, readTableRows } from '../../examples/ranking/model-files.js';
import { RankingStep, openSession } from '../../examples/ranking/ranking-step.js';
import { timeRuns } from '../lib/measure.js';
import { summarize } from '../lib/stats.js';
import type { Scale } from '../lib/results.js';
import type { Suite } from '../lib/suite.js';

/** Data set, batch size and interleaved rounds per scale (full: a batch of 16,384). */
const SIZES: Record<Scale, { dataset: DatasetOptions; batch: number; batches: number; rounds: number }> = {
  full: { dataset: FULL_DATASET, batch: 16384, batches: 4, rounds: 12 },
  quick: { dataset: QUICK_DATASET, batch: 16384, batches: 2, rounds: 4 },
  smoke: { dataset: { maxVocabExponent: 2.5, maxMultiHot: 3, seed: 7 }, batch: 256, batches: 2, rounds: 2 },
};

/**
 * One DLRM-shaped ranking step (examples/ranking: 26 categorical features in two tables, dense MLP in
 * onnxruntime-node) at batch 16,384: embeddings from the parameter server written into the ONNX input
 * tensors, the same with the embeddings in a Map<bigint, Float32Array> (the naive Node approach, writing
 * into the same tensors), and the model alone; each also split into its lookup part. The five
 * measurements are interleaved round by round, so that load from other processes hits them alike.
 */
export const rankingSuite: Suite = {
  name: 'ranking',
  description: 'DLRM-shaped ranking step at batch 16,384: parameter server vs Map<bigint, Float32Array>, and the model alone (onnxruntime-node)',
  needs: [],
  async run(ctx, report) {
    const sizes = SIZES[ctx.scale];
    const dir = join(tmpdir(), `hps-bench-ranking-${ctx.scale}`);
    const folder = prepareModelFolder(dir, sizes.dataset, (line) => console.log(`  ${line}`));
    const { layout } = folder;
    report.sizes = {
      batch: sizes.batch,
      cat16Keys: layout.tables.cat16.rows,
      cat64Keys: layout.tables.cat64.rows,
      features: '13 dense; 22 one-hot dim 16; 2 one-hot + 2 multi-hot (mean) dim 64',
      rounds: sizes.rounds,
    };
    const t0 = Date.now();
    const ps = await ParameterServer.open(folder.psJson, { log: () => {} });
    const session = await openSession(folder.onnxModel);
    console.log(`  parameter server and ONNX session opened in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    try {
      const step = new RankingStep(ps, session, layout, sizes.batch);
      const generator = new SampleGenerator(layout, sizes.dataset, 1);
      const batches = Array.from({ length: sizes.batches }, () => generator.next(sizes.batch));
      const mapLookup = mapLookups(dir, step);
      const mapStep = async (b: Batch) => {
        mapLookup(b);
        return step.model(b);
      };
      await checkSameScores(step, mapStep, batches[0]);

      let i = 0;
      const next = () => batches[i++ % batches.length];
      const runs: Record<string, () => Promise<unknown>> = {
        'step, parameter server': () => step.run(next()),
        'step, Map': () => mapStep(next()),
        'model alone': () => step.model(batches[0]),
        'lookup, parameter server': () => step.lookup(next()),
        'lookup, Map': async () => mapLookup(next()),
      };
      const seconds = new Map<string, number[]>(Object.keys(runs).map((k) => [k, []]));
      for (let r = 0; r < sizes.rounds; r++) {
        const names = Object.keys(runs);
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + r) % names.length]; // rotate the order each round
          seconds.get(name)!.push(...(await timeRuns(1, runs[name])));
        }
      }
      const figure = (name: string, note?: string) =>
        report.figure(name, 'samples/s', summarize(seconds.get(name)!.map((s) => sizes.batch / s)), note);
      const psStep = figure('step, parameter server', 'lookupMany + lookupPooled into the ONNX input tensors, then session.run');
      const mapStepFigure = figure('step, Map', 'Map.get + set per key into the same tensors (mean pooling in JS), then session.run');
      figure('model alone', 'session.run over inputs already in place');
      const psLookup = figure('lookup, parameter server');
      const mapLookupFigure = figure('lookup, Map');
      report.ratio('step: parameter server vs Map', psStep, mapStepFigure, 5);
      report.ratio('lookup share of the step (parameter server)', psStep, psLookup, 0.5, '<=');
      report.ratio('lookup share of the step (Map)', mapStepFigure, mapLookupFigure, 1, '<=');
      report.ratio('lookup: parameter server vs Map', psLookup, mapLookupFigure, 5);
      const ms = (f: { median: number }) => ((sizes.batch / f.median) * 1000).toFixed(1);
      report.note(`per batch of ${sizes.batch} (medians): step ${ms(psStep)} ms with the parameter server, ${ms(mapStepFigure)} ms with a Map; ` +
        `lookups ${ms(psLookup)} ms vs ${ms(mapLookupFigure)} ms. HPS's published anchor (DLRM, batch 16,384, on a GPU): 4.1 ms with HPS vs 35.3 ms with the table in native TF on the CPU (8.6x).`);
    } finally {
      await session.release();
      await ps.close();
    }
  },
};

/**
 * The naive Node version of the step's lookups: every row of both tables in a Map<bigint, Float32Array>
 * (row views of the tables' rows), read key by key into the step's input tensors.
 */
function mapLookups(dir: string, step: RankingStep): (b: Batch) => void {
  const mapOf = (table: 'cat16' | 'cat64', dim: number) => {
    const rows = readTableRows(dir, table);
    const map = new Map<bigint, Float32Array>();
    for (let i = 0; i < rows.length / dim; i++) map.set(BigInt(i), rows.subarray(i * dim, (i + 1) * dim));
    return map;
  };
  const t0 = Date.now();
  const map16 = mapOf('cat16', 16);
  const map64 = mapOf('cat64', 64);
  console.log(`  Map<bigint, Float32Array> of ${map16.size + map64.size} rows built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const gather = (map: Map<bigint, Float32Array>, keys: BigInt64Array, out: Float32Array, dim: number) => {
    for (let i = 0; i < keys.length; i++) out.set(map.get(keys[i])!, i * dim);
  };
  return (b) => {
    gather(map16, b.keys16, step.emb16, 16);
    gather(map64, b.keys64, step.emb64, 64);
    const out = step.pooled64;
    for (let r = 0; r + 1 < b.multiOffsets.length; r++) {
      const from = b.multiOffsets[r];
      const to = b.multiOffsets[r + 1];
      out.fill(0, r * 64, (r + 1) * 64);
      for (let k = from; k < to; k++) {
        const v = map64.get(b.multiKeys[k])!;
        for (let d = 0; d < 64; d++) out[r * 64 + d] += v[d];
      }
      if (to > from) for (let d = 0; d < 64; d++) out[r * 64 + d] /= to - from;
    }
  };
}

/** Both versions of the step must score a batch alike before either is timed. */
async function checkSameScores(step: RankingStep, mapStep: (b: Batch) => Promise<Float32Array>, batch: Batch): Promise<void> {
  const fromPs = (await step.run(batch)).scores.slice();
  const fromMap = await mapStep(batch);
  for (let i = 0; i < fromPs.length; i++) {
    if (!(Math.abs(fromPs[i] - fromMap[i]) <= 1e-5)) throw new Error(`ranking: sample ${i} scores ${fromPs[i]} with the parameter server, ${fromMap[i]} with the Map`);
  }
}
