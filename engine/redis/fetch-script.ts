import type { Cluster } from 'ioredis';

/*
 * Reading a chunk of a partition in one reply. An HMGET of n fields answers n bulk strings, and parsing
 * them one by one is most of a lookup's cost on the Node side. This script runs the same HMGETs inside
 * Redis (the layout is untouched: HPS's hash, field and value) and answers two strings: one status byte
 * per field ('1' found, '0' absent, '2' a value that is not rowBytes long) and the found values
 * concatenated in field order. The fields go in as one string too (the keys' bytes, `width` each).
 * Redis's Lua unpack() is limited to a few thousand values, hence the inner chunks.
 */
const FETCH_LUA = `
local fields, width, rowBytes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #fields / width
local status, rows = {}, {}
local at = 1
while at <= n do
  local last = math.min(n, at + 3999)
  local names = {}
  for i = at, last do names[#names + 1] = string.sub(fields, (i - 1) * width + 1, i * width) end
  local values = redis.call('HMGET', KEYS[1], unpack(names))
  for j = 1, #values do
    local v = values[j]
    if not v then status[#status + 1] = '0'
    elseif #v == rowBytes then status[#status + 1] = '1'; rows[#rows + 1] = v
    else status[#status + 1] = '2' end
  end
  at = last + 1
end
return {table.concat(status), table.concat(rows)}
`;

const FOUND = 0x31;
const BAD_SIZE = 0x32;

interface WithFetch {
  hpsFetchBuffer(hash: string, fields: Buffer, width: string, rowBytes: string): Promise<[Buffer, Buffer]>;
}

/** Defines the fetch script on `client` (EVALSHA, sent again with EVAL on a node that lacks it), once. */
export function defineFetch(client: Cluster): void {
  if (typeof (client as unknown as Partial<WithFetch>).hpsFetchBuffer === 'function') return;
  client.defineCommand('hpsFetch', { numberOfKeys: 1, lua: FETCH_LUA });
}

/** What a fetch found: for field i, `status[i]` says found / absent / bad size; found rows are in `rows` in order. */
export interface Fetched {
  status: Buffer;
  rows: Buffer;
}

/** Fetches `fields` (each `width` bytes, concatenated) of `hash`. */
export async function fetchFields(client: Cluster, hash: string, fields: Buffer, width: number, rowBytes: number): Promise<Fetched> {
  const [status, rows] = await (client as unknown as WithFetch).hpsFetchBuffer(hash, fields, String(width), String(rowBytes));
  return { status, rows };
}

export function isFound(status: Buffer, i: number): boolean {
  return status[i] === FOUND;
}

export function isBadSize(status: Buffer, i: number): boolean {
  return status[i] === BAD_SIZE;
}
