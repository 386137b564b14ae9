/**
 * Builds the ranking model's dense part (network.ts) as an ONNX model file, opset 13: Gemm/Relu for the
 * MLPs, Concat + Transpose + MatMul + Gather for the dot interaction, Sigmoid at the end. The weights
 * stay in weights.bin beside the model, referenced as ONNX external data, so the model file holds only
 * the graph and ONNX Runtime reads the same bytes the JS reference reads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from './dataset.js';
import { ATTR_INT, ATTR_INTS, ONNX_FLOAT, ONNX_INT64, encodeModel } from './onnx-proto.js';
import { INTERACTION_DIM, WEIGHTS_FILE, inputShapes, interactionVectors, pairIndices, type StoredTensor } from './network.js';

export const MODEL_FILE = 'dlrm.onnx';
export const OUTPUT_NAME = 'score';
const OPSET = 13;
const IR_VERSION = 8;

type Node = { op_type: string; input: string[]; output: string[]; name: string; attribute?: object[] };

/** Writes `dlrm.onnx` into `dir`, whose weights.bin and weights.json (saveWeights) it references. */
export function writeOnnxModel(dir: string, l: Layout, weights: StoredTensor[]): string {
  const nodes: Node[] = [];
  const node = (op: string, input: string[], output: string, attribute?: object[]) => {
    nodes.push({ op_type: op, input, output: [output], name: `${op}_${nodes.length}`, ...(attribute ? { attribute } : {}) });
    return output;
  };
  const int = (name: string, i: number) => ({ name, type: ATTR_INT, i });
  const ints = (name: string, v: number[]) => ({ name, type: ATTR_INTS, ints: v });
  // Gemm + Relu per layer; the last layer's activation is `last`, its output named `out`.
  const mlp = (x: string, prefix: string, layers: number, last: 'Relu' | 'Sigmoid', out: string) => {
    for (let i = 0; i < layers; i++) {
      x = node('Gemm', [x, `${prefix}${i}.weight`, `${prefix}${i}.bias`], `${prefix}${i}.linear`);
      x = node(i < layers - 1 ? 'Relu' : last, [x], i < layers - 1 ? `${prefix}${i}.relu` : out);
    }
    return x;
  };
  const layers = (prefix: string) => weights.filter((w) => w.name.startsWith(prefix) && w.name.endsWith('.weight')).length;

  const bottom = mlp('dense', 'bottom', layers('bottom'), 'Relu', 'bottom.out');
  // Dot interaction: stack [bottom output, the dim-16 embeddings], all pairwise dot products, keep i > j.
  const n = interactionVectors(l);
  const stacked = node('Concat', [node('Unsqueeze', [bottom, 'axis1'], 'bottom.unsqueezed'), 'emb16'], 'interaction.vectors', [int('axis', 1)]);
  const dots = node('MatMul', [stacked, node('Transpose', [stacked], 'interaction.transposed', [ints('perm', [0, 2, 1])])], 'interaction.dots');
  const flat = node('Reshape', [dots, 'interaction.flat_shape'], 'interaction.flat');
  const pairs = node('Gather', [flat, 'interaction.pairs'], 'interaction.pairs_out', [int('axis', 1)]);
  const wide = ['emb64', 'pooled64'].map((input) => node('Flatten', [input], `${input}.flat`, [int('axis', 1)]));
  const joined = node('Concat', [bottom, pairs, ...wide], 'top.input', [int('axis', 1)]);
  mlp(joined, 'top', layers('top'), 'Sigmoid', OUTPUT_NAME);

  const constant = (name: string, values: number[]) => ({ name, data_type: ONNX_INT64, dims: [values.length], int64_data: values });
  const external = (w: StoredTensor) => ({
    name: w.name,
    data_type: ONNX_FLOAT,
    dims: w.shape,
    data_location: 1, // EXTERNAL
    external_data: [
      { key: 'location', value: WEIGHTS_FILE },
      { key: 'offset', value: String(w.offset) },
      { key: 'length', value: String(w.length) },
    ],
  });
  const tensorInfo = (name: string, shape: (number | string)[]) => ({
    name,
    type: { tensor_type: { elem_type: ONNX_FLOAT, shape: { dim: shape.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  });

  const bytes = encodeModel({
    ir_version: IR_VERSION,
    producer_name: 'hps-node examples/ranking',
    producer_version: '1',
    doc_string: `DLRM-style ranking model: bottom MLP, dot interaction of ${n} vectors of dim ${INTERACTION_DIM}, top MLP, sigmoid`,
    opset_import: [{ domain: '', version: OPSET }],
    graph: {
      name: 'dlrm',
      node: nodes,
      initializer: [
        ...weights.map(external),
        constant('axis1', [1]),
        constant('interaction.flat_shape', [-1, n * n]),
        constant('interaction.pairs', pairIndices(n)),
      ],
      input: inputShapes(l).map((i) => tensorInfo(i.name, ['batch', ...i.shape])),
      output: [tensorInfo(OUTPUT_NAME, ['batch', 1])],
    },
  });
  const path = join(dir, MODEL_FILE);
  writeFileSync(path, bytes);
  return path;
}
