import type { Problem } from './problems.js';

/**
 * Parses a server list as HPS wrote it (`host[:port],host[:port]`, commas or semicolons) into
 * `host:port` strings, the port defaulting to `defaultPort`. Bad entries are added to `problems`
 * under `path`.
 */
export function parseAddresses(text: string, defaultPort: number, path: string, problems: Problem[]): string[] {
  const out: string[] = [];
  const parts = text.split(/[,;]/).map((p) => p.trim());
  if (parts.every((p) => p === '')) {
    problems.push({ path, message: `expected at least one "host[:port]", got ${JSON.stringify(text)}` });
    return out;
  }
  for (const part of parts) {
    if (part === '') continue;
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+)(?::(\d+))?$/.exec(part);
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || port < 1 || port > 65535) {
      problems.push({ path, message: `expected "host[:port]" entries with a port in 1..65535, got ${JSON.stringify(part)}` });
      continue;
    }
    out.push(`${m[1]}:${port}`);
  }
  return out;
}
