import type { HpsServer } from './server.js';

/**
 * Graceful shutdown for a serving process: the first SIGTERM or SIGINT stops accepting, lets the
 * requests in flight finish, closes the stores and exits 0; a second signal exits at once (status 1).
 */
export function closeOnSignals(server: HpsServer, log: (line: string) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`hps serve: second ${signal}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`hps serve: ${signal}: no new requests; finishing the ones in flight, then closing`);
    server.close(true).then(
      () => {
        log('hps serve: closed');
        process.exit(0);
      },
      (e: Error) => {
        log(`hps serve: closing failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
