import { createServer as createHttpServer, type Server as NodeServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import * as grpc from '@grpc/grpc-js';
import type { ParameterServer } from '../engine/parameter-server.js';
import { ServerContext } from './context.js';
import { grpcServer } from './grpc-service.js';
import { httpApp } from './http-routes.js';
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './options.js';
import { ServingState } from './state.js';

export interface ServerAddresses {
  http: { host: string; port: number };
  grpc: { host: string; port: number } | null;
  metrics: { host: string; port: number } | null;
}

/**
 * The inference server over a ParameterServer: KServe v2 HTTP/REST, gRPC and Prometheus metrics.
 * `ps` may be a promise: the endpoints then answer liveness at once and readiness once it resolves.
 */
export class HpsServer {
  private readonly ctx: ServerContext;
  private readonly options: ResolvedServeOptions;
  private readonly http: FastifyInstance;
  private grpc: grpc.Server | null = null;
  private metricsServer: NodeServer | null = null;
  private bound: ServerAddresses | null = null;
  private closing: Promise<void> | null = null;

  constructor(ps: ParameterServer | Promise<ParameterServer>, options: ServeOptions = {}) {
    this.options = resolveServeOptions(options);
    this.ctx = new ServerContext(new ServingState(ps), this.options);
    this.http = httpApp(this.ctx);
  }

  /** Opens every endpoint; logs one line per endpoint with the port it got. */
  async listen(): Promise<ServerAddresses> {
    const { host, log } = this.options;
    await this.http.listen({ host, port: this.options.httpPort });
    const http = { host, port: (this.http.server.address() as AddressInfo).port };
    log(`hps serve: HTTP (KServe v2) listening on http://${hostPort(http)}`);
    let grpcAddress = null;
    if (this.options.grpcPort !== null) {
      this.grpc = grpcServer(this.ctx);
      const server = this.grpc;
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(hostPort({ host, port: this.options.grpcPort! }), grpc.ServerCredentials.createInsecure(), (e, bound) => (e ? reject(e) : resolve(bound)));
      });
      grpcAddress = { host, port };
      log(`hps serve: gRPC (inference.GRPCInferenceService) listening on ${hostPort(grpcAddress)}`);
    }
    let metrics = null;
    if (this.options.metricsPort !== null) {
      this.metricsServer = await this.metricsEndpoint(this.options.metricsPort);
      metrics = { host, port: (this.metricsServer.address() as AddressInfo).port };
      log(`hps serve: metrics listening on http://${hostPort(metrics)}/metrics`);
    }
    this.bound = { http, grpc: grpcAddress, metrics };
    return this.bound;
  }

  get addresses(): ServerAddresses {
    if (!this.bound) throw new Error('HpsServer: not listening yet; await listen() first');
    return this.bound;
  }

  get ready(): boolean {
    return this.ctx.state.ready;
  }

  /**
   * Stops accepting, lets the requests in flight finish, then closes the endpoints. The
   * ParameterServer stays open (it is the caller's) unless `closeStore` is set.
   */
  close(closeStore = false): Promise<void> {
    this.closing ??= (async () => {
      this.ctx.state.drain();
      await Promise.all([
        this.http.close(),
        this.grpc ? new Promise<void>((resolve) => this.grpc!.tryShutdown(() => resolve())) : undefined,
        this.metricsServer ? new Promise<void>((resolve) => this.metricsServer!.close(() => resolve())) : undefined,
      ]);
      if (closeStore) await this.ctx.state.opened?.close();
    })();
    return this.closing;
  }

  private async metricsEndpoint(port: number): Promise<NodeServer> {
    const registry = this.ctx.metrics.registry;
    const server = createHttpServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no endpoint ${req.method} ${req.url}; metrics are at GET /metrics` }));
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message })),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => resolve());
    });
    return server;
  }
}

function hostPort(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** The inference server over `ps` (or a promise of it); call `listen()` to open the endpoints. */
export function createServer(ps: ParameterServer | Promise<ParameterServer>, options: ServeOptions = {}): HpsServer {
  return new HpsServer(ps, options);
}
