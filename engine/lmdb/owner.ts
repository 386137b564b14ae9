import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who runs an import: enough to tell later, from another process, whether it is still alive. The
 * start time (Linux: clock ticks since boot, /proc/<pid>/stat field 22) tells a live owner from an
 * unrelated process that got the same pid after the owner died.
 */
export interface Owner {
  pid: number;
  /** Start time of the process, or null where the platform does not say. */
  start: string | null;
  host: string;
  /** When the import began (ISO time), for messages. */
  since: string;
}

const self: Owner = { pid: process.pid, start: processStart(process.pid), host: hostname(), since: '' };

/** This process as the owner of something beginning now. */
export function currentOwner(): Owner {
  return { ...self, since: new Date().toISOString() };
}

/**
 * Whether `owner` may still be running. Only what is proven dead is dead: a process on another host,
 * or one whose start time cannot be read, counts as alive while its pid exists.
 */
export function ownerAlive(owner: Owner): boolean {
  if (owner.host !== self.host) return true;
  if (owner.pid === self.pid) return owner.start === self.start;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(owner.pid);
  return start === null || owner.start === null || start === owner.start;
}

export function describeOwner(owner: Owner): string {
  return `process ${owner.pid} on ${owner.host} (since ${owner.since})`;
}

export function isOwner(value: unknown): value is Owner {
  const o = value as Owner;
  return typeof o === 'object' && o !== null && Number.isInteger(o.pid) && typeof o.host === 'string';
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
