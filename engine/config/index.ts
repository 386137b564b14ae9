import { dirname, resolve } from 'node:path';
import { HpsError } from '../errors.js';
import { isObject } from './checks.js';
import { resolveOptions } from './from-options.js';
import type { HpsOptions } from './options.js';
import { show } from './problems.js';
import { looksLikePsJson, resolvePsJson } from './ps-json.js';
import { readJsonFile } from './read-file.js';
import type { ResolvedConfig } from './types.js';

export type * from './types.js';
export type * from './options.js';

export interface LoadOptions {
  /**
   * Make unknown ps.json keys errors. Default false: they are ignored, as HPS's parser ignored them,
   * each with a line in `ResolvedConfig.warnings` naming the key and the nearest known one.
   */
  strict?: boolean;
}

/**
 * Loads a configuration and resolves it with its defaults.
 * - a string: the path of an HPS `ps.json` (relative paths inside resolve against its folder); a JSON
 *   file holding typed options is read as such;
 * - an object with HPS's snake_case keys (e.g. `models[0].model`): a parsed ps.json;
 * - any other object: typed {@link HpsOptions}.
 * Every problem (wrong type or value, inconsistent fields, an unknown key in strict mode or in typed
 * options) is reported in one HpsError BAD_CONFIG, one per line, naming the file, the key path, the
 * value given and what was expected.
 */
export async function loadConfig(input: string | HpsOptions | object, options: LoadOptions = {}): Promise<ResolvedConfig> {
  if (typeof input !== 'string') return resolveConfig(input, process.cwd(), options);
  const file = resolve(input);
  const raw = await readJsonFile(file);
  return resolveParsed(raw, dirname(file), file, `config file ${file}`, options.strict ?? false);
}

/**
 * The synchronous part of {@link loadConfig}, for already-parsed input: a ps.json object or typed
 * options. Relative paths resolve against `baseDir` (typed options may override it with `baseDir`).
 */
export function resolveConfig(input: HpsOptions | object, baseDir: string = process.cwd(), options: LoadOptions = {}): ResolvedConfig {
  return resolveParsed(input, resolve(baseDir), null, null, options.strict ?? false);
}

function resolveParsed(raw: unknown, baseDir: string, sourceFile: string | null, source: string | null, strict: boolean): ResolvedConfig {
  if (!isObject(raw)) {
    const where = source ?? 'the configuration';
    throw new HpsError('BAD_CONFIG', `${where}: expected a ps.json object or HpsOptions object, got ${show(raw)}`);
  }
  if (looksLikePsJson(raw)) return resolvePsJson(raw, baseDir, sourceFile, source ?? 'ps.json object', strict);
  return resolveOptions(raw, baseDir, sourceFile, source ?? 'HpsOptions object');
}
