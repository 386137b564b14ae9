/**
 * The one error type the library throws for bad input and failed operations. `code` is stable and
 * machine-readable; the message says what was wrong, where (key position, file and byte offset,
 * config key) and what was expected.
 */
export type HpsErrorCode =
  | 'BAD_KEY'
  | 'BAD_OUTPUT'
  | 'BAD_VECTOR'
  | 'BAD_CONFIG'
  | 'BAD_FILE'
  | 'UNKNOWN_MODEL'
  | 'UNKNOWN_TABLE'
  | 'READ_ONLY'
  | 'CLOSED'
  | 'WORKER_DIED'
  | 'NO_GPU'
  | 'CAPACITY'
  | 'BUSY'
  | 'CORRUPT'
  | 'IO'
  // Raised by the network server (server/): a malformed request, a missing or wrong token, not ready yet.
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'UNAVAILABLE'
  | 'TIMEOUT';

export class HpsError extends Error {
  readonly code: HpsErrorCode;
  constructor(code: HpsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HpsError';
    this.code = code;
  }
}
