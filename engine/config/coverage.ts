import * as D from './defaults.js';
import type { ResolvedConfig } from './types.js';

/*
 * The one list of what the engine does with each field of ResolvedConfig. Every field is one of:
 *
 * - honoured(...modules): the engine reads it, in the modules named (test/config-coverage.test.ts
 *   checks that each module still mentions the field);
 * - listed(psJsonKey, default): accepted, but the engine does not read it yet; when a config gives it a
 *   value other than the default, its key path goes into `notYetSupported`, which ParameterServer.open
 *   reports once. Both readers (ps.json and typed options) build that list here, from this table;
 * - describes(): a field about the configuration itself (where it came from, what was reported).
 *
 * To flip a key once the engine implements it: replace its `listed(...)`
 * with `honoured('engine/the-module-that-reads-it.ts')`, update its row in docs/configuration.md, and
 * nothing else; the readers and the coverage test follow this table. A new ResolvedConfig field does
 * not compile until it has an entry here.
 *
 * ps.json keys that have no ResolvedConfig field at all (HPS's memory pools, Kafka settings, ...) are
 * listed by ps-json-unused.ts instead.
 */

export type Coverage =
  | { readonly status: 'honoured'; readonly readBy: readonly string[] }
  | { readonly status: 'listed'; readonly readBy: readonly string[]; readonly psJson: string; readonly when: (value: unknown) => boolean }
  | { readonly status: 'describes' };

const honoured = (...readBy: string[]): Coverage => ({ status: 'honoured', readBy });
/** Listed when the value differs from `fallback` (the value a config that leaves the key out gets). */
const listed = (psJson: string, fallback: unknown): Coverage =>
  ({ status: 'listed', readBy: [], psJson, when: (v) => JSON.stringify(v) !== JSON.stringify(fallback) });
const describes = (): Coverage => ({ status: 'describes' });

const PS = 'engine/parameter-server.ts';
const BUILD = 'engine/build-table.ts';
const REDIS = 'engine/redis/open.ts';
const UPDATES = 'engine/updates/consumer.ts';

export const COVERAGE: { readonly [P in FieldPath<ResolvedConfig>]: Coverage } = {
  baseDir: describes(),
  sourceFile: describes(),
  // Copied into every table's keyType, which the engine reads.
  keyType: describes(),
  'models[].name': honoured(PS, BUILD),
  'models[].tables[].name': honoured(PS, BUILD),
  'models[].tables[].dim': honoured(PS, BUILD),
  'models[].tables[].keyType': honoured(PS),
  'models[].tables[].defaultValue': honoured(BUILD),
  // The key limit of one server request (with models[].maxBatchSize).
  'models[].tables[].maxQueryPerSample': honoured('server/hps-model.ts'),
  'models[].tables[].sparseFile': honoured(PS),
  'models[].l1Enabled': honoured(BUILD),
  'models[].l1CacheFraction': honoured(BUILD),
  'models[].l1Policy': honoured(BUILD),
  'models[].l1Backend': honoured(BUILD),
  'models[].hitRateThreshold': honoured(BUILD),
  'models[].approximateOnHighHitRate': honoured(BUILD),
  'models[].deployedDevices': honoured(BUILD),
  'models[].deviceMode': honoured(BUILD),
  'models[].maxBatchSize': honoured('server/hps-model.ts'),
  'models[].cacheRefreshFraction': honoured(PS),
  'models[].refreshDelaySec': honoured(PS),
  'models[].refreshIntervalSec': honoured(PS),
  'volatileDb.type': honoured(BUILD, PS),
  'volatileDb.numPartitions': honoured(BUILD),
  'volatileDb.allocationRate': honoured(BUILD),
  'volatileDb.overflowMargin': honoured(BUILD),
  'volatileDb.overflowPolicy': honoured(BUILD),
  'volatileDb.overflowResolutionTarget': honoured(BUILD),
  'volatileDb.initialCacheRate': honoured(BUILD, PS),
  'volatileDb.cacheMissedEmbeddings': honoured(BUILD),
  // The host arena takes any batch whole; Redis reads and writes are sized by the next two (which default to it).
  'volatileDb.maxBatchSize': honoured('engine/config/ps-json.ts', 'engine/config/from-options.ts'),
  'volatileDb.maxGetBatchSize': honoured(REDIS),
  'volatileDb.maxSetBatchSize': honoured(REDIS),
  'volatileDb.addresses': honoured(REDIS),
  'volatileDb.userName': honoured(REDIS),
  'volatileDb.password': honoured(REDIS),
  'volatileDb.numNodeConnections': honoured(REDIS),
  'volatileDb.enableTls': honoured(REDIS),
  'volatileDb.tlsCaCertificate': honoured(REDIS),
  'volatileDb.tlsClientCertificate': honoured(REDIS),
  'volatileDb.tlsClientKey': honoured(REDIS),
  'volatileDb.tlsServerName': honoured(REDIS),
  'volatileDb.refreshTimeAfterFetch': honoured(REDIS),
  'volatileDb.nearCache': honoured(BUILD),
  'persistentDb.type': honoured(PS),
  'persistentDb.path': honoured(PS, BUILD),
  'persistentDb.readOnly': honoured(PS),
  'persistentDb.maxGetBatchSize': listed('persistent_db.max_get_batch_size', D.PERSISTENT_MAX_BATCH_SIZE),
  'persistentDb.maxSetBatchSize': listed('persistent_db.max_set_batch_size', D.PERSISTENT_MAX_BATCH_SIZE),
  // Online updates through Redis Streams (Kafka, HPS's source, is listed by ps-json-unused.ts).
  'updateSource.type': honoured(PS),
  'updateSource.addresses': honoured('engine/updates/attach.ts', 'engine/updates/publisher.ts'),
  'updateSource.streamPrefix': honoured('engine/updates/attach.ts', 'engine/updates/publisher.ts'),
  // Every serving process must read every message, which a consumer group would split between them.
  'updateSource.group': listed('update_source.group', D.STREAM_GROUP),
  'updateSource.maxBatchSize': honoured(UPDATES, 'engine/updates/publisher.ts'),
  'updateSource.pollTimeoutMs': honoured(UPDATES),
  workerThreads: honoured(PS),
  notYetSupported: describes(),
  warnings: describes(),
};

/**
 * The listed fields a resolved config gives a value that asks for something the engine does not do,
 * named as the input named them: ps.json keys (`models[0].max_batch_size`) or typed-option paths
 * (`models[0].maxBatchSize`), each once.
 */
export function listedFields(config: ResolvedConfig, naming: 'psJson' | 'options'): string[] {
  const out = new Set<string>();
  for (const [path, coverage] of Object.entries(COVERAGE) as [string, Coverage][]) {
    if (coverage.status !== 'listed') continue;
    for (const { value, indices } of fieldValues(config, path)) {
      if (coverage.when(value)) out.add(fillIndices(naming === 'psJson' ? coverage.psJson : path, indices));
    }
  }
  return [...out];
}

/** Every instance of `path` (`[]` steps into each array element) in `config`, skipping absent (null) blocks. */
export function fieldValues(config: object, path: string): { value: unknown; indices: number[] }[] {
  let found: { value: unknown; indices: number[] }[] = [{ value: config, indices: [] }];
  for (const part of path.split('.')) {
    const each = part.endsWith('[]');
    const key = each ? part.slice(0, -2) : part;
    found = found.flatMap(({ value, indices }) => {
      if (value === null || typeof value !== 'object') return [];
      const child = (value as Record<string, unknown>)[key];
      if (!each) return [{ value: child, indices }];
      return (child as unknown[]).map((v, i) => ({ value: v, indices: [...indices, i] }));
    });
  }
  return found;
}

/** `models[].tables[].x` with [1, 2] -> `models[1].tables[2].x`; placeholders without an index are dropped. */
function fillIndices(template: string, indices: readonly number[]): string {
  let i = 0;
  return template.replace(/\[\]/g, () => (i < indices.length ? `[${indices[i++]}]` : ''));
}

/*
 * The dotted paths of every leaf field of T: `[]` marks stepping into an array of objects; arrays of
 * primitives and primitives are leaves; a nullable object block is walked as the object.
 */
type Leaf = string | number | boolean | null | undefined | readonly (string | number | boolean)[];
export type FieldPath<T> = {
  [K in keyof T & string]: NonNullable<T[K]> extends Leaf
    ? K
    : NonNullable<T[K]> extends readonly (infer E)[]
      ? `${K}[].${FieldPath<E>}`
      : `${K}.${FieldPath<NonNullable<T[K]>>}`;
}[keyof T & string];
