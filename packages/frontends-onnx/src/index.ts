// @kiln/frontends-onnx: ONNX importer to Relax. `fromOnnx(bytes | path, options)` returns
// an IRModule whose `main` takes the graph inputs; converters are per (op, opset).
export type { NodeContext, OnnxValue } from './context.js';
export { type OnnxErrorCode, OnnxErrorCodes } from './errors.js';
export { onnxFrontend } from './frontend.js';
export { type HostTensor, hostTensor, toStorage } from './host.js';
export {
  type FromOnnxOptions,
  fromOnnx,
  onnxInputs,
  onnxOutputs,
  sanitizeName,
  type UnsupportedOp,
} from './importer.js';
export { createConverterTable, DEFAULT_CONVERTERS, MAX_OPSET, MIN_OPSET } from './ops/index.js';
export { decodeTensor, kilnDType, ONNX_DTYPES, onnxDTypeOf, toOnnxRawData } from './proto.js';
export { type Converted, type ConverterDef, ConverterTable } from './registry.js';
