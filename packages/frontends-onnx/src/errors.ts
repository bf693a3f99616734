// Stable error codes of the ONNX frontend (tests assert these, not the wording).
export const OnnxErrorCodes = {
  /** The bytes are not a ModelProto / TensorProto. */
  ONNX_PARSE: 'ONNX_PARSE',
  /** The model is structurally wrong: undefined input, missing initializer, bad attribute. */
  ONNX_INVALID: 'ONNX_INVALID',
  /** Operators (or op versions) without a converter; lists all of them for the whole model. */
  ONNX_UNSUPPORTED_OP: 'ONNX_UNSUPPORTED_OP',
  /** An element type Kiln has no dtype for (string, complex, float8, int4). */
  ONNX_UNSUPPORTED_DTYPE: 'ONNX_UNSUPPORTED_DTYPE',
  /** A value that Kiln needs at compile time (a shape, a slice bound) is only known at run time. */
  ONNX_DYNAMIC: 'ONNX_DYNAMIC',
  /** The model's opset is outside what this importer knows. */
  ONNX_OPSET: 'ONNX_OPSET',
  /** External data file missing or too short. */
  ONNX_EXTERNAL_DATA: 'ONNX_EXTERNAL_DATA',
} as const;
export type OnnxErrorCode = (typeof OnnxErrorCodes)[keyof typeof OnnxErrorCodes];
