import { z } from 'zod';
import { HpsError } from '../errors.js';

/** One thing wrong with a config: where (a key path such as `models[1].gpucacheper`) and what. */
export interface Problem {
  path: string;
  message: string;
}

export type PathPart = string | number;

/** `['models', 1, 'gpucacheper']` -> `models[1].gpucacheper`. */
export function keyPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

/** A value as it appears in a message: JSON, shortened. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  const text = JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Turns zod issues into problems. Field schemas carry the expectation as their error message (see
 * fields.ts), so a line reads `path: expected <message>, got <value>`. Unknown keys get one line each,
 * with `hints[path]` when given, else the closest known key when one is near, else the known keys.
 */
export function fromZod(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, hints: Readonly<Record<string, string>> = {}): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathPart => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(unknownKeyProblem(schema, path, key, hints));
      continue;
    }
    out.push({ path: keyPath(path), message: `expected ${issue.message}, got ${show(issue.input)}` });
  }
  return out;
}

/**
 * An unknown key at `path` of `schema`: `hints[path]` when given, else the closest known key when one
 * is near, else the known keys.
 */
export function unknownKeyProblem(schema: z.ZodType, path: readonly PathPart[], key: string, hints: Readonly<Record<string, string>> = {}): Problem {
  const known = knownKeys(schema, path);
  const at = keyPath([...path, key]);
  const near = closest(key, known);
  // Own keys only: a key named "__proto__" or "constructor" must not find Object.prototype's members.
  const hint = Object.hasOwn(hints, at) ? hints[at] : undefined;
  return { path: at, message: `unknown key; ${hint ?? (near ? `did you mean "${near}"?` : `expected one of: ${known.join(', ')}`)}` };
}

/** Throws one BAD_CONFIG error listing every problem, one per line, under a header naming the source. */
export function throwProblems(source: string, problems: readonly Problem[]): never {
  const sorted = [...problems].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines = sorted.map((p) => `  ${p.path}: ${p.message}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  throw new HpsError('BAD_CONFIG', `invalid configuration in ${source} (${count}):\n${lines.join('\n')}`);
}

/** Keys of the object schema found at `path` (array indices step into elements). */
export function knownKeys(schema: z.ZodType, path: readonly PathPart[]): string[] {
  let s: z.ZodType = schema;
  for (const part of [...path, null]) {
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
      else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
      else break;
    }
    if (part === null) break;
    if (typeof part === 'number' && s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (typeof part === 'string' && s instanceof z.ZodObject) s = s.shape[part] as z.ZodType;
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance (keys are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
