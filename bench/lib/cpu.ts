import { existsSync, readFileSync } from 'node:fs';
import { clockTicks } from './clock-ticks.js';

/**
 * CPU time of this whole process (every thread) in seconds, from /proc/self/stat, or null where there
 * is no /proc. Dividing its growth by the wall time gives the cores the process actually got: on a
 * shared machine, a two-worker figure means little if the process only got one core.
 */
export function processCpuSeconds(): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5) (utime, stime), counted from after the command name (field 3 is [0]).
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** The 1-minute load average, or null. */
export function loadAverage(): number | null {
  if (!existsSync('/proc/loadavg')) return null;
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
