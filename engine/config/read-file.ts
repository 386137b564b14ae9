import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HpsError, looksLikeText, textExcerpt } from '../errors.js';
import { jsonFaultOffset } from './json-fault.js';

/*
 * Reading JSON files of a configuration (the ps.json; a model's network_file). A missing or unreadable
 * file, or invalid JSON, is a BAD_CONFIG error naming the file (`what` says which kind of file); for
 * invalid JSON also the byte offset, line and column of the fault, and a short escaped excerpt around
 * it. A file that is not text at all is never quoted.
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
    // A binary file (a model file given by mistake) is named, never quoted.
    if (!looksLikeText(text)) {
      throw new HpsError('BAD_CONFIG', `${what} ${file} is not JSON text: it holds binary bytes (${text.length} characters); expected a JSON file`, { cause: err });
    }
    const reason = (err as Error).message;
    const at = /at position (\d+)/.exec(reason);
    // V8 names no position for an unexpected character (it quotes the text instead): find it here.
    const found = at ? Number(at[1]) : jsonFaultOffset(text);
    const pos = found < 0 ? text.length : found;
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    const byte = bom + Buffer.byteLength(before, 'utf8');
    const fault = at
      ? reason.replace(/ at position \d+.*$/, '').replace(/ in JSON$/, '')
      : pos >= text.length ? 'Unexpected end of JSON input' : `Unexpected character ${JSON.stringify(text[pos])}`;
    throw new HpsError(
      'BAD_CONFIG',
      `invalid JSON in ${what} ${file} at byte offset ${byte} (line ${line}, column ${column}): ${fault}${text.length > 0 ? ` near ${textExcerpt(text, pos)}` : ''}`,
      { cause: err },
    );
  }
}
