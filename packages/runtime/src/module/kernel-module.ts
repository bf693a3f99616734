// Kernel modules: compiled kernels (a shared library, PTX, SPIR-V, ... or plain
// JS functions) looked up by symbol. Loaders are pluggable per runtime instance:
// a backend registers the loader for its module kind (`registerLoader`).
import { RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export type KernelArg = Tensor | number | bigint | boolean;

/** A kernel: destination-passing (outputs are among the args, already allocated); returns nothing. */
export type KernelFunction = (args: readonly KernelArg[]) => void;

export interface KernelModule {
  readonly kind: string;
  getFunction(symbol: string): KernelFunction | undefined;
  /** Releases native resources (library handles, temp files). Idempotent. */
  dispose?(): void;
}

/**
 * C argument kinds a native kernel may take: `ptr` is a tensor's element-0 address
 * (no copy), `dltensor` a `DLTensor*` describing the tensor (shape, strides, dtype).
 */
export type NativeArgKind = 'ptr' | 'dltensor' | 'i32' | 'i64' | 'f32' | 'f64';
/** `i32` return: 0 = success, anything else raises KERNEL_FAILED (TVM's convention). */
export type NativeRetKind = 'void' | 'i32';

export interface KernelSignature {
  readonly args: readonly NativeArgKind[];
  readonly ret?: NativeRetKind;
  /**
   * The native symbol takes a single pointer to an array of 8-byte slots, one per entry
   * of `args` (pointers and integers as little-endian 64-bit values, f32/f64 at the
   * slot's start), instead of the arguments themselves: kernels with more parameters
   * than a native FFI call can carry.
   */
  readonly packed?: boolean;
}

/** JSON-compatible value (manifest metadata). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };

/** How an artifact records one kernel module. */
export interface KernelModuleEntry {
  /** Name referenced by `CallKernel.module`. */
  readonly name: string;
  /** Loader kind: `cpu-so`, `js`, or a plugin's (`cuda-ptx`, `vulkan-spirv`, ...). */
  readonly kind: string;
  /** Index into the artifact's device list. */
  readonly device: number;
  /** Native signature per exported symbol (needed by `cpu-so`; informative for `js`). */
  readonly symbols: Readonly<Record<string, KernelSignature>>;
  /** The library bytes (`.so`, PTX, ...); absent for `js`. */
  readonly data?: Uint8Array;
  readonly meta?: Readonly<Record<string, JsonValue>>;
}

/** A map of JS kernels, the payload of a `js` module. */
export type JsKernels = Readonly<Record<string, KernelFunction>>;

export interface LoaderContext {
  /** The artifact's file name (or `<bytes>`), for error messages. */
  readonly source: string;
  /** `js` module implementations supplied at load time, by module name. */
  readonly jsModules: Readonly<Record<string, JsKernels | KernelModule>>;
}

export type ModuleLoader = (entry: KernelModuleEntry, ctx: LoaderContext) => KernelModule;

const C_TYPES: Record<string, NativeArgKind> = {
  int32_t: 'i32',
  int: 'i32',
  uint32_t: 'i32',
  int64_t: 'i64',
  uint64_t: 'i64',
  long: 'i64',
  size_t: 'i64',
  ptrdiff_t: 'i64',
  float: 'f32',
  double: 'f64',
};

/**
 * Parse a C declaration such as `void add(float*, const float* b, int64_t n)` into
 * its symbol and signature. `DLTensor*` is `dltensor`, any other pointer `ptr`. Throws INVALID_ARGUMENT.
 */
export function parseCSignature(decl: string): { symbol: string; signature: KernelSignature } {
  const m = /^\s*([A-Za-z_][\w\s]*?)\s*(\**)\s*([A-Za-z_]\w*)\s*\(([^)]*)\)\s*;?\s*$/.exec(decl);
  if (!m || m[2])
    runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `cannot parse kernel declaration '${decl}'`);
  const retType = m[1].trim();
  const ret: NativeRetKind | undefined =
    retType === 'void' ? 'void' : C_TYPES[retType] === 'i32' ? 'i32' : undefined;
  if (!ret)
    runtimeError(
      RuntimeErrorCodes.INVALID_ARGUMENT,
      `kernel '${m[3]}' must return void or int32_t, not '${retType}'`,
    );
  const body = m[4].trim();
  const params = body === '' || body === 'void' ? [] : body.split(',');
  const args = params.map((p): NativeArgKind => {
    if (p.includes('*')) return /\bDLTensor\b/.test(p) ? 'dltensor' : 'ptr';
    const words = p
      .replace(/\b(const|volatile|restrict|__restrict__|signed|unsigned)\b/g, ' ')
      .trim()
      .split(/\s+/);
    // The type is the first word; a trailing word is the parameter name.
    const kind = C_TYPES[words[0]] ?? (words[0] === 'long' && words[1] === 'long' ? 'i64' : undefined);
    if (!kind)
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `unsupported parameter type '${p.trim()}' in '${decl}'`,
      );
    return kind;
  });
  return { symbol: m[3], signature: { args, ret } };
}

function isKernelModule(x: JsKernels | KernelModule): x is KernelModule {
  return (
    typeof (x as KernelModule).getFunction === 'function' && typeof (x as KernelModule).kind === 'string'
  );
}

/** Loader for `js` modules: the implementation is supplied at load time under the module's name. */
export const jsLoader: ModuleLoader = (entry, ctx) => {
  const impl = ctx.jsModules[entry.name];
  if (!impl) {
    runtimeError(
      RuntimeErrorCodes.MODULE_LOAD,
      `${ctx.source}: js kernel module '${entry.name}' was not supplied (pass it in load options as jsModules['${entry.name}'])`,
    );
  }
  return isKernelModule(impl) ? impl : jsKernelModule(impl);
};

/** Wrap a map of JS functions as a KernelModule. */
export function jsKernelModule(kernels: JsKernels): KernelModule {
  return {
    kind: 'js',
    getFunction: (symbol) => (Object.hasOwn(kernels, symbol) ? kernels[symbol] : undefined),
  };
}
