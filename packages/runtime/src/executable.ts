// Executable: a loaded artifact ready to run. Holds the resolved devices, the
// loaded kernel modules, constant tensors (views into the artifact bytes) and
// the validated bytecode; `call`/`getFunction` run VM functions.
import type { Artifact } from './artifact/format.js';
import { cpu, type Device, deviceName, wrapHostMemory } from './device/device.js';
import { RuntimeErrorCodes, runtimeError } from './errors.js';
import type { MemoryPool } from './memory/pool.js';
import type {
  JsKernels,
  KernelFunction,
  KernelModule,
  LoaderContext,
  ModuleLoader,
} from './module/kernel-module.js';
import { Tensor } from './tensor.js';
import type { BuiltinFunction } from './vm/builtins.js';
import type { ParamSig, ValueSig, VMFunction } from './vm/bytecode.js';
import { Interpreter, type KernelProfileEntry, type VMEnvironment } from './vm/interpreter.js';
import { validateFunction } from './vm/validate.js';
import { describeValue, Shape, type Value } from './vm/value.js';

export interface FunctionInfo {
  readonly name: string;
  readonly params: readonly ParamSig[];
  readonly ret: ValueSig;
}

/** Services the executable borrows from its runtime. */
export interface ExecutableHost {
  resolveDevice(spec: string): Device;
  loader(kind: string): ModuleLoader | undefined;
  builtin(name: string): BuiltinFunction | undefined;
  pool(device: Device): MemoryPool;
}

export interface ExecutableOptions {
  readonly source: string;
  readonly jsModules: Readonly<Record<string, JsKernels | KernelModule>>;
}

export class Executable {
  readonly kilnVersion: string;
  readonly target: string;
  readonly source: string;
  readonly devices: readonly Device[];
  readonly constants: readonly Tensor[];
  readonly metadata: Artifact['metadata'];
  private readonly modules = new Map<string, KernelModule>();
  private readonly funcs = new Map<string, VMFunction>();
  private readonly kernels = new Map<string, KernelFunction>();
  private readonly interp: Interpreter;
  private disposed = false;

  constructor(artifact: Artifact, host: ExecutableHost, options: ExecutableOptions) {
    this.source = options.source;
    this.kilnVersion = artifact.kilnVersion;
    this.target = artifact.target;
    this.metadata = artifact.metadata;
    this.devices = (artifact.devices.length ? artifact.devices : ['cpu:0']).map((d) => host.resolveDevice(d));
    // Constants view the artifact bytes (host memory) in place; a constant placed on
    // another device would be copied by `to_device` bytecode.
    this.constants = artifact.constants.map(
      (c) =>
        new Tensor({
          storage: wrapHostMemory(cpu, c.data.buffer, c.data.byteOffset, c.data.byteLength),
          dtype: c.dtype,
          shape: c.shape,
        }),
    );
    for (const f of artifact.functions) {
      if (this.funcs.has(f.name))
        runtimeError(RuntimeErrorCodes.BYTECODE_INVALID, `${this.source}: duplicate function '${f.name}'`);
      this.funcs.set(f.name, f);
    }
    try {
      const ctx: LoaderContext = { source: this.source, jsModules: options.jsModules };
      for (const entry of artifact.kernelModules) {
        if (!(entry.device >= 0 && entry.device < this.devices.length)) {
          runtimeError(
            RuntimeErrorCodes.BYTECODE_INVALID,
            `${this.source}: kernel module '${entry.name}' names device ${entry.device}`,
          );
        }
        const loader = host.loader(entry.kind);
        if (!loader) {
          runtimeError(
            RuntimeErrorCodes.UNKNOWN_LOADER,
            `${this.source}: no loader for kernel module kind '${entry.kind}' (module '${entry.name}'); register one with runtime.registerLoader`,
          );
        }
        this.modules.set(entry.name, loader(entry, ctx));
      }
      for (const f of this.funcs.values()) {
        validateFunction(f, {
          source: this.source,
          functions: new Set(this.funcs.keys()),
          numConstants: this.constants.length,
          numDevices: this.devices.length,
          hasBuiltin: (n) => host.builtin(n) !== undefined,
          checkKernel: (m, s, where) => void this.resolveKernel(m, s, where),
        });
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
    const env: VMEnvironment = {
      functions: this.funcs,
      constants: this.constants,
      devices: this.devices,
      kernel: (m, s) => this.kernels.get(`${m}\0${s}`) ?? this.resolveKernel(m, s, this.source),
      builtin: (n) =>
        host.builtin(n) ?? runtimeError(RuntimeErrorCodes.UNKNOWN_BUILTIN, `unknown builtin '${n}'`),
      pool: (d) => host.pool(d),
    };
    this.interp = new Interpreter(env);
  }

  private resolveKernel(module: string, symbol: string, where: string): KernelFunction {
    const key = `${module}\0${symbol}`;
    const hit = this.kernels.get(key);
    if (hit) return hit;
    const m = this.modules.get(module);
    if (!m) runtimeError(RuntimeErrorCodes.UNKNOWN_KERNEL, `${where}: unknown kernel module '${module}'`);
    const f = m.getFunction(symbol);
    if (!f)
      runtimeError(
        RuntimeErrorCodes.UNKNOWN_KERNEL,
        `${where}: kernel '${symbol}' not found in module '${module}'`,
      );
    this.kernels.set(key, f);
    return f;
  }

  /** The callable functions with their parameter and return signatures. */
  functions(): FunctionInfo[] {
    return [...this.funcs.values()].map((f) => ({ name: f.name, params: f.params, ret: f.ret }));
  }

  /** A JS function running VM function `name`. Throws UNKNOWN_FUNCTION. */
  getFunction(name: string): (...inputs: Value[]) => Value {
    const fn = this.funcs.get(name);
    if (!fn) {
      runtimeError(
        RuntimeErrorCodes.UNKNOWN_FUNCTION,
        `${this.source}: no function '${name}' (has: ${[...this.funcs.keys()].join(', ')})`,
      );
    }
    return (...inputs) => {
      if (this.disposed)
        runtimeError(RuntimeErrorCodes.INVALID_ARGUMENT, `${this.source}: executable was disposed`);
      checkInputs(fn, inputs, this.devices);
      return this.interp.invoke(fn, inputs);
    };
  }

  /**
   * Turn the per-kernel timer on (collection starts empty) or off. While on, every
   * kernel call is timed; `kernelProfile()` reports the totals.
   */
  setProfiling(on: boolean): void {
    this.interp.profile = on ? new Map() : undefined;
  }

  /** Per-kernel call counts and total milliseconds since profiling was turned on, slowest first. */
  kernelProfile(): KernelProfileEntry[] {
    const p = this.interp.profile;
    if (!p) return [];
    return [...p.values()].map((e) => ({ ...e })).sort((a, b) => b.ms - a.ms);
  }

  /** Runs function `name` on `inputs` and returns its result (tensors, tuples as arrays, shapes, scalars). */
  call(name: string, ...inputs: Value[]): Value {
    return this.getFunction(name)(...inputs);
  }

  /** Unloads kernel modules (native libraries, temp files). The executable is unusable afterwards. */
  dispose(): void {
    this.disposed = true;
    for (const m of this.modules.values()) m.dispose?.();
    this.modules.clear();
    this.kernels.clear();
  }
}

/** Cheap checks at the API boundary: arity, value kinds, devices. Dims/dtypes are checked by MatchShape bytecode. */
function checkInputs(fn: VMFunction, inputs: readonly Value[], devices: readonly Device[]): void {
  if (inputs.length !== fn.params.length) {
    runtimeError(
      RuntimeErrorCodes.ARITY_MISMATCH,
      `function '${fn.name}' takes ${fn.params.length} argument(s) (${fn.params.map((p) => p.name).join(', ')}), got ${inputs.length}`,
    );
  }
  fn.params.forEach((p, i) => {
    const v = inputs[i];
    const sig = p.sig;
    const bad: (what: string) => never = (what) =>
      runtimeError(
        RuntimeErrorCodes.TYPE_MISMATCH,
        `function '${fn.name}', argument '${p.name}': expected ${what}, got ${describeValue(v)}`,
      );
    if (sig.kind === 'tensor') {
      if (!(v instanceof Tensor)) bad('a tensor');
      const want = sig.device === undefined ? undefined : devices[sig.device];
      if (want && v.device !== want) {
        runtimeError(
          RuntimeErrorCodes.DEVICE_MISMATCH,
          `function '${fn.name}', argument '${p.name}': expected a tensor on ${deviceName(want)}, got one on ${deviceName(v.device)}`,
        );
      }
    } else if (sig.kind === 'shape' && !(v instanceof Shape)) bad('a shape');
    else if (sig.kind === 'tuple' && !Array.isArray(v)) bad('a tuple (array)');
    else if (
      sig.kind === 'scalar' &&
      typeof v !== 'number' &&
      typeof v !== 'bigint' &&
      typeof v !== 'boolean'
    )
      bad(`a ${sig.dtype} scalar`);
  });
}
