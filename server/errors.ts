import { status as GrpcStatus } from '@grpc/grpc-js';
import { HpsError, type HpsErrorCode } from '../engine/errors.js';

/**
 * How an error reaches a client: the HTTP status the KServe v2 protocol gives it and the gRPC status
 * Triton sends for it. Every HpsError code has its pair (the Record type makes the table total, and
 * test/server-error-status.test.ts walks HPS_ERROR_CODES): bad input is 400 / INVALID_ARGUMENT,
 * unknown names 404 / NOT_FOUND, what a retry may cure 503 / UNAVAILABLE (or 409 / ABORTED for a table
 * being imported), and faults of the server itself 5xx, logged. Anything that is not an HpsError is a
 * server fault (500) and is logged, unless it carries its own HTTP status (fastify's 413).
 */
const STATUS: Record<HpsErrorCode, { http: number; grpc: GrpcStatus }> = {
  BAD_KEY: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_OUTPUT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_VECTOR: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_FILE: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_CONFIG: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_OFFSETS: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BAD_REQUEST: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  UNAUTHORIZED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  READ_ONLY: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  UNKNOWN_MODEL: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  UNKNOWN_TABLE: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  // Another import of the table is running (in this process or another): try again after it.
  BUSY: { http: 409, grpc: GrpcStatus.ABORTED },
  // A write that does not fit (a full host arena) or a batch beyond the kernels' memory.
  CAPACITY: { http: 507, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  CLOSED: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  // The worker is replaced: the same request succeeds when sent again.
  WORKER_DIED: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  TIMEOUT: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  NO_GPU: { http: 500, grpc: GrpcStatus.INTERNAL },
  DEVICE: { http: 500, grpc: GrpcStatus.INTERNAL },
  IO: { http: 500, grpc: GrpcStatus.INTERNAL },
  CORRUPT: { http: 500, grpc: GrpcStatus.DATA_LOSS },
};

/** The gRPC status of an error that is not an HpsError but carries an HTTP status (fastify's). */
const GRPC_OF_HTTP: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED,
};

/** The HTTP and gRPC status of each HpsError code (for tests and docs). */
export function statusOfCode(code: HpsErrorCode): { http: number; grpc: GrpcStatus } {
  return STATUS[code];
}

export function httpStatusOf(error: unknown): number {
  if (error instanceof HpsError) return STATUS[error.code]?.http ?? 500;
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function grpcStatusOf(error: unknown): GrpcStatus {
  if (error instanceof HpsError) return STATUS[error.code]?.grpc ?? GrpcStatus.INTERNAL;
  return GRPC_OF_HTTP[httpStatusOf(error)] ?? GrpcStatus.INTERNAL;
}

/**
 * Whether an error is a fault of the server, logged with its stack: a 5xx other than "not now" (503)
 * and "too late" (504), which are the service working as meant.
 */
export function isServerFault(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status >= 500 && status !== 503 && status !== 504;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A malformed request (400) naming what was wrong and what was expected. */
export function badRequest(message: string): HpsError {
  return new HpsError('BAD_REQUEST', message);
}

/** A missing resource (404): an unknown version or route, or an endpoint that is switched off. */
export function notFound(message: string): HpsError {
  return new HpsError('NOT_FOUND', message);
}
