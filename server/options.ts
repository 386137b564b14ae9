import { HpsError } from '../engine/errors.js';

/** Options of `createServer`; the ports and their defaults are Triton's. */
export interface ServeOptions {
  /** Address to listen on. Default 127.0.0.1 (loopback only). */
  host?: string;
  /** KServe v2 HTTP/REST port; 0 picks a free one. Default 8000. */
  httpPort?: number;
  /** gRPC port (`inference.GRPCInferenceService`); 0 picks a free one, null turns gRPC off. Default 8001. */
  grpcPort?: number | null;
  /** Prometheus metrics port (`/metrics`); 0 picks a free one, null turns it off. Default 8002. */
  metricsPort?: number | null;
  /**
   * Bearer token that write and model-control endpoints require. Null (the default) switches those
   * endpoints off: they answer 404. Reads never need it.
   */
  token?: string | null;
  /** Largest request body in bytes (HTTP) or message (gRPC); larger ones get 413. Default 64 MiB. */
  bodyLimit?: number;
  /**
   * Milliseconds a request may take: to arrive (HTTP), and to be served (an inference still running
   * then answers 504 and its result is dropped). Default 30,000.
   */
  requestTimeoutMs?: number;
  /** Where the server's lines (one per listening endpoint, shutdown) go. Default: stderr. */
  log?: (line: string) => void;
}

export interface ResolvedServeOptions {
  host: string;
  httpPort: number;
  grpcPort: number | null;
  metricsPort: number | null;
  token: string | null;
  bodyLimit: number;
  requestTimeoutMs: number;
  log: (line: string) => void;
}

export const DEFAULT_PORTS = { http: 8000, grpc: 8001, metrics: 8002 } as const;

/** Applies the defaults and checks every option once, at the public boundary. */
export function resolveServeOptions(o: ServeOptions = {}): ResolvedServeOptions {
  const port = (name: string, v: number | null | undefined, fallback: number, nullable: boolean): number | null => {
    if (v === undefined) return fallback;
    if (v === null && nullable) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
      throw new HpsError('BAD_CONFIG', `serve: ${name}: expected a port number 0-65535 (0 picks a free port)${nullable ? ' or null (off)' : ''}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const positive = (name: string, v: number | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new HpsError('BAD_CONFIG', `serve: ${name}: expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  if (o.token !== undefined && o.token !== null && (typeof o.token !== 'string' || o.token.length === 0)) {
    throw new HpsError('BAD_CONFIG', 'serve: token: expected a non-empty string or null (writes off)');
  }
  return {
    host: o.host ?? '127.0.0.1',
    httpPort: port('httpPort', o.httpPort, DEFAULT_PORTS.http, false)!,
    grpcPort: port('grpcPort', o.grpcPort, DEFAULT_PORTS.grpc, true),
    metricsPort: port('metricsPort', o.metricsPort, DEFAULT_PORTS.metrics, true),
    token: o.token ?? null,
    bodyLimit: positive('bodyLimit', o.bodyLimit, 64 * 2 ** 20),
    requestTimeoutMs: positive('requestTimeoutMs', o.requestTimeoutMs, 30_000),
    log: o.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}
