import type { Cluster } from 'ioredis';
import type { OverflowPolicy } from '../config/types.js';
import { metaValue } from './layout.js';

/**
 * Brings one partition down to `target` rows, as HPS's resolve_overflow_ does: evict_random drops
 * random rows; evict_least_used the rows with the lowest access counts; evict_oldest the rows written
 * (or, with refresh_time_after_fetch, read) longest ago, both by the partition's `t` hash. Rows with no
 * metadata (written by a process with another policy) count as oldest and least used. Unlike HPS, which
 * deleted whole batches, exactly size - target rows go. Another process may be resolving the same
 * partition: then the size found is already small enough and nothing happens. Returns rows removed.
 */
export async function resolveOverflow(
  client: Cluster, vHash: string, tHash: string, target: number, policy: OverflowPolicy, batch: number,
): Promise<number> {
  const fields: Buffer[] = await client.hkeysBuffer(vHash);
  const excess = fields.length - target;
  if (excess <= 0) return 0;
  let victims: Buffer[];
  if (policy === 'evict_random') {
    for (let i = fields.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [fields[i], fields[j]] = [fields[j], fields[i]];
    }
    victims = fields.slice(0, excess);
  } else {
    // HSCAN, not HGETALL: ioredis turns an HGETALL reply into an object with string (utf-8) keys.
    const meta = new Map<string, number>();
    let cursor = '0';
    do {
      const [next, flat] = await client.hscanBuffer(tHash, cursor, 'COUNT', 10000);
      for (let i = 0; i + 1 < flat.length; i += 2) meta.set(flat[i].toString('latin1'), metaValue(flat[i + 1], policy));
      cursor = next.toString();
    } while (cursor !== '0');
    const ranked = fields.map((f) => ({ f, m: meta.get(f.toString('latin1')) ?? -Infinity }));
    ranked.sort((a, b) => a.m - b.m);
    victims = ranked.slice(0, excess).map((r) => r.f);
  }
  let removed = 0;
  for (let at = 0; at < victims.length; at += batch) {
    const chunk = victims.slice(at, at + batch);
    const [n] = await Promise.all([client.hdel(vHash, ...chunk), client.hdel(tHash, ...chunk)]);
    removed += n;
  }
  return removed;
}
