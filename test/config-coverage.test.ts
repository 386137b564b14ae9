import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type HpsOptions, type ResolvedConfig } from '../engine/config/index.js';
import { COVERAGE, type Coverage } from '../engine/config/coverage.js';
import { UNUSED_PS_JSON_KEYS } from '../engine/config/ps-json-unused.js';

// Every field of ResolvedConfig is honoured (read by the engine) or listed in notYetSupported by both
// readers: engine/config/coverage.ts says which, and this test holds it to what the code does.

const root = fileURLToPath(new URL('../../', import.meta.url));
const source = (file: string) => readFileSync(root + file, 'utf8');
const entries = Object.entries(COVERAGE) as [string, Coverage][];

/** A resolved config with every optional block present, so that every field has a value. */
function fullConfig(): ResolvedConfig {
  return resolveConfig({
    models: [{ name: 'm', tables: [{ name: 't', dim: 4, sparseFile: 's' }] }],
    volatileDb: {}, persistentDb: {}, updateSource: { type: 'redis_stream' },
  }, '/srv');
}

/** Leaf paths of a value, `[]` for stepping into arrays of objects (the notation of coverage.ts). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  if (Array.isArray(value)) {
    const objects = value.filter((v) => v !== null && typeof v === 'object');
    return objects.length === 0 ? [prefix] : [...new Set(objects.flatMap((v) => leafPaths(v, `${prefix}[]`)))];
  }
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`));
}

test('coverage.ts has one entry for each field of a resolved config, no more, no fewer', () => {
  assert.equal(leafPaths(fullConfig()).sort(), entries.map(([path]) => path).sort());
});

test('each honoured field is still mentioned by every module said to read it', () => {
  for (const [path, coverage] of entries) {
    if (coverage.status === 'describes') continue;
    if (coverage.status === 'honoured') assert.ok(coverage.readBy.length > 0, `${path}: honoured by no module`);
    const field = path.split('.').pop()!.replace('[]', '');
    for (const file of coverage.readBy) {
      assert.match(source(file), new RegExp(`\\b${field}\\b`), `${path} is said to be read by ${file}, which does not mention ${field}`);
    }
  }
});

/*
 * For each field that is listed (or was: the row stays when a field is flipped to honoured), the same
 * non-default setting written as a ps.json and as typed options. Both readers must list the field
 * exactly while coverage.ts says it is listed.
 */
const tableModel = (extra: Record<string, unknown> = {}) => ({ model: 'm', embedding_vecsize_per_table: [4, 4], embedding_table_names: ['a', 'b'], ...extra });
const optionModel = (extra: Record<string, unknown> = {}, table: Record<string, unknown> = {}) =>
  ({ name: 'm', tables: [{ name: 'a', dim: 4 }, { name: 'b', dim: 4, ...table }], ...extra });
const PROBES: Record<string, { ps: object; options: HpsOptions; psName: string; optionName: string }> = {
  'models[].tables[].maxQueryPerSample': {
    ps: { models: [tableModel({ maxnum_catfeature_query_per_table_per_sample: [26, 5] })] },
    options: { models: [optionModel({}, { maxQueryPerSample: 5 })] },
    psName: 'models[0].maxnum_catfeature_query_per_table_per_sample', optionName: 'models[0].tables[1].maxQueryPerSample',
  },
  'models[].maxBatchSize': {
    ps: { models: [tableModel({ max_batch_size: 1024 })] }, options: { models: [optionModel({ maxBatchSize: 1024 })] },
    psName: 'models[0].max_batch_size', optionName: 'models[0].maxBatchSize',
  },
  'volatileDb.type': {
    ps: { models: [tableModel()], volatile_db: { type: 'redis_cluster' } }, options: { models: [optionModel()], volatileDb: { type: 'redis_cluster' } },
    psName: 'volatile_db.type', optionName: 'volatileDb.type',
  },
  'volatileDb.maxBatchSize': {
    ps: { models: [tableModel()], volatile_db: { type: 'hash_map', max_batch_size: 100 } }, options: { models: [optionModel()], volatileDb: { maxBatchSize: 100 } },
    psName: 'volatile_db.max_batch_size', optionName: 'volatileDb.maxBatchSize',
  },
  'volatileDb.addresses': {
    ps: { models: [tableModel()], volatile_db: { type: 'hash_map', address: 'redis-a:7001' } }, options: { models: [optionModel()], volatileDb: { addresses: 'redis-a:7001' } },
    psName: 'volatile_db.address', optionName: 'volatileDb.addresses',
  },
  'volatileDb.userName': {
    ps: { models: [tableModel()], volatile_db: { type: 'hash_map', user_name: 'svc' } }, options: { models: [optionModel()], volatileDb: { userName: 'svc' } },
    psName: 'volatile_db.user_name', optionName: 'volatileDb.userName',
  },
  'volatileDb.password': {
    ps: { models: [tableModel()], volatile_db: { type: 'hash_map', password: 'secret' } }, options: { models: [optionModel()], volatileDb: { password: 'secret' } },
    psName: 'volatile_db.password', optionName: 'volatileDb.password',
  },
  'persistentDb.maxGetBatchSize': {
    ps: { models: [tableModel()], persistent_db: { type: 'rocks_db', max_get_batch_size: 500 } }, options: { models: [optionModel()], persistentDb: { maxGetBatchSize: 500 } },
    psName: 'persistent_db.max_get_batch_size', optionName: 'persistentDb.maxGetBatchSize',
  },
  'persistentDb.maxSetBatchSize': {
    ps: { models: [tableModel()], persistent_db: { type: 'rocks_db', max_set_batch_size: 500 } }, options: { models: [optionModel()], persistentDb: { maxSetBatchSize: 500 } },
    psName: 'persistent_db.max_set_batch_size', optionName: 'persistentDb.maxSetBatchSize',
  },
  'updateSource.type': {
    ps: { models: [tableModel()], update_source: { type: 'redis_stream' } }, options: { models: [optionModel()], updateSource: { type: 'redis_stream' } },
    psName: 'update_source.type', optionName: 'updateSource.type',
  },
  ...Object.fromEntries(([
    ['addresses', 'brokers', 'redis-b:6380'], ['streamPrefix', 'stream_prefix', 'emb_'], ['group', 'group', 'g2'],
    ['maxBatchSize', 'max_batch_size', 17], ['pollTimeoutMs', 'poll_timeout_ms', 9],
  ] as const).map(([option, key, value]) => [`updateSource.${option}`, {
    ps: { models: [tableModel()], update_source: { type: 'redis_stream', [key]: value } },
    options: { models: [optionModel()], updateSource: { type: 'redis_stream', [option]: value } },
    psName: `update_source.${key}`, optionName: `updateSource.${option}`,
  }])),
};

test('both readers list each listed field, under their own names, and stop when it is flipped to honoured', () => {
  for (const [path, coverage] of entries) {
    if (coverage.status !== 'listed') continue;
    assert.ok(PROBES[path], `${path} is listed: add a probe row for it to this test`);
  }
  for (const [path, probe] of Object.entries(PROBES)) {
    const listed = COVERAGE[path as keyof typeof COVERAGE].status === 'listed';
    const fromPs = resolveConfig(probe.ps, '/srv').notYetSupported;
    const fromOptions = resolveConfig(probe.options, '/srv').notYetSupported;
    assert.is(fromPs.includes(probe.psName), listed, `${path}: ps.json ${probe.psName} ${listed ? 'not ' : ''}in ${JSON.stringify(fromPs)}`);
    assert.is(fromOptions.includes(probe.optionName), listed, `${path}: option ${probe.optionName} ${listed ? 'not ' : ''}in ${JSON.stringify(fromOptions)}`);
  }
});

test('a config that leaves every listed key at its default lists nothing, from either reader', () => {
  assert.equal(resolveConfig({ models: [tableModel()], volatile_db: { type: 'hash_map' }, persistent_db: { type: 'rocks_db' } }, '/srv').notYetSupported, []);
  assert.equal(resolveConfig({ models: [optionModel()], volatileDb: {}, persistentDb: {} }, '/srv').notYetSupported, []);
});

/*
 * docs/configuration.md marks each key: the row of a listed key says "listed", the row of an honoured
 * one "honoured", in the section of its block.
 */
const doc = source('docs/configuration.md');
function docRow(psKey: string): string {
  const [block, key] = psKey.includes('.') ? [psKey.slice(0, psKey.lastIndexOf('.')), psKey.slice(psKey.lastIndexOf('.') + 1)] : ['', psKey];
  const heading = { '': '## Top level', 'models[]': '## `models[i]`', volatile_db: '## `volatile_db`', persistent_db: '## `persistent_db`', update_source: '## `update_source`' }[block];
  assert.ok(heading, `no docs section for ${psKey}`);
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, `docs/configuration.md has no section "${heading}"`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const row = section.split('\n').find((line) => line.startsWith('|') && line.split('|')[1].includes(`\`${key}\``));
  assert.ok(row, `docs/configuration.md, ${heading}: no row for \`${key}\``);
  return row;
}

test('docs/configuration.md marks every listed key as listed and every honoured one as honoured', () => {
  for (const [path, coverage] of entries) {
    if (coverage.status === 'listed') assert.match(docRow(coverage.psJson), /\blisted\b/, `${coverage.psJson} (${path})`);
  }
  for (const key of UNUSED_PS_JSON_KEYS) assert.match(docRow(key), /\blisted\b|not applicable/, key);
  const honouredKeys = ['models[].gpucache', 'models[].gpucacheper', 'models[].hit_rate_threshold', 'volatile_db.num_partitions', 'persistent_db.read_only'];
  for (const key of honouredKeys) assert.match(docRow(key), /\bhonoured\b/, key);
});

test.run();
