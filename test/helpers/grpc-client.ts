import * as grpc from '@grpc/grpc-js';
import { inferenceService } from '../../server/grpc-service.js';

type Call = (method: string, request: object, metadata?: Record<string, string>) => Promise<Record<string, unknown>>;

/** A @grpc/grpc-js client of inference.GRPCInferenceService built from server/proto/grpc_service.proto. */
export function grpcClient(port: number): { call: Call; close: () => void } {
  const Client = inferenceService();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 }) as unknown as Record<string, Function> & grpc.Client;
  const call: Call = (method, request, metadata = {}) => new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    client[method].call(client, request, md, (e: grpc.ServiceError | null, res: Record<string, unknown>) => (e ? reject(e) : resolve(res)));
  });
  return { call, close: () => client.close() };
}
