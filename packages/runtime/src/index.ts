// @kiln/runtime: the deployable runtime: tensors, devices, kernel modules, the VM
// and the artifact format. Imports nothing from the compiler.

export { crc32 } from './artifact/crc32.js';
export {
  ARTIFACT_ALIGNMENT,
  ARTIFACT_FORMAT_VERSION,
  ARTIFACT_MAGIC,
  type Artifact,
  type ArtifactConstant,
  type ArtifactManifest,
  type SectionInfo,
} from './artifact/format.js';
export { type ArtifactSummary, inspectArtifact } from './artifact/inspect.js';
export { type ReadArtifact, type ReadOptions, readArtifact, readArtifactFile } from './artifact/reader.js';
export { type WriteFileOptions, writeArtifact, writeArtifactFile } from './artifact/writer.js';
export {
  CPU_ALIGNMENT,
  CpuDevice,
  cpu,
  type Device,
  type DeviceBuffer,
  DeviceRegistry,
  type DeviceType,
  DLDeviceType,
  deviceName,
  hostBytes,
  wrapHostMemory,
} from './device/device.js';
export {
  type DLDataType,
  DLDataTypeCode,
  type DTypeInfo,
  dtypeInfo,
  dtypeOfTypedArray,
  isLowPrecisionFloatKind,
  type LowPrecisionFloatKind,
  type TypedArray,
} from './dtype.js';
export {
  isRuntimeError,
  type KnownRuntimeErrorCode,
  RuntimeError,
  type RuntimeErrorCode,
  RuntimeErrorCodes,
} from './errors.js';
export { Executable, type FunctionInfo } from './executable.js';
export { MemoryPool, type PoolStats, sizeClass } from './memory/pool.js';
export { minifloatBitsToNumber, numberToMinifloatBits } from './minifloat.js';
export { cpuSoLoader } from './module/cpu-so.js';
export {
  type JsKernels,
  type JsonValue,
  jsKernelModule,
  type KernelArg,
  type KernelFunction,
  type KernelModule,
  type KernelModuleEntry,
  type KernelSignature,
  type LoaderContext,
  type ModuleLoader,
  type NativeArgKind,
  type NativeRetKind,
  parseCSignature,
} from './module/kernel-module.js';
export { createRuntime, type LoadOptions, Runtime, type RuntimeOptions } from './runtime.js';
export {
  contiguousStrides,
  type DLPackDescriptor,
  empty,
  numElements,
  Tensor,
  type TensorInit,
  zeros,
} from './tensor.js';
export { FunctionBuilder, type Label } from './vm/builder.js';
export { type BuiltinContext, type BuiltinFunction, DEFAULT_BUILTINS } from './vm/builtins.js';
export * from './vm/bytecode.js';
export { disassemble, formatIntExpr, formatSig } from './vm/disasm.js';
export type { KernelProfileEntry } from './vm/interpreter.js';
export { Shape, type Value } from './vm/value.js';
