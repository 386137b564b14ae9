import { z } from 'zod';
import {
  arrayOf, bool, intIn, fraction, nonEmptyStr, nonNegInt, nonNegNum, num, oneOf, openFraction, posInt, posSize, str,
} from './fields.js';
import { MAX_DIM, MAX_PARTITIONS } from './limits.js';

/** The typed options (options.ts), strict: a misspelt option is an error naming its path. */

const OBJECT = { error: 'an object' };
const addresses = () => {
  const x = 'a string or a non-empty array of strings';
  return z.union([str(), arrayOf(str(), 'strings').min(1, { error: x })], { error: x });
};

const tableSchema = z.strictObject({
  name: nonEmptyStr(),
  dim: intIn(1, MAX_DIM),
  defaultValue: num().optional(),
  maxQueryPerSample: posInt().optional(),
  sparseFile: nonEmptyStr().nullable().optional(),
}, OBJECT);

const modelSchema = z.strictObject({
  name: nonEmptyStr(),
  tables: arrayOf(tableSchema, 'table objects').min(1, { error: 'at least one table' }),
  l1Enabled: bool().optional(),
  l1CacheFraction: fraction().optional(),
  l1Policy: oneOf(['lru', 'lfu']).optional(),
  l1Backend: oneOf(['auto', 'cuda', 'wasm']).optional(),
  hitRateThreshold: nonNegNum().optional(),
  approximateOnHighHitRate: bool().optional(),
  deployedDevices: arrayOf(nonNegInt(), 'GPU ids (integers >= 0)').optional(),
  deviceMode: oneOf(['replicated', 'sharded']).optional(),
  maxBatchSize: posInt().optional(),
  cacheRefreshFraction: fraction().optional(),
  refreshDelaySec: nonNegNum().optional(),
  refreshIntervalSec: nonNegNum().optional(),
}, OBJECT);

const volatileDbSchema = z.strictObject({
  type: oneOf(['hash_map', 'parallel_hash_map', 'redis_cluster', 'disabled']).optional(),
  numPartitions: intIn(1, MAX_PARTITIONS).optional(),
  allocationRate: posInt().optional(),
  overflowMargin: posSize().optional(),
  overflowPolicy: oneOf(['evict_random', 'evict_least_used', 'evict_oldest']).optional(),
  overflowResolutionTarget: openFraction().optional(),
  initialCacheRate: fraction().optional(),
  cacheMissedEmbeddings: bool().optional(),
  maxBatchSize: posInt().optional(),
  addresses: addresses().optional(),
  userName: str().nullable().optional(),
  password: str().nullable().optional(),
  maxGetBatchSize: posInt().optional(),
  maxSetBatchSize: posInt().optional(),
  numNodeConnections: posInt().optional(),
  enableTls: bool().optional(),
  tlsCaCertificate: nonEmptyStr().optional(),
  tlsClientCertificate: nonEmptyStr().optional(),
  tlsClientKey: nonEmptyStr().optional(),
  tlsServerName: nonEmptyStr().optional(),
  refreshTimeAfterFetch: bool().optional(),
  nearCache: bool().optional(),
}, OBJECT);

const persistentDbSchema = z.strictObject({
  type: oneOf(['lmdb', 'disabled']).optional(),
  path: nonEmptyStr().optional(),
  readOnly: bool().optional(),
  maxGetBatchSize: posInt().optional(),
  maxSetBatchSize: posInt().optional(),
}, OBJECT);

const updateSourceSchema = z.strictObject({
  type: oneOf(['redis_stream']),
  addresses: addresses().optional(),
  streamPrefix: str().optional(),
  group: nonEmptyStr().optional(),
  maxBatchSize: posInt().optional(),
  pollTimeoutMs: posInt().optional(),
}, OBJECT);

export const optionsSchema = z.strictObject({
  baseDir: nonEmptyStr().optional(),
  keyType: oneOf(['int64', 'uint32']).optional(),
  models: arrayOf(modelSchema, 'model objects').min(1, { error: 'at least one model' }),
  volatileDb: volatileDbSchema.optional(),
  persistentDb: persistentDbSchema.optional(),
  updateSource: updateSourceSchema.nullable().optional(),
  workerThreads: nonNegInt().optional(),
}, OBJECT);
