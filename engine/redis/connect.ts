import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { HpsError } from '../errors.js';

export interface RedisTlsConfig {
  /** CA certificate file, or a folder of them (`tls_ca_certificate`). */
  caCertificate: string;
  clientCertificate: string;
  clientKey: string;
  /** Server name sent for SNI and checked against the certificate (`tls_server_name_identification`). */
  serverName: string;
}

/** How to reach a Redis deployment (HPS's `address`, `user_name`, `password` and TLS keys). */
export interface RedisEndpoint {
  addresses: string[];
  userName: string | null;
  password: string | null;
  tls: RedisTlsConfig | null;
  /** Folder relative TLS file paths resolve against. */
  baseDir: string;
  /** The config keys the endpoint came from, for error messages (e.g. `volatile_db.address`). */
  source: string;
}

/** How long open waits for the cluster to answer before giving up. */
const OPEN_TIMEOUT_MS = 10_000;

/**
 * How often a cluster client refreshes its slot map (ioredis's default). Each refresh opens a connection
 * and rebuilds the map, a cost worth keeping rare: a failover is found sooner anyway, since a command
 * that fails on a lost node or gets MOVED makes the client refresh at once.
 */
const SLOTS_REFRESH_MS = 5000;

/**
 * Connects an ioredis Cluster client and waits until it knows the slot map. Auto-pipelining batches
 * the commands issued in one event-loop turn per node; the slot map is refreshed every 5 s, and at once
 * after a command failed on a lost node or was redirected, so that a promoted replica is found. A wrong password or an unreachable
 * cluster is an HpsError naming the addresses tried.
 */
export async function connectCluster(endpoint: RedisEndpoint, autoPipelining = true): Promise<Cluster> {
  const nodes = endpoint.addresses.map(hostPort);
  const options: ClusterOptions = {
    enableAutoPipelining: autoPipelining,
    // ioredis's own periodic refresh (slotsRefreshInterval) reschedules itself when a refresh that was in
    // flight during disconnect() completes, and then runs forever, keeping the process alive: refreshSlots
    // below does it with a timer of ours, stopped with the client.
    slotsRefreshInterval: 0,
    slotsRefreshTimeout: 2000,
    // Keep retrying the cluster after open: a lost node is a degraded tier, not a dead client.
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    lazyConnect: true,
    redisOptions: {
      ...auth(endpoint),
      connectTimeout: 2000,
      // A command to a node that went away fails fast; the tier's fault gate decides what happens next.
      maxRetriesPerRequest: 1,
      tls: endpoint.tls ? tlsOptions(endpoint.tls, endpoint.baseDir) : undefined,
    },
  };
  const cluster = new Cluster(nodes, options);
  refreshSlots(cluster);
  let lastError: Error | null = null;
  const onError = (err: Error) => {
    lastError = (err as Error & { lastNodeError?: Error }).lastNodeError ?? err;
  };
  cluster.on('error', onError);
  try {
    await withTimeout(cluster.connect(), OPEN_TIMEOUT_MS, () => lastError);
  } catch (err) {
    cluster.disconnect();
    throw openError(endpoint, 'Redis cluster', lastError ?? (err as Error));
  }
  return cluster;
}

/** Refreshes `cluster`'s slot map every SLOTS_REFRESH_MS while it is ready, until it is disconnected. */
function refreshSlots(cluster: Cluster): void {
  const timer = setInterval(() => {
    if (cluster.status === 'end') clearInterval(timer);
    else if (cluster.status === 'ready') cluster.refreshSlotsCache();
  }, SLOTS_REFRESH_MS);
  // Never what keeps a process alive: the connections do that while the client is open.
  timer.unref();
  cluster.once('end', () => clearInterval(timer));
}

/**
 * Connects to what `endpoint` names, a cluster or a single server (asking the first address which),
 * for the update streams.
 */
export async function connectAny(endpoint: RedisEndpoint, autoPipelining = true): Promise<Cluster | Redis> {
  const probe = await connectSingle(endpoint);
  let clustered: boolean;
  try {
    clustered = /cluster_enabled:1/.test(await probe.info('cluster'));
  } finally {
    probe.disconnect();
  }
  return clustered ? connectCluster(endpoint, autoPipelining) : connectSingle(endpoint);
}

/** A plain client of the first address. */
export async function connectSingle(endpoint: RedisEndpoint): Promise<Redis> {
  const { host, port } = hostPort(endpoint.addresses[0]);
  const client = new Redis({
    host, port, ...auth(endpoint), lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    tls: endpoint.tls ? tlsOptions(endpoint.tls, endpoint.baseDir) : undefined,
  });
  let lastError: Error | null = null;
  client.on('error', (err: Error) => { lastError = err; });
  try {
    await withTimeout(client.connect(), OPEN_TIMEOUT_MS, () => lastError);
  } catch (err) {
    client.disconnect();
    throw openError(endpoint, 'Redis server', lastError ?? (err as Error));
  }
  return client;
}

function auth(endpoint: RedisEndpoint): { username?: string; password?: string } {
  if (endpoint.password === null) return {};
  // ioredis sends AUTH <user> <password> (ACL) with a username, AUTH <password> without.
  return endpoint.userName && endpoint.userName !== 'default'
    ? { username: endpoint.userName, password: endpoint.password }
    : { password: endpoint.password };
}

function openError(endpoint: RedisEndpoint, what: string, cause: Error): HpsError {
  const reason = cause.message || String(cause);
  const auth = /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH/i.test(reason);
  const hint = auth
    ? `authentication failed for user ${JSON.stringify(endpoint.userName ?? 'default')}: check the user name and password`
    : 'no node answered: check that the addresses are right and the nodes are up';
  return new HpsError('IO', `cannot connect to the ${what} at ${endpoint.addresses.join(', ')} (${endpoint.source}): ${hint} (${reason})`, { cause });
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

function tlsOptions(tls: RedisTlsConfig, baseDir: string) {
  const read = (path: string, key: string) => {
    const full = resolve(baseDir, path);
    try {
      if (key === 'tls_ca_certificate' && statSync(full).isDirectory()) {
        return readdirSync(full).map((f) => readFileSync(join(full, f)));
      }
      return readFileSync(full);
    } catch (e) {
      throw new HpsError('BAD_CONFIG', `volatile_db.${key}: cannot read ${full}: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    ca: read(tls.caCertificate, 'tls_ca_certificate'),
    cert: read(tls.clientCertificate, 'tls_client_certificate'),
    key: read(tls.clientKey, 'tls_client_key'),
    servername: tls.serverName,
  };
}

async function withTimeout<T>(work: Promise<T>, ms: number, lastError: () => Error | null): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(lastError() ?? new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
