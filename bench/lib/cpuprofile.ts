import { readFileSync } from 'node:fs';

/** The parts of a V8 CPU profile (.cpuprofile, or Profiler.stop's result) that a summary needs. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Functions by self time, largest first: [name, fraction of the profile]. Wasm functions get export names. */
export function selfTime(profile: CpuProfile, wasmNames = wasmExportNames()): [string, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const dt = profile.timeDeltas ?? [];
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const wasm = /^wasm-function\[(\d+)\]$/.exec(f.functionName);
    const fn = wasm ? `wasm ${wasmNames.get(Number(wasm[1])) ?? f.functionName}` : f.functionName || '(anonymous)';
    const where = f.url && !wasm ? ` ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const t = dt[i] ?? 0;
    self.set(fn + where, (self.get(fn + where) ?? 0) + t);
    total += t;
  });
  return [...self].map(([k, v]) => [k, total ? v / total : 0] as [string, number]).sort((a, b) => b[1] - a[1]);
}

/** Function index -> export name, from the export section of wasm/hps.wasm (V8 profiles show indices). */
export function wasmExportNames(bin: Uint8Array = readFileSync(new URL('../../../wasm/hps.wasm', import.meta.url))): Map<number, string> {
  let at = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = bin[at++];
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return v >>> 0;
  };
  const names = new Map<number, string>();
  while (at < bin.length) {
    const id = bin[at++];
    const size = leb();
    const end = at + size;
    if (id === 7) {
      for (let count = leb(); count > 0; count--) {
        const len = leb();
        const name = new TextDecoder().decode(bin.subarray(at, at + len));
        at += len;
        const kind = bin[at++];
        const index = leb();
        if (kind === 0) names.set(index, name);
      }
    }
    at = end;
  }
  return names;
}

/** Prints the `top` functions by self time. */
export function printSelfTime(profile: CpuProfile, top = 15): void {
  for (const [name, share] of selfTime(profile).slice(0, top)) console.log(`${(100 * share).toFixed(1).padStart(6)}%  ${name}`);
}
