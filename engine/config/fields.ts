import { z } from 'zod';

/*
 * Field schemas whose error message is the expectation ("a positive integer"), so that problems.ts can
 * write `path: expected <expectation>, got <value>` for any failure of the type or of a check.
 */

const e = (expected: string) => ({ error: expected });

export const bool = () => z.boolean(e('true or false'));
export const str = () => z.string(e('a string'));
export const nonEmptyStr = () => z.string(e('a non-empty string')).min(1, e('a non-empty string'));

export const posInt = () => {
  const x = 'a positive integer';
  return z.number(e(x)).int(e(x)).min(1, e(x));
};
export const intIn = (lo: number, hi: number) => {
  const x = `an integer in [${lo}, ${hi}]`;
  return z.number(e(x)).int(e(x)).min(lo, e(x)).max(hi, e(x));
};
export const nonNegInt = () => {
  const x = 'an integer >= 0';
  return z.number(e(x)).int(e(x)).min(0, e(x));
};
/** A positive integer where HPS took a size_t up to 2^64-1 (e.g. overflow_margin): any size above 0. */
export const posSize = () => {
  const x = 'an integer >= 1';
  // zod's int() stops at 2^53; HPS configs write 2^64-1 for "no limit".
  return z.number(e(x)).min(1, e(x)).refine(Number.isInteger, e(x));
};
export const num = () => z.number(e('a number'));
export const nonNegNum = () => {
  const x = 'a number >= 0';
  return z.number(e(x)).min(0, e(x));
};
export const fraction = () => {
  const x = 'a number in [0, 1]';
  return z.number(e(x)).min(0, e(x)).max(1, e(x));
};
/** (0, 1]: overflow_resolution_target. */
export const openFraction = () => {
  const x = 'a number in (0, 1]';
  return z.number(e(x)).gt(0, e(x)).max(1, e(x));
};

/** One of `names` (the accepted spellings); the message lists the canonical ones. */
export const oneOf = <const T extends readonly [string, ...string[]]>(names: T, canonical: readonly string[] = names) =>
  z.enum(names, e(`one of ${canonical.map((n) => JSON.stringify(n)).join(', ')}`));

export const arrayOf = <T extends z.ZodType>(element: T, what: string) => z.array(element, e(`an array of ${what}`));

/**
 * A number or boolean field of a ps.json that may also be written as a string, as the HugeCTR Triton
 * backend accepted (`"hit_rate_threshold": "0.9"`, `"gpucache": "true"`): a string holding a decimal
 * number, `true` or `false` is read as that value before `schema` checks it; anything else is left for
 * `schema` to reject with its message.
 */
export const orText = <T extends z.ZodType>(schema: T) => z.preprocess(fromText, schema);

function fromText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  return v;
}
