import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { HpsError, ParameterServer } from '../engine/index.js';
import { createServer } from '../server/server.js';
import { DEFAULT_PORTS } from '../server/options.js';
import { closeOnSignals } from '../server/lifecycle.js';

/** `hps serve`: the KServe v2 / Triton inference server over every model of a ps.json (docs/server.md). */
export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve every model of a ps.json over the Triton / KServe v2 protocol (HTTP, gRPC) with Prometheus metrics')
    .requiredOption('-c, --config <ps.json>', 'HPS ps.json or a JSON file of typed options')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--http-port <port>', 'HTTP/REST port (0: a free port)', port, DEFAULT_PORTS.http)
    .option('--grpc-port <port>', 'gRPC port (0: a free port)', port, DEFAULT_PORTS.grpc)
    .option('--metrics-port <port>', 'Prometheus metrics port (0: a free port)', port, DEFAULT_PORTS.metrics)
    .option('--token-file <file>', 'file holding the bearer token of write and model-control endpoints (else $HPS_TOKEN; without either they are off)')
    .option('--body-limit <bytes>', 'largest request body', positive)
    .option('--request-timeout <ms>', 'longest a request may take to arrive and to be served', positive)
    .action(async (o) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const verbose = program.opts().verbose;
      const ps = ParameterServer.open(o.config, verbose ? { log } : { log: () => {} });
      const server = createServer(ps, {
        host: o.host, httpPort: o.httpPort, grpcPort: o.grpcPort, metricsPort: o.metricsPort,
        token: readToken(o.tokenFile), bodyLimit: o.bodyLimit, requestTimeoutMs: o.requestTimeout, log,
      });
      closeOnSignals(server, log);
      await server.listen();
      try {
        await ps;
      } catch (e) {
        await server.close();
        throw e;
      }
      const models = (await ps).info().models.map((m) => m.name);
      log(`hps serve: ready: ${models.length} model${models.length === 1 ? '' : 's'} (${models.join(', ')})`);
    });
}

function readToken(file: string | undefined): string | null {
  const token = file === undefined ? process.env.HPS_TOKEN : readFileSync(file, 'utf8').trim();
  if (token === undefined || token === '') {
    if (file !== undefined) throw new HpsError('BAD_CONFIG', `serve: --token-file ${file} is empty; write endpoints need a non-empty token`);
    return null;
  }
  return token;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port 0-65535 (0 picks a free one), got ${JSON.stringify(value)}`);
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
