/**
 * The one error type the library throws for bad input and failed operations. `code` is stable and
 * machine-readable; the message says what was wrong, where (key position, file and byte offset,
 * config key) and what was expected.
 */
export const HPS_ERROR_CODES = [
  'BAD_KEY',
  'BAD_OUTPUT',
  'BAD_VECTOR',
  'BAD_CONFIG',
  'BAD_FILE',
  // An API argument other than keys, vectors, outputs and offsets (e.g. a pooled lookup's combiner).
  'BAD_ARGUMENT',
  // CSR offsets of a pooled lookup.
  'BAD_OFFSETS',
  'UNKNOWN_MODEL',
  'UNKNOWN_TABLE',
  'READ_ONLY',
  'CLOSED',
  'WORKER_DIED',
  'NO_GPU',
  'CAPACITY',
  // The GPU reported an error other than running out of memory or having no usable device.
  'DEVICE',
  'BUSY',
  'CORRUPT',
  'IO',
  // Raised by the network server (server/): a malformed request, a missing or wrong token, not ready yet.
  'BAD_REQUEST',
  'NOT_FOUND',
  'UNAUTHORIZED',
  'UNAVAILABLE',
  'TIMEOUT',
] as const;

/** Every code, listed at run time too (HPS_ERROR_CODES), so that tables keyed by code can be checked whole. */
export type HpsErrorCode = (typeof HPS_ERROR_CODES)[number];

export class HpsError extends Error {
  readonly code: HpsErrorCode;
  constructor(code: HpsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HpsError';
    this.code = code;
  }
}

/*
 * Errors are built here, so that each code keeps one meaning. Public entry points check their arguments
 * once and throw these; internal classes trust what they are given and `assert` their invariants.
 */

/** A value as an error message shows it: its type and size, never its contents. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as Float32Array).length}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return v.constructor && v.constructor !== Object ? `a ${v.constructor.name}` : 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Whether `text` (a file decoded as UTF-8) reads as text: no bytes that failed to decode and no control
 * characters other than tab, line feed and carriage return. Only such files are ever quoted in errors.
 */
export function looksLikeText(text: string): boolean {
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(text.length > 65536 ? text.slice(0, 65536) : text);
}

/**
 * At most `width` characters of `text` on each side of offset `at`, escaped as a JSON string (so a
 * control character or a quote cannot garble the message), with "..." where it was cut.
 */
export function textExcerpt(text: string, at: number, width = 12): string {
  const start = Math.max(0, at - width);
  const end = Math.min(text.length, at + width);
  return `${start > 0 ? '...' : ''}${JSON.stringify(text.slice(start, end))}${end < text.length ? '...' : ''}`;
}

/** An argument of an API call that is not keys, vectors, an output or offsets (e.g. a combiner name). */
export function badArgument(where: string, expected: string, got: unknown): HpsError {
  return new HpsError('BAD_ARGUMENT', `${where}: expected ${expected}, got ${describeValue(got)}`);
}

/** CSR row offsets of a pooled lookup that break the rules (start at 0, never decrease, end at the key count). */
export function badOffsets(message: string): HpsError {
  return new HpsError('BAD_OFFSETS', message);
}

/**
 * The GPU cache's constructor failed: out of memory is CAPACITY, a missing or unusable device NO_GPU,
 * anything else the device's own error (DEVICE).
 */
export function gpuSetupError(what: string, cause: unknown): HpsError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const code: HpsErrorCode = /out of memory|memory allocation|bad_alloc/i.test(reason) ? 'CAPACITY'
    : /no (cuda|gpu|device)|invalid device|no kernel image|driver/i.test(reason) ? 'NO_GPU' : 'DEVICE';
  return new HpsError(code, `${what}: ${reason}`, { cause });
}

/** An internal invariant: a failure is a bug in this library, not bad input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`hps-node internal error: ${message}`);
}
