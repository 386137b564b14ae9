import type { Cluster } from 'ioredis';
import type { ModelConfig, ResolvedConfig, TableConfig } from '../config/types.js';
import type { ImportSource } from '../import/source.js';
import type { LmdbStore } from '../lmdb/lmdb-store.js';
import { connectCluster, type RedisEndpoint } from './connect.js';
import { RedisTier } from './redis-tier.js';

/** A Redis command that has not answered after this long counts as a fault (its keys fall through). */
export const COMMAND_TIMEOUT_MS = 2000;
/** A failed partition is skipped this long before it is probed again. */
export const RETRY_AFTER_MS = 1000;

/**
 * A Redis endpoint at `addresses` with volatile_db's credentials and TLS settings (`user_name`,
 * `password`, `enable_tls` and the `tls_*` files): the Redis tier uses them, and so do the update
 * source and UpdatePublisher for `update_source.brokers`, which usually name the same cluster.
 */
export function redisEndpoint(config: ResolvedConfig, addresses: string[], source: string): RedisEndpoint {
  const v = config.volatileDb;
  return {
    addresses, userName: v.userName, password: v.password, baseDir: config.baseDir, source,
    tls: v.enableTls ? { caCertificate: v.tlsCaCertificate, clientCertificate: v.tlsClientCertificate, clientKey: v.tlsClientKey, serverName: v.tlsServerName } : null,
  };
}

/**
 * The cluster clients of one ParameterServer: `num_node_connections` of them (at most one per
 * partition, as HPS required num_partitions >= num_node_connections), shared by every table.
 */
export async function openRedisClients(config: ResolvedConfig): Promise<Cluster[]> {
  const v = config.volatileDb;
  const count = Math.max(1, Math.min(v.numNodeConnections, v.numPartitions));
  const clients: Cluster[] = [];
  try {
    for (let i = 0; i < count; i++) {
      clients.push(await connectCluster(redisEndpoint(config, v.addresses, 'volatile_db.address')));
    }
  } catch (err) {
    for (const c of clients) c.disconnect();
    throw err;
  }
  return clients;
}

export function redisTierFor(clients: Cluster[], config: ResolvedConfig, model: ModelConfig, table: TableConfig, log: (line: string) => void): RedisTier {
  const v = config.volatileDb;
  return new RedisTier({
    clients,
    model: model.name,
    table: table.name,
    dim: table.dim,
    keyType: table.keyType,
    numPartitions: v.numPartitions,
    maxGetBatchSize: v.maxGetBatchSize,
    maxSetBatchSize: v.maxSetBatchSize,
    overflowMargin: v.overflowMargin,
    overflowPolicy: v.overflowPolicy,
    overflowResolutionTarget: v.overflowResolutionTarget,
    refreshTimeAfterFetch: v.refreshTimeAfterFetch,
    timeoutMs: COMMAND_TIMEOUT_MS,
    retryAfterMs: RETRY_AFTER_MS,
    log,
  });
}

/**
 * Loads `rate` of the table's rows (from L3, or its sparse file when there is no L3) into Redis, as
 * HPS filled its volatile database at start, unless the table already has rows there: the first
 * process of a fleet fills the cluster and the others find it filled (they would otherwise overwrite
 * rows updated since with their own copies). Returns the rows written.
 */
export async function warmRedis(tier: RedisTier, table: TableConfig, store: LmdbStore | null, sparse: ImportSource | null, rate: number): Promise<number> {
  const total = store?.table(table.name)?.count ?? sparse?.totalRows ?? 0;
  const target = Math.floor(total * rate);
  if (target === 0 || (await tier.size()) > 0) return 0;
  let written = 0;
  const chunks = store ? store.scan(table.name) : sparse!.chunks(65536, table.keyType);
  for await (const { keys, vectors } of chunks) {
    const n = Math.min(keys.length, target - written);
    await tier.insert(keys.subarray(0, n), vectors.subarray(0, n * table.dim));
    written += n;
    if (written >= target) break;
  }
  return written;
}
