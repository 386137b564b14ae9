import { statSync } from 'node:fs';

/**
 * Identifies the source files of an import by size and modification time (as `make` would): a
 * changed, replaced or touched file gives another fingerprint, and computing it reads no data.
 */
export function fingerprintFiles(files: string[], dim: number): string {
  const parts = files.map((f) => {
    const st = statSync(f);
    return `${st.size}:${Math.round(st.mtimeMs)}`;
  });
  return `dim=${dim};${parts.join(';')}`;
}
