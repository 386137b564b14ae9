import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Folders of sorted runs that an import spills next to the environment: `<prefix><pid>-<random>`.
 * Defined here because the environment's writable open removes those of dead imports.
 */
export const RUN_DIR_PREFIX = '.import-runs-';

/** Removes run folders of imports whose process is gone (a killed import). */
export function removeAbandonedRuns(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const pid = Number(name.slice(RUN_DIR_PREFIX.length).split('-')[0]);
    if (!isAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
