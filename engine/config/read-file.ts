import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HpsError } from '../errors.js';

/*
 * Reading JSON files of a configuration (the ps.json; a model's network_file). A missing or unreadable
 * file, or invalid JSON, is a BAD_CONFIG error naming the file (`what` says which kind of file); for
 * invalid JSON also the byte offset, line and column of the fault.
 */

export async function readJsonFile(file: string, what = 'config file'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw readError(err, file, what);
  }
  return parseJson(text, file, what);
}

export function readJsonFileSync(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw readError(err, file, what);
  }
  return parseJson(text, file, what);
}

function readError(err: unknown, file: string, what: string): HpsError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, expected a JSON file' : (err as Error).message;
  return new HpsError('BAD_CONFIG', `cannot read ${what} ${file}: ${why}`, { cause: err });
}

function parseJson(text: string, file: string, what: string): unknown {
  // A byte order mark is allowed (editors on Windows write one); offsets below count its 3 bytes.
  const bom = text.charCodeAt(0) === 0xfeff ? 3 : 0;
  if (bom) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message;
    const at = /at position (\d+)/.exec(reason);
    const pos = at ? Number(at[1]) : text.length;
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    const byte = bom + Buffer.byteLength(before, 'utf8');
    const fault = reason.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
    throw new HpsError(
      'BAD_CONFIG',
      `invalid JSON in ${what} ${file} at byte offset ${byte} (line ${line}, column ${column}): ${fault}`,
      { cause: err },
    );
  }
}
