import { spawnSync } from 'node:child_process';

let ticks: number | undefined;

/** Clock ticks per second of /proc times (`getconf CLK_TCK`, 100 when that cannot be asked). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const v = Number(r.stdout?.trim());
    ticks = r.status === 0 && v > 0 ? v : 100;
  }
  return ticks;
}
