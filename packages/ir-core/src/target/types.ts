// Target descriptions: plain, JSON-serialisable objects naming what code is generated
// for. Built-in kinds are typed; plugin kinds carry their options in `attrs`.

/** A value of a target option as it survives a JSON round trip. */
export type TargetAttrValue = string | number | boolean | readonly string[];

interface TargetCommon {
  /** Generic tags schedules and strategies dispatch on (`cpu`, `gpu`, `cuda`, ...). */
  readonly keys: readonly string[];
}

export interface LLVMTarget extends TargetCommon {
  readonly kind: 'llvm';
  /** LLVM target triple, e.g. `x86_64-linux-gnu`. */
  readonly mtriple: string;
  /** LLVM CPU name, e.g. `znver3`, `x86-64-v3`, `neoverse-n1`, `generic`. */
  readonly mcpu: string;
  /** LLVM feature strings with their sign, e.g. `+avx2`, `-avx512f`. */
  readonly features: readonly string[];
  readonly numThreads: number;
}

export interface CUDATarget extends TargetCommon {
  readonly kind: 'cuda';
  /** Compute capability, e.g. `sm_90`. */
  readonly arch: string;
  readonly maxThreadsPerBlock: number;
  readonly maxSharedMemoryPerBlock: number;
  readonly warpSize: number;
}

export interface VulkanTarget extends TargetCommon {
  readonly kind: 'vulkan';
  readonly maxThreadsPerBlock: number;
  readonly supportsFloat16: boolean;
  readonly supportsInt64: boolean;
}

export interface MetalTarget extends TargetCommon {
  readonly kind: 'metal';
  readonly maxThreadsPerBlock: number;
  /** SIMD-group width. */
  readonly warpSize: number;
}

/** A target of a kind registered by a plugin; its options are in `attrs`. */
export interface PluginTarget extends TargetCommon {
  readonly kind: string;
  readonly attrs: Readonly<Record<string, TargetAttrValue>>;
}

export type BuiltinTarget = LLVMTarget | CUDATarget | VulkanTarget | MetalTarget;
/**
 * Any target. Narrow built-in kinds with the `isLLVMTarget`-style guards: a plain
 * `kind === 'llvm'` test cannot exclude plugin targets, whose kind is any string.
 */
export type Target = BuiltinTarget | PluginTarget;
