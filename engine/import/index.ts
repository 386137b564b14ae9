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

/** Opens (and size-checks) the source described by `spec`; `dim`, when given, must match the files. */
export async function openImportSource(spec: ImportSpec, dim?: number): Promise<ImportSource> {
  switch (spec.format) {
    case 'hugectr':
      return openHugeCtrFolder(spec.folder, dim, spec.keyBytes);
    case 'npy':
      return openNpyPair(spec.keys, spec.vectors, dim);
    case 'jsonl':
      return openJsonl(spec.file, dim);
  }
}
