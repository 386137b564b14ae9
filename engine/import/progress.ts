import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(rows: number): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/** A cli-progress bar on stderr when it is a terminal (and `enabled`); a no-op otherwise. */
export function progressBar(label: string, total: number | null, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return SILENT;
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: total === null ? `${label} {value} keys` : `${label} [{bar}] {percentage}% {value}/{total} keys | {eta_formatted} left`,
      hideCursor: true,
      fps: 5,
    },
    Presets.shades_classic,
  );
  bar.start(total ?? 0, 0);
  return { update: (rows) => bar.update(rows), stop: () => bar.stop() };
}
