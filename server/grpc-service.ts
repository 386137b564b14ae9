import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ServerContext } from './context.js';
import { badRequest, grpcStatusOf, isServerFault, messageOf } from './errors.js';
import { MODEL_VERSION, OUTPUT0 } from './hps-model.js';
import type { InputTensor } from './tensors.js';

/** The service definition (server/proto/grpc_service.proto), shared with clients such as the tests and the bench. */
export const PROTO_PATH = fileURLToPath(new URL('../../server/proto/grpc_service.proto', import.meta.url));
/** Field names as in the .proto; 64-bit integers as decimal strings (exact); raw contents as Buffers. */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export function inferenceService(): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH, PROTO_OPTIONS)) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  return pkg.inference.GRPCInferenceService;
}

interface GrpcTensor {
  name: string;
  datatype: string;
  shape: string[];
  contents: Record<string, unknown[]> | null;
}

/** Which typed contents field holds a datatype's values (InferTensorContents). */
const CONTENTS_FIELD: Record<string, string> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

/**
 * `inference.GRPCInferenceService` over the same inference core as the HTTP routes. Inputs come as
 * `raw_input_contents` (little-endian bytes, in input order) or typed `contents`; OUTPUT0 always goes
 * back in `raw_output_contents`, as Triton does.
 */
export function grpcServer(ctx: ServerContext): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': ctx.options.bodyLimit,
    'grpc.max_send_message_length': -1,
  });
  const unary = <Req, Res>(fn: (req: Req, metadata: grpc.Metadata) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
    Promise.resolve().then(() => fn(call.request, call.metadata)).then(
      (res) => callback(null, res),
      (e: unknown) => {
        const code = grpcStatusOf(e);
        if (isServerFault(e)) ctx.options.log(`hps serve: internal error (gRPC): ${(e as Error).stack ?? messageOf(e)}`);
        callback({ code, details: messageOf(e) });
      },
    );
  };
  const token = (metadata: grpc.Metadata) => metadata.get('authorization')[0]?.toString();
  type Named = { name: string; version: string };
  server.addService(inferenceService().service, {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: ctx.state.ready })),
    ModelReady: unary((req: Named) => {
      ctx.state.model(req.name, req.version);
      return { ready: ctx.state.ready };
    }),
    ServerMetadata: unary(() => ctx.serverMetadata()),
    ModelMetadata: unary((req: Named) => ctx.state.model(req.name, req.version).metadata()),
    ModelInfer: unary(async (req: { model_name: string; model_version: string; id: string; inputs: GrpcTensor[]; outputs: { name: string }[]; raw_input_contents: Buffer[] }) => {
      for (const [i, o] of req.outputs.entries()) {
        if (o.name !== OUTPUT0) throw badRequest(`outputs[${i}]: unknown output ${JSON.stringify(o.name)}; the model has one output, ${OUTPUT0}`);
      }
      const infer = { model: req.model_name, version: req.model_version, inputs: () => grpcInputs(req.inputs, req.raw_input_contents) };
      return ctx.inference.infer(infer, (floats) => new Float32Array(floats), (out, shape) => ({
        model_name: req.model_name,
        model_version: MODEL_VERSION,
        id: req.id,
        outputs: [{ name: OUTPUT0, datatype: 'FP32', shape }],
        raw_output_contents: [Buffer.from(out.buffer, out.byteOffset, out.byteLength)],
      }));
    }),
    ModelStatistics: unary((req: Named) => ({
      model_stats: ctx.metrics.statistics(req.name === '' ? [...ctx.state.models.keys()] : [ctx.state.model(req.name, req.version).name]),
    })),
    RepositoryIndex: unary((req: { ready: boolean }) => ({ models: ctx.control.index(req.ready) })),
    RepositoryModelLoad: unary(async (req: { model_name: string; parameters: Record<string, unknown> }, metadata) => {
      await ctx.control.load(req.model_name, token(metadata), req.parameters);
      return {};
    }),
    RepositoryModelUnload: unary(async (req: { model_name: string; parameters: Record<string, unknown> }, metadata) => {
      await ctx.control.unload(req.model_name, token(metadata), req.parameters);
      return {};
    }),
  });
  return server;
}

function grpcInputs(inputs: GrpcTensor[], raw: Buffer[]): InputTensor[] {
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw badRequest(`raw_input_contents holds ${raw.length} entries for ${inputs.length} inputs: expected one per input, in input order`);
  }
  return inputs.map((t, i) => {
    const shape = t.shape.map(Number);
    if (raw.length > 0) return { name: t.name, datatype: t.datatype, shape, bytes: raw[i], values: null };
    const field = CONTENTS_FIELD[t.datatype];
    return { name: t.name, datatype: t.datatype, shape, bytes: null, values: field && t.contents ? t.contents[field] : [] };
  });
}
