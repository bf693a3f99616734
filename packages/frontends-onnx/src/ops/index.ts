// The built-in converter table and the newest opset it knows.
import { ConverterTable } from '../registry.js';
import { ATTENTION_CONVERTERS } from './attention.js';
import { CONTROL_CONVERTERS } from './control.js';
import { ELEMENTWISE_CONVERTERS } from './elementwise.js';
import { EXTRA_CONVERTERS } from './extra.js';
import { FLEX_ATTENTION_CONVERTERS } from './flex_attention.js';
import { MISC_CONVERTERS } from './misc.js';
import { ML_CONVERTERS } from './ml.js';
import { NN_CONVERTERS } from './nn.js';
import { QUANT_CONVERTERS } from './quant.js';
import { REDUCE_CONVERTERS } from './reduce.js';
import { RNN_CONVERTERS } from './rnn.js';
import { SEQUENCE_CONVERTERS } from './sequence.js';
import { TENSOR_CONVERTERS } from './tensor.js';
import { TFIDF_CONVERTERS } from './tfidf.js';

/** Newest default-domain opset of the onnx release the conformance suite is generated with. */
export const MAX_OPSET = 28;
export const MIN_OPSET = 7;

export function createConverterTable(): ConverterTable {
  return new ConverterTable().add(
    ...ELEMENTWISE_CONVERTERS,
    ...TENSOR_CONVERTERS,
    ...NN_CONVERTERS,
    ...REDUCE_CONVERTERS,
    ...QUANT_CONVERTERS,
    ...RNN_CONVERTERS,
    ...CONTROL_CONVERTERS,
    ...MISC_CONVERTERS,
    ...EXTRA_CONVERTERS,
    ...ATTENTION_CONVERTERS,
    ...FLEX_ATTENTION_CONVERTERS,
    ...SEQUENCE_CONVERTERS,
    ...TFIDF_CONVERTERS,
    ...ML_CONVERTERS,
  );
}
export const DEFAULT_CONVERTERS: ConverterTable = createConverterTable();
