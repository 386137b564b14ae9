import { z } from 'zod';
import { isObject } from './checks.js';
import { knownKeys, unknownKeyProblem, type PathPart, type Problem } from './problems.js';

/**
 * A copy of `raw` without the keys `schema` does not know, and one problem per such key (naming the
 * nearest known key, or `hints[path]`). HPS's parser ignored keys it did not read, and real ps.json
 * files carry some (`mixed_precision` from training, `db_type` from HugeCTR 3.2): the caller warns
 * about them, or in strict mode reports them as errors.
 */
export function withoutUnknownKeys(
  raw: unknown, schema: z.ZodType, hints: Readonly<Record<string, string>>,
): { value: unknown; unknown: Problem[] } {
  const unknown: Problem[] = [];
  const walk = (value: unknown, path: PathPart[]): unknown => {
    if (Array.isArray(value)) {
      return knownKeys(schema, [...path, 0]).length > 0 ? value.map((v, i) => walk(v, [...path, i])) : value;
    }
    if (!isObject(value)) return value;
    const known = knownKeys(schema, path);
    if (known.length === 0) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (known.includes(key)) out[key] = walk(v, [...path, key]);
      else unknown.push(unknownKeyProblem(schema, path, key, hints));
    }
    return out;
  };
  return { value: walk(raw, []), unknown };
}
