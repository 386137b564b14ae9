import { status as GrpcStatus } from '@grpc/grpc-js';
import { HpsError, type HpsErrorCode } from '../engine/errors.js';

/**
 * How an error reaches a client: the HTTP status the KServe v2 protocol gives it (400 bad request, 404
 * unknown model, 401 token, 503 not ready) and the matching gRPC status. Anything that is not an
 * HpsError is a server fault (500) and is logged.
 */
const HTTP_STATUS: Partial<Record<HpsErrorCode, number>> = {
  BAD_KEY: 400,
  BAD_OUTPUT: 400,
  BAD_VECTOR: 400,
  BAD_FILE: 400,
  BAD_CONFIG: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  READ_ONLY: 403,
  UNKNOWN_MODEL: 404,
  UNKNOWN_TABLE: 404,
  NOT_FOUND: 404,
  CLOSED: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
};

const GRPC_OF_HTTP: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED,
};

export function httpStatusOf(error: unknown): number {
  if (error instanceof HpsError) return HTTP_STATUS[error.code] ?? 500;
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function grpcStatusOf(error: unknown): GrpcStatus {
  return GRPC_OF_HTTP[httpStatusOf(error)] ?? GrpcStatus.INTERNAL;
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
