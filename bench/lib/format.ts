import type { Figure, Ratio, SuiteResult } from './results.js';

/** Human-readable numbers for tables: 3 significant digits with a k/M/G suffix. */
export function human(value: number): string {
  const abs = Math.abs(value);
  const [div, suffix] = abs >= 1e9 ? [1e9, 'G'] : abs >= 1e6 ? [1e6, 'M'] : abs >= 1e3 ? [1e3, 'k'] : [1, ''];
  const v = value / div;
  return `${Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)}${suffix}`;
}

export function figureRows(figures: Figure[]): string[][] {
  return figures.map((f) => [f.name, f.unit, human(f.median), human(f.min), human(f.max), String(f.samples)]);
}

export function ratioRows(ratios: Ratio[]): string[][] {
  return ratios.map((r) => [r.name, `${r.value.toFixed(2)}x`, `${r.direction} ${r.target}x`, r.met ? 'met' : 'NOT met']);
}

export const FIGURE_HEAD = ['figure', 'unit', 'median', 'min', 'max', 'samples'];
export const RATIO_HEAD = ['ratio', 'value', 'target', 'status'];

/** A plain-text table with aligned columns. */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(head: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** What the runner prints at the end of a suite. */
export function printSuite(result: SuiteResult): void {
  console.log(`\n== ${result.suite} (${result.scale}${result.scale === 'full' ? '' : ': sizes shrunk'}) ${JSON.stringify(result.sizes)}`);
  if (result.figures.length) console.log(textTable(FIGURE_HEAD, figureRows(result.figures)));
  if (result.ratios.length) console.log('\n' + textTable(RATIO_HEAD, ratioRows(result.ratios)));
  for (const s of result.skipped) console.log(`skipped ${s.what}: ${s.why}`);
}
