import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../engine/config/index.js';
import { HpsError } from '../engine/errors.js';
import { ParameterServer } from '../engine/parameter-server.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { rng } from './helpers/random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';

/*
 * Every HPS ps.json found in HugeCTR's notebooks, docs and CI and in hugectr_backend's samples (the
 * files of test/fixtures/config/hps-samples/, sources in its README.md), as written there. Each must
 * resolve as HPS's parser read it, and open and serve exactly: the test writes small random sparse
 * files where the config names them, and looks every key up.
 */

const dir = fileURLToPath(new URL('../../test/fixtures/config/hps-samples/', import.meta.url));
const samples = readdirSync(dir).filter((f) => f.endsWith('.ps.json')).sort();
const tmp = mkdtempSync(join(tmpdir(), 'hps-samples-'));
// Samples with a redis_cluster volatile_db are served by one real cluster, started for the first of them.
let cluster: LocalCluster | null = null;
test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await cluster?.stop();
});

type Json = Record<string, any>;
const read = (file: string): Json => JSON.parse(readFileSync(join(dir, file), 'utf8'));
/** HPS read numbers and booleans written as strings (the Triton backend's configs do that). */
const num = (v: unknown): number => Number(v);
const bool = (v: unknown): boolean => v === true || v === 'true';

/*
 * HugeCTR 3.x configs give no embedding_vecsize_per_table: HPS read the tables from the network file
 * training wrote next to the model. These are the tables of the two sample models (as the same samples'
 * later configs spell them out), for writing such a file.
 */
const NETWORK_TABLES: Record<string, { dims: number[]; maxQuery: number[] }> = {
  wdl: { dims: [1, 15], maxQuery: [2, 26] },
  dlrm: { dims: [128], maxQuery: [26] },
};

function networkFile(model: string): Json {
  const t = NETWORK_TABLES[model];
  assert.ok(t, `no network tables known for model ${model}`);
  return {
    layers: [
      { name: 'data', type: 'Data', sparse: t.dims.map((_, i) => ({ top: `data${i}`, type: 'DistributedSlot', max_feature_num_per_sample: t.maxQuery[i], slot_num: 1 })) },
      ...t.dims.map((dim, i) => ({ name: `e${i}`, type: 'DistributedSlotSparseEmbeddingHash', bottom: `data${i}`, top: `sparse_embedding${i + 1}`, sparse_embedding_hparam: { embedding_vec_size: dim } })),
      { name: 'fc', type: 'InnerProduct', bottom: 'sparse_embedding1', top: 'fc' },
    ],
  };
}

/** What HPS's parser made of a model's tables, computed from the raw JSON independently of engine/config. */
function expectedTables(m: Json, keyType: string) {
  const dims: number[] = (m.embedding_vecsize_per_table ?? NETWORK_TABLES[m.model].dims).map(num);
  const names: string[] = m.embedding_table_names ?? (m.embedding_vecsize_per_table ? dims.map((_, i) => `sparse_embedding${i}`) : dims.map((_, i) => `sparse_embedding${i + 1}`));
  const defaults: unknown[] = m.default_value_for_each_table ?? [];
  return dims.map((dim, i) => ({ name: names[i], dim, keyType, defaultValue: i < defaults.length ? num(defaults[i]) : 0 }));
}

test('the samples are there', () => {
  assert.ok(samples.length >= 30, `only ${samples.length} samples`);
});

for (const file of samples) {
  test(`${file}: resolves as HPS read it, opens, and serves every key exactly`, async () => {
    const raw = read(file);
    const needsNetwork = raw.models.some((m: Json) => m.embedding_vecsize_per_table === undefined);
    if (needsNetwork) {
      // As written (absolute paths of a training container) the network file is missing: say so.
      try {
        resolveConfig(raw, dir);
        assert.unreachable('resolved without its network file');
      } catch (e) {
        assert.instance(e, HpsError);
        assert.match((e as HpsError).message, /network_file: cannot read network file .*needed for the tables/);
      }
    }

    // A copy of the config in a folder of its own, its files (sparse, network, store) moved there.
    const home = join(tmp, file.replace('.ps.json', ''));
    mkdirSync(home, { recursive: true });
    const config: Json = structuredClone(raw);
    config.worker_threads = 0;
    if (config.persistent_db?.path !== undefined) config.persistent_db.path = 'store';
    if (typeof config.volatile_db?.type === 'string' && config.volatile_db.type.startsWith('redis')) {
      // The sample's own addresses (fixed ports) point at this test's cluster instead, emptied first.
      cluster ??= await startCluster();
      await cluster.flushAll();
      config.volatile_db.address = cluster.address;
    }
    const keyType = raw.supportlonglong === false ? 'uint32' : 'int64';
    const r = rng(samples.indexOf(file) + 1);
    const written: { model: string; table: string; dim: number; keys: BigInt64Array; vectors: Float32Array; defaultValue: number }[] = [];
    config.models.forEach((m: Json, i: number) => {
      if (m.network_file !== undefined && m.embedding_vecsize_per_table === undefined) {
        writeFileSync(join(home, `${m.model}.net.json`), JSON.stringify(networkFile(m.model)));
        m.network_file = `${m.model}.net.json`;
      }
      const tables = expectedTables(raw.models[i], keyType);
      m.sparse_files = tables.map((t) => `sparse/${m.model}/${t.name}`);
      for (const t of tables) {
        const n = 40 + Math.floor(r() * 40);
        const keys = new BigInt64Array(n);
        const used = new Set<bigint>();
        for (let k = 0; k < n; k++) {
          let key: bigint;
          do key = BigInt(Math.floor(r() * 2 ** 31)); while (used.has(key));
          used.add(key);
          keys[k] = key;
        }
        const vectors = Float32Array.from({ length: n * t.dim }, () => r() * 4 - 2);
        // 8-byte keys also where supportlonglong is false: HPS reads the key file as int64 either way.
        writeHugeCtr(join(home, 'sparse', m.model, t.name), keys, vectors);
        written.push({ model: m.model, table: t.name, dim: t.dim, keys, vectors, defaultValue: t.defaultValue });
      }
    });
    const path = join(home, 'ps.json');
    writeFileSync(path, JSON.stringify(config, null, 2));

    const resolved = resolveConfig(config, home);
    assert.equal(resolved.keyType, keyType);
    resolved.models.forEach((m, i) => {
      assert.is(m.name, raw.models[i].model);
      assert.equal(m.tables.map(({ name, dim, keyType: k, defaultValue }) => ({ name, dim, keyType: k, defaultValue })), expectedTables(raw.models[i], keyType));
      if (raw.models[i].gpucache !== undefined) assert.is(m.l1Enabled, bool(raw.models[i].gpucache));
      if (raw.models[i].gpucacheper !== undefined) assert.is(m.l1CacheFraction, num(raw.models[i].gpucacheper));
      if (raw.models[i].hit_rate_threshold !== undefined) assert.is(m.hitRateThreshold, num(raw.models[i].hit_rate_threshold));
    });
    for (const w of resolved.warnings) assert.match(w, /unknown key, ignored/);

    const warnings: string[] = [];
    const ps = await ParameterServer.open(path, { warn: (line) => warnings.push(line), log: () => {}, progress: false });
    try {
      for (const w of written) {
        const absent = BigInt64Array.from({ length: 5 }, (_, i) => BigInt(2 ** 31 + i));
        const keys = keyType === 'int64' ? BigInt64Array.from([...w.keys, ...absent]) : Uint32Array.from([...w.keys, ...absent], Number);
        const out = await ps.lookup(w.model, w.table, keys);
        for (let k = 0; k < keys.length; k++) {
          const hit = k < w.keys.length;
          for (let d = 0; d < w.dim; d++) {
            const want = hit ? w.vectors[k * w.dim + d] : Math.fround(w.defaultValue);
            if (out[k * w.dim + d] !== want) assert.unreachable(`${w.model}.${w.table} key ${keys[k]} [${d}]: got ${out[k * w.dim + d]}, expected ${want}`);
          }
        }
      }
    } finally {
      await ps.close();
    }
  });
}

test.run();
