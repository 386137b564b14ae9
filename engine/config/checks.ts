import type { Problem } from './problems.js';

/*
 * Checks that zod's per-field schemas cannot express, shared by the ps.json reader and the typed
 * options. They run on the raw input, guarding every type, so that they report alongside zod's
 * problems instead of after them: one error lists everything wrong with a config.
 */

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A model name becomes a folder (`<persistent path>/<model>`). */
export function checkModelName(name: unknown, path: string, problems: Problem[]): void {
  if (typeof name !== 'string' || name === '') return;
  if (/[/\\\0]/.test(name) || name === '.' || name === '..') {
    problems.push({ path, message: `expected a name usable as a folder name (no "/", "\\", NUL; not "." or ".."), got ${JSON.stringify(name)}` });
  }
}

/** Reports every repeat of a name in `names` (strings only), naming the first occurrence. */
export function checkUnique(names: readonly { value: unknown; path: string }[], what: string, problems: Problem[]): void {
  const first = new Map<unknown, string>();
  for (const { value, path } of names) {
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const seen = first.get(value);
    if (seen === undefined) first.set(value, path);
    else problems.push({ path, message: `duplicate ${what} ${JSON.stringify(value)} (also at ${seen})` });
  }
}

/** A per-table array must hold one entry per table. */
export function checkPerTable(value: unknown, tables: number, path: string, basis: string, problems: Problem[]): void {
  if (!Array.isArray(value) || value.length === tables) return;
  problems.push({ path, message: `has ${value.length} ${value.length === 1 ? 'entry' : 'entries'}, expected ${tables} (one per table, as ${basis})` });
}

/** HugeCTR read sparse files from HDFS, S3 and GCS too; here they must be local folders. */
export function checkLocalPath(value: unknown, path: string, problems: Problem[]): void {
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    problems.push({ path, message: `remote file systems are not supported: expected a local folder path, got ${JSON.stringify(value)}` });
  }
}

export function checkRegexes(value: unknown, path: string, problems: Problem[]): void {
  if (!Array.isArray(value)) return;
  value.forEach((f, i) => {
    if (typeof f !== 'string') return;
    try {
      new RegExp(f);
    } catch (err) {
      problems.push({ path: `${path}[${i}]`, message: `expected a regular expression, got ${JSON.stringify(f)} (${(err as Error).message})` });
    }
  });
}

/** Update filters that let every update through (HPS's default matched every `hps_` topic, i.e. all). */
const MATCH_ALL = new Set(['.*', '.+', '^.*$', '^.+$', '^hps_.+$', '^hps_.*$']);
export const matchesAll = (filters: readonly string[]): boolean => filters.some((f) => MATCH_ALL.has(f));
