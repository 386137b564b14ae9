import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { HpsError } from '../engine/errors.js';
import type { ServerContext } from './context.js';
import { badRequest, httpStatusOf, isServerFault, messageOf } from './errors.js';
import { binaryResponse, HEADER_LENGTH, jsonResponse, parseInferBody } from './http-infer.js';
import { parseWriteBody } from './writes.js';

type Params = { model: string; version?: string; table?: string };

/**
 * The KServe v2 / Open Inference Protocol over HTTP/REST, plus the model repository and statistics
 * extensions and the table write endpoints. Bodies are read as raw bytes (any content type) and decoded
 * by the route, so the binary tensor data extension costs no extra copy. Errors are `{"error": "..."}`
 * with the protocol's status codes.
 */
export function httpApp(ctx: ServerContext): FastifyInstance {
  const { options } = ctx;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
    // While shutting down, requests on kept-alive connections get 503; in-flight ones finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // While draining, each answer closes its connection, so that close() does not wait out keep-alive.
  app.addHook('onSend', async (_req, reply) => {
    if (ctx.state.isDraining) void reply.header('Connection', 'close');
  });

  app.setErrorHandler((error, _req, reply) => {
    const status = error instanceof HpsError ? httpStatusOf(error) : (error as { statusCode?: number }).statusCode ?? 500;
    let message = messageOf(error);
    if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = `the request body exceeds the server's limit of ${options.bodyLimit} bytes (--body-limit)`;
    }
    if (isServerFault(error)) options.log(`hps serve: internal error: ${(error as Error).stack ?? message}`);
    void reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no endpoint ${req.method} ${req.url}; see docs/server.md for the KServe v2 endpoints served` });
  });

  // Health and metadata.
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => readiness(reply, ctx.state.notReadyReason));
  app.get('/v2', async () => ctx.serverMetadata());
  const modelRoutes = (suffix: string, handler: (p: Params, reply: FastifyReply, body: Buffer | undefined, headers: Record<string, string | string[] | undefined>) => unknown, method: 'GET' | 'POST' = 'GET') => {
    for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
      app.route({ method, url: base + suffix, handler: async (req, reply) => handler(req.params as Params, reply, req.body as Buffer | undefined, req.headers) });
    }
  };
  modelRoutes('', (p) => ctx.state.model(p.model, p.version).metadata());
  modelRoutes('/ready', (p, reply) => {
    ctx.state.model(p.model, p.version);
    return readiness(reply, ctx.state.notReadyReason);
  });
  modelRoutes('/stats', (p) => ({ model_stats: ctx.metrics.statistics([ctx.state.model(p.model, p.version).name]) }));
  app.get('/v2/models/stats', async () => ({ model_stats: ctx.metrics.statistics([...ctx.state.models.keys()]) }));

  // Inference.
  modelRoutes('/infer', async (p, reply, body, headers) => {
    const req = parseInferBody(body, headerValue(headers[HEADER_LENGTH]));
    const infer = { model: p.model, version: p.version, inputs: () => req.inputs };
    if (req.binaryOutput) {
      let response: ReturnType<typeof binaryResponse> | null = null;
      await ctx.inference.infer(infer, (floats) => (response = binaryResponse(p.model, req.id, floats)).out, () => undefined);
      const { body: out, headerLength } = response!;
      return reply.header('Inference-Header-Content-Length', headerLength).type('application/octet-stream').send(out);
    }
    const json = await ctx.inference.infer(infer, (floats) => new Float32Array(floats), (out, shape) => jsonResponse(p.model, req.id, out, shape));
    return reply.type('application/json').send(json);
  }, 'POST');

  // Model repository extension.
  app.post('/v2/repository/index', async (req) => ctx.control.index(jsonBody(req.body as Buffer | undefined).ready === true));
  for (const op of ['load', 'unload'] as const) {
    app.post(`/v2/repository/models/:model/${op}`, async (req) => {
      const { model } = req.params as Params;
      const { parameters } = jsonBody(req.body as Buffer | undefined);
      await ctx.control[op](model, headerValue(req.headers.authorization), parameters);
      return {};
    });
  }

  // Table writes (token required; off without one).
  for (const op of ['update', 'erase'] as const) {
    app.post(`/v2/models/:model/tables/:table/${op}`, async (req, reply) => {
      const { model, table } = req.params as Params;
      const what = `${op} of model ${model} table ${table}`;
      ctx.auth.require(headerValue(req.headers.authorization), what);
      const ps = ctx.state.server();
      const t = ctx.state.model(model).table(table!);
      const { keys, vectors } = parseWriteBody(req.body as Buffer | undefined, headerValue(req.headers['content-type']), t.dim, op === 'update', what);
      if (op === 'update') await ps.update(model, t.index, keys, vectors!);
      else await ps.erase(model, t.index, keys);
      return reply.send({ model, table: t.name, [op === 'update' ? 'updated' : 'erased']: keys.length });
    });
  }
  return app;
}

function readiness(reply: FastifyReply, notReady: string | null) {
  if (notReady) return reply.code(503).send({ error: `not ready: ${notReady}` });
  return reply.send({ ready: true });
}

/** An optional JSON object body (empty: {}). */
function jsonBody(body: Buffer | undefined): Record<string, unknown> {
  if (!body || body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badRequest(`malformed JSON in the request body: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('request body: expected a JSON object');
  return parsed as Record<string, unknown>;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
