import { fieldValues } from './coverage.js';
import { matchesAll } from './checks.js';
import type { PsJson } from './ps-json-schema.js';

/*
 * ps.json keys that HPS read and that have no ResolvedConfig field: they change nothing here. Each is
 * listed in `notYetSupported` when the config gives it a value that asks for something other than what
 * the engine does anyway (`use_static_table: true` is listed, `false` is not). coverage.ts covers the
 * keys that do have a field. A key that gets implemented moves from here to a ResolvedConfig field.
 */

type When = (value: unknown, root: PsJson) => boolean;
const present: When = (v) => v !== undefined;
const isTrue: When = (v) => v === true;
const isFalse: When = (v) => v === false;
const nonEmpty: When = (v) => v !== undefined && v !== '';
const filtersSomething: When = (v) => Array.isArray(v) && !matchesAll(v as string[]);

const UNUSED: readonly [path: string, when: When][] = [
  // HPS fused tables of one dimension into one; served unfused here, with the same results.
  ['fuse_embedding_table', isTrue],
  ['models[].fuse_embedding_table', (v, root) => v === true && root.fuse_embedding_table === true],
  // The dense network, which the Triton backend served and this engine does not.
  ['models[].dense_file', nonEmpty],
  ['models[].network_file', nonEmpty],
  ['models[].maxnum_des_feature_per_sample', present],
  ['models[].label_dim', present],
  ['models[].slot_num', present],
  // HPS's GPU embedding-cache machinery: memory pools, thread pool, implementation choices.
  ['models[].num_of_worker_buffer_in_pool', present],
  ['models[].num_of_refresher_buffer_in_pool', present],
  ['models[].thread_pool_size', present],
  ['models[].use_static_table', isTrue],
  ['models[].embedding_cache_type', (v) => v !== undefined && v !== 'dynamic'],
  ['models[].use_context_stream', present],
  ['models[].use_hctr_cache_implementation', isFalse],
  // Caches are filled at open here, as init_ec: true asks.
  ['models[].init_ec', isFalse],
  ['models[].enable_pagelock', isTrue],
  ['models[].fp8_quant', isTrue],
  // The multi-process hash map is served by the in-process host arena.
  ['volatile_db.type', (v) => typeof v === 'string' && v.startsWith('multi_process')],
  ['volatile_db.algorithm', present],
  ['volatile_db.shared_memory_size', present],
  ['volatile_db.shared_memory_name', present],
  ['volatile_db.shared_memory_auto_remove', present],
  // Tiers are always filled at open here, and every update reaches them.
  ['volatile_db.initialize_after_startup', isFalse],
  ['volatile_db.update_filters', filtersSomething],
  ['persistent_db.num_threads', present],
  ['persistent_db.initialize_after_startup', isFalse],
  ['persistent_db.update_filters', filtersSomething],
  // Kafka (HPS's only update source) and its consumer settings.
  ['update_source.type', (v) => typeof v === 'string' && v.startsWith('kafka')],
  ['update_source.metadata_refresh_interval_ms', present],
  ['update_source.receive_buffer_size', present],
  ['update_source.failure_backoff_ms', present],
  ['update_source.max_commit_interval', present],
];

/** The unused keys `data` gives a value that would ask for something, as key paths (`models[0].dense_file`). */
export function unusedPsJsonKeys(data: PsJson): string[] {
  const out: string[] = [];
  for (const [path, when] of UNUSED) {
    for (const { value, indices } of fieldValues(data, path)) {
      let i = 0;
      if (when(value, data)) out.push(path.replace(/\[\]/g, () => `[${indices[i++]}]`));
    }
  }
  return out;
}

/** The ps.json keys listed above (for tests and docs checks). */
export const UNUSED_PS_JSON_KEYS: readonly string[] = UNUSED.map(([path]) => path);
