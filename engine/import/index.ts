import { badArgument } from '../errors.js';
import { openHugeCtrFolder, type HugeCtrKeyBytes } from './hugectr.js';
import { openJsonl } from './jsonl.js';
import { openNpyPair } from './npy.js';
import type { ImportSource } from './source.js';

export { importTable, type ImportOptions, type ImportReport } from './import-table.js';
export { exportHugeCtrFolder, openHugeCtrFolder, type ExportReport, type HugeCtrKeyBytes } from './hugectr.js';
export { openNpyPair, parseNpyHeader } from './npy.js';
export { openJsonl } from './jsonl.js';
export type { ImportSource, RowChunk } from './source.js';

/** Where an import reads from. */
export type ImportSpec =
  /** `keyBytes`: bytes per key in `folder/key`, 8 (int64, what HPS reads; the default) or 4 (older HugeCTR versions). */
  | { format: 'hugectr'; folder: string; keyBytes?: HugeCtrKeyBytes }
  | { format: 'npy'; keys: string; vectors: string }
  | { format: 'jsonl'; file: string };

/** The file names each format's spec needs. */
const SPEC_FILES = { hugectr: ['folder'], npy: ['keys', 'vectors'], jsonl: ['file'] } as const;

/** Opens (and size-checks) the source described by `spec`; `dim`, when given, must match the files. */
export async function openImportSource(spec: ImportSpec, dim?: number): Promise<ImportSource> {
  checkSpec(spec);
  switch (spec.format) {
    case 'hugectr':
      return openHugeCtrFolder(spec.folder, dim, spec.keyBytes);
    case 'npy':
      return openNpyPair(spec.keys, spec.vectors, dim);
    case 'jsonl':
      return openJsonl(spec.file, dim);
  }
}

function checkSpec(spec: unknown): asserts spec is ImportSpec {
  const shapes = "{ format: 'hugectr', folder }, { format: 'npy', keys, vectors } or { format: 'jsonl', file }";
  if (spec === null || typeof spec !== 'object') throw badArgument('import spec', shapes, spec);
  const { format } = spec as { format?: unknown };
  if (typeof format !== 'string' || !Object.hasOwn(SPEC_FILES, format)) {
    throw badArgument('import spec.format', "'hugectr', 'npy' or 'jsonl'", format);
  }
  for (const field of SPEC_FILES[format as keyof typeof SPEC_FILES]) {
    const path = (spec as Record<string, unknown>)[field];
    if (typeof path !== 'string' || path === '') throw badArgument(`import spec.${field} (format '${format}')`, 'a file or folder path', path);
  }
}
