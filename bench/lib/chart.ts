import type { Ratio } from './results.js';

/**
 * A hand-written SVG bar chart of ratios against their targets, on a log scale (the ratios span from
 * below 1x to tens of x). Each bar is the measured ratio, green when its target is met and red when
 * not; a black tick marks the target.
 */
export function ratioChart(rows: { suite: string; ratio: Ratio }[], title: string): string {
  const labelWidth = 330;
  const plotWidth = 460;
  const rowHeight = 26;
  const top = 48;
  const height = top + rows.length * rowHeight + 40;
  const width = labelWidth + plotWidth + 90;
  const values = rows.flatMap(({ ratio }) => [ratio.value, ratio.target]).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(0.1, ...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...values))));
  const x = (v: number) => labelWidth + (Math.log10(Math.max(lo, v) / lo) / Math.log10(hi / lo)) * plotWidth;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="36" fill="#555">bar: measured ratio (log scale); tick: target; green met, red not met</text>`,
  ];
  for (let d = lo; d <= hi; d *= 10) {
    parts.push(`<line x1="${x(d).toFixed(1)}" y1="${top - 4}" x2="${x(d).toFixed(1)}" y2="${top + rows.length * rowHeight}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(d).toFixed(1)}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#555">${d >= 1 ? d.toFixed(0) : d}x</text>`);
  }
  rows.forEach(({ suite, ratio }, i) => {
    const y = top + i * rowHeight;
    const colour = ratio.met ? '#2e8b57' : '#c0392b';
    parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${esc(`${suite}: ${ratio.name}`)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 5}" width="${Math.max(1, x(ratio.value) - labelWidth).toFixed(1)}" height="${rowHeight - 10}" fill="${colour}"/>`);
    parts.push(`<line x1="${x(ratio.target).toFixed(1)}" y1="${y + 1}" x2="${x(ratio.target).toFixed(1)}" y2="${y + rowHeight - 1}" stroke="black" stroke-width="2"/>`);
    parts.push(`<text x="${(Math.max(x(ratio.value), x(ratio.target)) + 6).toFixed(1)}" y="${y + 16}">${esc(`${ratio.value.toFixed(2)}x (${ratio.direction} ${ratio.target}x)`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
