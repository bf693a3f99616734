// @kiln/runtime: the deployable runtime: tensors, devices, kernel modules, the VM
// and the artifact format. Imports nothing from the compiler.
export { RuntimeError, RuntimeErrorCodes, isRuntimeError, type RuntimeErrorCode, type KnownRuntimeErrorCode } from './errors.js';
export { dtypeInfo, dtypeOfTypedArray, DLDataTypeCode, type DLDataType, type DTypeInfo, type TypedArray } from './dtype.js';
export { Tensor, contiguousStrides, numElements, type DLPackDescriptor, type TensorInit } from './tensor.js';
export {
  cpu,
  CpuDevice,
  CPU_ALIGNMENT,
  DeviceRegistry,
  DLDeviceType,
  deviceName,
  hostBytes,
  wrapHostMemory,
  type Device,
  type DeviceBuffer,
  type DeviceType,
} from './device/device.js';
export { MemoryPool, sizeClass, type PoolStats } from './memory/pool.js';
export {
  jsKernelModule,
  parseCSignature,
  type JsKernels,
  type JsonValue,
  type KernelArg,
  type KernelFunction,
  type KernelModule,
  type KernelModuleEntry,
  type KernelSignature,
  type LoaderContext,
  type ModuleLoader,
  type NativeArgKind,
  type NativeRetKind,
} from './module/kernel-module.js';
export { cpuSoLoader } from './module/cpu-so.js';
export * from './vm/bytecode.js';
export { Shape, type Value } from './vm/value.js';
export { DEFAULT_BUILTINS, type BuiltinContext, type BuiltinFunction } from './vm/builtins.js';
export { Executable, type FunctionInfo } from './executable.js';
export { Runtime, createRuntime, type LoadOptions, type RuntimeOptions } from './runtime.js';
export {
  ARTIFACT_ALIGNMENT,
  ARTIFACT_FORMAT_VERSION,
  ARTIFACT_MAGIC,
  type Artifact,
  type ArtifactConstant,
  type ArtifactManifest,
  type SectionInfo,
} from './artifact/format.js';
export { writeArtifact, writeArtifactFile, type WriteFileOptions } from './artifact/writer.js';
export { readArtifact, readArtifactFile, type ReadArtifact, type ReadOptions } from './artifact/reader.js';
export { crc32 } from './artifact/crc32.js';
