// The public API of the package.
export { ParameterServer, type OpenOptions, type ServerInfo, type TableInfo } from './parameter-server.js';
export { HpsError, type HpsErrorCode } from './errors.js';
export { normalizeKeys, type KeyInput, type KeyType } from './keys.js';
export { loadConfig, resolveConfig } from './config/index.js';
export type { HpsOptions, ModelOptions, TableOptions } from './config/options.js';
export type { ResolvedConfig, ModelConfig, TableConfig } from './config/types.js';
export { LmdbStore, type LmdbStoreOptions } from './lmdb/lmdb-store.js';
export type { TableMeta } from './lmdb/table-meta.js';
export {
  importTable,
  exportHugeCtrFolder,
  openHugeCtrFolder,
  openNpyPair,
  openJsonl,
  openImportSource,
  type ImportSpec,
  type ImportSource,
  type ImportReport,
  type ExportReport,
} from './import/index.js';
export type { LookupSpec, PooledLookupOptions, TableStats } from './parameter-server.js';
export type { Combiner } from './pipeline/kernels-wasm.js';
export type { EmbeddingCache, CacheStats, L1Spec } from './cache/types.js';
export { WasmEmbeddingCache } from './cache/wasm-cache.js';
export { HostArena, type HostArenaOptions } from './host/host-arena.js';
export { createServer, HpsServer, type ServerAddresses } from '../server/server.js';
export type { ServeOptions } from '../server/options.js';
export { UpdatePublisher } from './updates/publisher.js';
export type { UpdateStats, AppliedListener } from './updates/consumer.js';
export type { RedisTierStats } from './redis/redis-tier.js';
export { encodeMessage, decodeMessage, streamKey } from './updates/message.js';
export { tableTag, partitionHash } from './redis/layout.js';
