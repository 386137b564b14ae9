import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HpsError } from '../errors.js';

/*
 * LMDB keeps no checksums, and lmdb-js maps data.mdb into memory: a truncated file faults (SIGBUS) on the
 * first read past its end, and a damaged meta page sends LMDB to a wild root page (SIGSEGV). Neither is an
 * exception Node can catch, so what can be checked cheaply is checked here, with plain reads, before the
 * file is mapped.
 *
 * The layout, as written by the LMDB build inside lmdb-js (data format 2, 64-bit): pages 0 and 1 are meta
 * pages; transaction N writes page N % 2. A page starts with a 24-byte header (page number, txnid, pad,
 * flags at byte 18, ...). A meta page holds, after that header: magic, version, map address, map size, the
 * free and main databases' records (48 bytes each; the free one's first field is the page size), the last
 * used page and the txnid. With overlapping sync, a copy of the last flushed meta sits in the second half
 * of page 0 (no magic of its own). LMDB opens the meta with the highest txnid.
 */

const HEADER = 24;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_META = 0x08;
const P_LEAF2 = 0x20;
const P_SUBP = 0x40;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const META = {
  magic: 0,
  version: 4,
  pageSize: 24,
  freeRoot: 64,
  mainRoot: 112,
  lastPage: 120,
  txnid: 128,
} as const;
const META_BYTES = 136;
/** Page number of an empty database's root. */
const NO_PAGE = 0xffffffffffffffffn;
const MIN_PAGE = 512;
const MAX_PAGE = 65536;

interface Meta {
  /** Byte offset of the meta in the file, for messages. */
  at: number;
  pageSize: number;
  lastPage: bigint;
  txnid: bigint;
  freeRoot: bigint;
  mainRoot: bigint;
}

/** How long an open waits for another process that is creating the file to write its meta pages. */
const CREATE_WAIT_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Refuses a damaged `data.mdb` in `path` with HpsError CORRUPT naming the file and what is wrong: an empty
 * file, one shorter than its meta pages say, meta pages that are not LMDB's. A missing file is fine (a new
 * store). Reads a few small pieces of the file, and walks its trees only when it is shorter than its last page.
 */
export function checkDataFile(path: string, model: string): void {
  const file = join(path, 'data.mdb');
  let size = fileSize(file);
  if (size === null) return;
  // A process that creates the store writes both meta pages just after creating the file, under LMDB's
  // lock; an open racing it sees a short file for that moment. Anything still short after a wait is damage.
  for (let waited = 0; size < 2 * MIN_PAGE && waited < CREATE_WAIT_MS; waited += 20) {
    Atomics.wait(pause, 0, 0, 20);
    size = fileSize(file) ?? 0;
  }
  const fail = (what: string) => new HpsError('CORRUPT', `model ${model}: ${file} is damaged: ${what}; refusing to open it (restore the store from a copy, or move it away and import the tables again)`);
  if (size === 0) throw fail('it is empty (0 bytes), but an existing store file is never taken for a new store');
  const fd = openSync(file, 'r');
  try {
    const first = readMeta(fd, 0);
    const problem0 = metaProblem(first, null);
    if (problem0) throw fail(`meta page 0 ${problem0}`);
    const second = readMeta(fd, first.meta.pageSize);
    const problem1 = metaProblem(second, first.meta.pageSize);
    if (problem1) throw fail(`meta page 1 (byte ${first.meta.pageSize}) ${problem1}`);
    const newest = second.meta.txnid > first.meta.txnid ? second.meta : first.meta;
    const flushed = readMeta(fd, first.meta.pageSize / 2).meta;
    if (flushed.txnid > newest.txnid) {
      throw fail(`the flushed-meta copy at byte ${flushed.at} claims transaction ${flushed.txnid}, newer than both meta pages (${first.meta.txnid}, ${second.meta.txnid})`);
    }
    const pages = newest.lastPage + 1n;
    const needed = pages * BigInt(newest.pageSize);
    if (BigInt(size) < needed) {
      // LMDB does not write a page freed by the transaction that allocated it, so the last pages may
      // legitimately be missing when no tree refers to them: only then is walking every tree worth it.
      const beyond = pageBeyondEnd(fd, newest, Math.floor(size / newest.pageSize));
      if (beyond) {
        throw fail(`it has ${size} bytes, but its newest meta page (byte ${newest.at}, transaction ${newest.txnid}) uses pages up to ${newest.lastPage} of ${newest.pageSize} bytes: expected at least ${needed} bytes (the file was truncated: ${beyond})`);
      }
    }
    for (const [name, root] of [['main', newest.mainRoot], ['free-page', newest.freeRoot]] as const) {
      const problem = rootProblem(fd, root, newest.pageSize);
      if (problem) throw fail(`the ${name} database's root, page ${root} (named by the meta at byte ${newest.at}), ${problem}`);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Walks every B-tree from the meta's roots (the free-page and main databases, and each named database
 * recorded in the main one) with plain reads, and says which referenced page lies at or beyond
 * `filePages`, or null when none does. Node layout: a uint16 offset per node after the page header
 * (their count is the header's lower bound / 2); a node is lo, hi, flags, key size (uint16 each), the key,
 * then the data. A branch node's child is lo | hi << 16 | flags << 32; a leaf node with F_BIGDATA holds the
 * page number of its overflow pages (their count at byte 20 of the first one's header), one with
 * F_SUBDATA a database record (its root at byte 40).
 */
function pageBeyondEnd(fd: number, meta: Meta, filePages: number): string | null {
  const size = meta.pageSize;
  const page = Buffer.alloc(size);
  const pending: { page: bigint; from: string }[] = [];
  const follow = (pgno: bigint, from: string) => {
    if (pgno !== NO_PAGE) pending.push({ page: pgno, from });
  };
  follow(meta.freeRoot, 'the free-page database root');
  follow(meta.mainRoot, 'the main database root');
  let visited = 0n;
  try {
    while (pending.length > 0) {
      const { page: pgno, from } = pending.pop()!;
      if (pgno >= BigInt(filePages)) return `page ${pgno}, ${from}, is past the end`;
      if (++visited > meta.lastPage) return 'the trees refer to more pages than the file has (a loop)';
      readSync(fd, page, 0, size, Number(pgno) * size);
      const flags = page.readUInt16LE(18);
      const nodes = page.readUInt16LE(20) >> 1;
      const leaf = (flags & P_LEAF) !== 0;
      if (!leaf && !(flags & P_BRANCH)) return `page ${pgno}, ${from}, is not a branch or leaf page (flags 0x${flags.toString(16)})`;
      if (flags & (P_LEAF2 | P_SUBP)) continue;
      for (let i = 0; i < nodes; i++) {
        const node = HEADER + page.readUInt16LE(HEADER + 2 * i);
        const lo = BigInt(page.readUInt16LE(node));
        const hi = BigInt(page.readUInt16LE(node + 2));
        const nodeFlags = page.readUInt16LE(node + 4);
        const data = node + 8 + page.readUInt16LE(node + 6);
        if (!leaf) {
          follow(lo | (hi << 16n) | (BigInt(nodeFlags) << 32n), `a child of page ${pgno}`);
        } else if (nodeFlags & F_BIGDATA) {
          const first = page.readBigUInt64LE(data);
          const head = Buffer.alloc(HEADER);
          if (first < BigInt(filePages)) readSync(fd, head, 0, HEADER, Number(first) * size);
          const last = first + BigInt(Math.max(1, head.readUInt32LE(20))) - 1n;
          if (last >= BigInt(filePages)) return `overflow pages ${first} to ${last}, of a value on page ${pgno}, are past the end`;
        } else if (nodeFlags & F_SUBDATA) {
          follow(page.readBigUInt64LE(data + 40), `the root of a database named on page ${pgno}`);
        }
      }
    }
  } catch (e) {
    return `a page is unreadable (${(e as Error).message})`;
  }
  return null;
}

/** What is wrong with the header of a database's root page, or null: it must name itself and be a tree page. */
function rootProblem(fd: number, root: bigint, pageSize: number): string | null {
  if (root === NO_PAGE) return null;
  const head = Buffer.alloc(HEADER);
  readSync(fd, head, 0, HEADER, Number(root) * pageSize);
  const pgno = head.readBigUInt64LE(0);
  const flags = head.readUInt16LE(18);
  if (pgno !== root) return `says it is page ${pgno}`;
  if (!(flags & (P_BRANCH | P_LEAF))) return `is not a branch or leaf page (flags 0x${flags.toString(16)})`;
  return null;
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new HpsError('IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** The meta at page offset `at` (header included), and the page flags in front of it. */
function readMeta(fd: number, at: number): { meta: Meta; flags: number; magic: number; version: number; short: boolean } {
  const buf = Buffer.alloc(HEADER + META_BYTES);
  const got = readSync(fd, buf, 0, buf.length, at);
  const m = HEADER;
  return {
    short: got < buf.length,
    flags: buf.readUInt16LE(18),
    magic: buf.readUInt32LE(m + META.magic),
    version: buf.readUInt32LE(m + META.version) & 0xffff,
    meta: {
      at: at + HEADER,
      pageSize: buf.readUInt32LE(m + META.pageSize),
      lastPage: buf.readBigUInt64LE(m + META.lastPage),
      txnid: buf.readBigUInt64LE(m + META.txnid),
      freeRoot: buf.readBigUInt64LE(m + META.freeRoot),
      mainRoot: buf.readBigUInt64LE(m + META.mainRoot),
    },
  };
}

/** What is wrong with a meta page, or null. `pageSize` is page 0's, for page 1. */
function metaProblem(page: ReturnType<typeof readMeta>, pageSize: number | null): string | null {
  const { meta } = page;
  if (page.short) return 'is cut off (the file ends inside it)';
  if (!(page.flags & P_META)) return `is not a meta page (page flags 0x${page.flags.toString(16)}, expected the meta flag 0x08)`;
  if (page.magic !== MAGIC) return `has magic 0x${page.magic.toString(16)}, expected LMDB's 0xbeefc0de`;
  if (page.version !== DATA_VERSION) return `has data format version ${page.version}, expected ${DATA_VERSION}`;
  const p = meta.pageSize;
  if (p < MIN_PAGE || p > MAX_PAGE || (p & (p - 1)) !== 0) return `has page size ${p}, expected a power of two from ${MIN_PAGE} to ${MAX_PAGE}`;
  if (pageSize !== null && p !== pageSize) return `has page size ${p}, but meta page 0 says ${pageSize}`;
  if (meta.lastPage < 1n) return `has last page ${meta.lastPage}, expected at least 1 (the two meta pages)`;
  for (const [name, root] of [['main', meta.mainRoot], ['free-page', meta.freeRoot]] as const) {
    if (root !== NO_PAGE && (root < 2n || root > meta.lastPage)) return `has the ${name} database's root at page ${root}, outside pages 2 to ${meta.lastPage}`;
  }
  return null;
}
