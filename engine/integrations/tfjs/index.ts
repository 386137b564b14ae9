// TensorFlow.js layers over the parameter server (the package export `hps-node/tfjs`), the counterparts
// of HPS's TensorFlow plugin layers. A module of its own, so that importing `hps-node` never loads TF.js.
import * as tf from '@tensorflow/tfjs';
import { HpsLookupLayer } from './lookup-layer.js';
import { HpsSparseLookupLayer } from './sparse-lookup-layer.js';

tf.serialization.registerClass(HpsLookupLayer);
tf.serialization.registerClass(HpsSparseLookupLayer);

export { HpsLookupLayer, type HpsLookupLayerArgs } from './lookup-layer.js';
export { HpsSparseLookupLayer, type HpsSparseLookupLayerArgs } from './sparse-lookup-layer.js';
