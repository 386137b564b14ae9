import { accessSync, constants, lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { HpsError } from '../errors.js';
import { currentOwner, ownerAlive, type Owner } from './owner.js';

/** The gate's name in the environment's folder (a symbolic link, there only while the gate is held). */
export const GATE_FILE = 'open.gate';
/** A second link, held for the moment it takes to remove the gate of a dead process. */
const BREAKER_SUFFIX = '.break';
/** A breaker link this old was left by a process killed while removing a dead gate. */
const BREAKER_STALE_MS = 10_000;
/**
 * A gate held this long by a worker thread was left by a thread terminated inside it (its process lives
 * on, so the pid says nothing). Worker threads hold it to open or close a store (milliseconds), or for
 * a write transaction if they write.
 */
const WORKER_HOLD_STALE_MS = 30_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** The target of this thread's gate links: who holds it (the same for every acquisition). */
let ownToken: string | null = null;

/**
 * A cross-process mutex for one LMDB environment, held while a process opens or closes the
 * environment and around every write transaction.
 *
 * Why: the LMDB inside lmdb-js (3.x) stores the last committed transaction id into the shared lock
 * table every time a process opens the environment, from the meta page it read moments before,
 * without the writer lock (upstream LMDB fixed this as ITS#9496). A commit by another process
 * between that read and that store moves the id back by one; the next write transaction, in any
 * process, starts from the previous snapshot and overwrites the meta page of the commit it never
 * saw. That commit is silently lost (an import lost one staged chunk), or the writer's free-page list
 * disagrees with the file (MDB_PROBLEM, MDB_BAD_TXN, a crash). Likewise the last process to close the
 * environment destroys the lock table's mutexes, under a process that is opening it at that moment.
 * Opens and closes excluded from commits and from each other close both windows.
 *
 * The mutex is a symbolic link whose target names its holder (pid, process start time, thread):
 * creating a link is atomic and fails if it exists, and one syscall takes or releases it. A link whose
 * holder is dead (a process killed during a commit, a worker thread terminated inside the gate) is
 * removed by the next one that wants the gate. It is not built on LMDB itself, whose lock table has
 * the close race above. Re-entrant within a thread.
 */
export class EnvGate {
  private depth = 0;

  private constructor(private readonly file: string | null) {}

  /**
   * The gate of the environment in folder `envPath` (created for a writable store). A read-only store
   * whose folder cannot be written gets no gate: LMDB then cannot write the lock table either, and
   * both defects above need it.
   */
  static open(envPath: string, readOnly: boolean): EnvGate {
    if (!readOnly) mkdirSync(envPath, { recursive: true });
    else if (!writable(envPath)) return new EnvGate(null);
    return new EnvGate(join(envPath, GATE_FILE));
  }

  /** Runs `fn` holding the gate, waiting while another thread or process holds it. */
  run<T>(fn: () => T): T {
    if (!this.file || this.depth > 0 || !this.acquire(this.file)) return fn();
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      unlinkQuietly(this.file);
    }
  }

  /** Takes the gate; false if there is no gate to take (see below). */
  private acquire(file: string): boolean {
    const token = (ownToken ??= `${ownerToken(currentOwner())}:${threadId}`);
    for (let sleepMs = 0.05; ; sleepMs = Math.min(sleepMs * 2, 5)) {
      try {
        symlinkSync(token, file);
        return true;
      } catch (e) {
        // The folder is gone: no process can open the environment any more, and both races need one.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new HpsError('IO', `cannot take the LMDB environment's gate ${file}: ${(e as Error).message}`, { cause: e });
        }
      }
      if (!removeIfDead(file, token)) Atomics.wait(sleeper, 0, 0, sleepMs);
    }
  }
}

/**
 * Removes the gate if its holder is dead; true if it is gone (retry at once). The breaker link makes
 * the check and the removal one step: while it is held, the gate can neither be removed by anyone
 * else (its holder is dead) nor created (it exists).
 */
function removeIfDead(file: string, token: string): boolean {
  const held = readLink(file);
  if (held === null) return true;
  const owner = parseOwnerToken(held);
  if (owner && ownerAlive(owner.owner) && !(owner.thread !== 0 && (ageMs(file) ?? 0) > WORKER_HOLD_STALE_MS)) return false;
  const breaker = file + BREAKER_SUFFIX;
  try {
    symlinkSync(token, breaker);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const age = ageMs(breaker);
    if (age !== null && age > BREAKER_STALE_MS) unlinkQuietly(breaker);
    return false;
  }
  try {
    if (readLink(file) === held) unlinkQuietly(file);
  } finally {
    unlinkSync(breaker);
  }
  return true;
}

function ownerToken(owner: Owner): string {
  return `${owner.pid}:${owner.start ?? ''}:${owner.host}`;
}

/** The holder named by a gate link, or null for a target this code did not write (treated as dead). */
function parseOwnerToken(token: string): { owner: Owner; thread: number } | null {
  const [pid, start, host, thread] = token.split(':');
  if (!/^\d+$/.test(pid) || !/^\d+$/.test(thread ?? '')) return null;
  return { owner: { pid: Number(pid), start: start || null, host, since: '' }, thread: Number(thread) };
}

function readLink(file: string): string | null {
  try {
    return readlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Not a link (a file put there by hand): nothing this code made, so nobody's gate.
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return '';
    throw e;
  }
}

function ageMs(file: string): number | null {
  try {
    return Date.now() - lstatSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function writable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
