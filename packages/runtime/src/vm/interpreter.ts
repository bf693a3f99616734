// The register-based interpreter for validated bytecode (see bytecode.ts for
// the machine model). One JS call per VM frame. Memory: every buffer a frame
// allocates is tracked; at `Ret` the ones reachable from the returned value pass
// to the caller (or, at top level, leave the pool to the garbage collector) and
// the rest go back to the pool. An exception releases them all.
import type { Device, DeviceBuffer } from '../device/device.js';
import { dtypeInfo } from '../dtype.js';
import { RuntimeError, RuntimeErrorCodes, runtimeError } from '../errors.js';
import type { MemoryPool } from '../memory/pool.js';
import type { KernelArg, KernelFunction } from '../module/kernel-module.js';
import { numElements, Tensor } from '../tensor.js';
import type { BuiltinContext, BuiltinFunction } from './builtins.js';
import type { Arg, DimPattern, Instr, ShapeOperand, VMFunction } from './bytecode.js';
import { evalIntExpr, type ShapeHeap } from './int-expr.js';
import { collectStorages, describeValue, Shape, type Value } from './value.js';

/** What the interpreter needs from its executable. */
export interface VMEnvironment {
  readonly functions: ReadonlyMap<string, VMFunction>;
  readonly constants: readonly Tensor[];
  readonly devices: readonly Device[];
  kernel(module: string, symbol: string): KernelFunction;
  builtin(name: string): BuiltinFunction;
  pool(device: Device): MemoryPool;
}

/** Per-kernel wall time collected while profiling is on (see Executable.setProfiling). */
export interface KernelProfileEntry {
  /** `module.symbol` of the kernel. */
  readonly kernel: string;
  calls: number;
  /** Total milliseconds spent inside the kernel (performance.now around each call). */
  ms: number;
}

interface Frame {
  readonly fn: VMFunction;
  readonly regs: (Value | undefined)[];
  readonly heap: ShapeHeap;
  readonly storage: (DeviceBuffer | undefined)[];
  /** Pool buffers this frame allocated and still owns. */
  readonly owned: Set<DeviceBuffer>;
  /** Buffers released early by KillStorage; tensors on them must not be used again. */
  killed?: Set<DeviceBuffer>;
}

const MAX_DEPTH = 1000;

export class Interpreter {
  private depth = 0;
  /** Set to collect per-kernel times (opt-in: the timer costs two clock reads per call). */
  profile: Map<string, KernelProfileEntry> | undefined;
  constructor(private readonly env: VMEnvironment) {}

  /** Runs `fn` on `args`; at top level (`callerOwned` undefined) escaping memory is detached from the pool. */
  invoke(fn: VMFunction, args: readonly Value[], callerOwned?: Set<DeviceBuffer>): Value {
    if (args.length !== fn.params.length) {
      runtimeError(
        RuntimeErrorCodes.ARITY_MISMATCH,
        `function '${fn.name}' takes ${fn.params.length} argument(s) (${fn.params.map((p) => p.name).join(', ')}), got ${args.length}`,
      );
    }
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      runtimeError(
        RuntimeErrorCodes.INVALID_ARGUMENT,
        `function '${fn.name}': VM call depth exceeds ${MAX_DEPTH}`,
      );
    }
    const frame: Frame = {
      fn,
      regs: new Array<Value | undefined>(fn.numRegisters),
      heap: new Array<number | undefined>(fn.heapSize),
      storage: new Array<DeviceBuffer | undefined>(fn.numStorageSlots),
      owned: new Set(),
    };
    for (let i = 0; i < args.length; i++) frame.regs[i] = args[i];
    let result: Value | undefined;
    let ok = false;
    try {
      result = this.run(frame);
      ok = true;
      return result;
    } finally {
      this.depth--;
      this.finish(frame, ok ? result : undefined, callerOwned);
    }
  }

  private finish(frame: Frame, result: Value | undefined, callerOwned?: Set<DeviceBuffer>): void {
    const escaping = new Set<unknown>();
    collectStorages(result, escaping);
    for (const buf of frame.owned) {
      const pool = this.env.pool(buf.device);
      if (!escaping.has(buf)) pool.release(buf);
      else if (callerOwned) callerOwned.add(buf);
      else pool.detach(buf);
    }
    frame.owned.clear();
  }

  private where(frame: Frame, pc: number): () => string {
    return () => `function '${frame.fn.name}' pc ${pc}`;
  }

  private alloc(frame: Frame, device: Device, nbytes: number): DeviceBuffer {
    const buf = this.env.pool(device).allocate(nbytes);
    frame.owned.add(buf);
    frame.killed?.delete(buf);
    return buf;
  }

  private shape(frame: Frame, s: ShapeOperand, pc: number): readonly number[] {
    if (s.kind === 'dims') return s.dims.map((d) => evalIntExpr(d, frame.heap, this.where(frame, pc)));
    const v = frame.regs[s.reg];
    if (!(v instanceof Shape)) {
      runtimeError(
        RuntimeErrorCodes.TYPE_MISMATCH,
        `function '${frame.fn.name}' pc ${pc}: expected a shape in r${s.reg}, got ${describeValue(v)}`,
      );
    }
    return v.dims;
  }

  private argValue(frame: Frame, a: Arg, pc: number): Value {
    switch (a.kind) {
      case 'reg': {
        const v = frame.regs[a.reg];
        if (v === undefined)
          runtimeError(
            RuntimeErrorCodes.BYTECODE_INVALID,
            `function '${frame.fn.name}' pc ${pc}: r${a.reg} read before it was written`,
          );
        return v;
      }
      case 'imm':
      case 'str':
        return a.value;
      case 'dim':
        return evalIntExpr(a.expr, frame.heap, this.where(frame, pc));
    }
  }

  private run(frame: Frame): Value {
    const { fn, regs, heap } = frame;
    const code = fn.code;
    const env = this.env;
    let pc = 0;
    while (pc < code.length) {
      const ins: Instr = code[pc];
      switch (ins.op) {
        case 'LoadConst':
          regs[ins.dst] = env.constants[ins.index];
          break;
        case 'LoadImm':
          regs[ins.dst] = ins.value;
          break;
        case 'Move':
          regs[ins.dst] = regs[ins.src];
          break;
        case 'AllocTensor': {
          const shape = this.shape(frame, ins.shape, pc);
          const device = env.devices[ins.device];
          const buf = this.alloc(frame, device, numElements(shape) * dtypeInfo(ins.dtype).bytes);
          regs[ins.dst] = new Tensor({ storage: buf, dtype: ins.dtype, shape });
          break;
        }
        case 'AllocStorage': {
          const bytes = evalIntExpr(ins.bytes, heap, this.where(frame, pc));
          frame.storage[ins.slot] = this.alloc(frame, env.devices[ins.device], bytes);
          break;
        }
        case 'AllocTensorFromStorage': {
          const buf = frame.storage[ins.slot];
          if (!buf)
            runtimeError(
              RuntimeErrorCodes.BYTECODE_INVALID,
              `function '${fn.name}' pc ${pc}: storage slot ${ins.slot} is empty`,
            );
          const offset = evalIntExpr(ins.offset, heap, this.where(frame, pc));
          const shape = this.shape(frame, ins.shape, pc);
          const need = offset + numElements(shape) * dtypeInfo(ins.dtype).bytes;
          if (offset < 0 || need > buf.nbytes) {
            runtimeError(
              RuntimeErrorCodes.OUT_OF_BOUNDS,
              `function '${fn.name}' pc ${pc}: tensor [${shape.join(', ')}] ${ins.dtype} at offset ${offset} exceeds storage slot ${ins.slot} (${buf.nbytes} bytes)`,
            );
          }
          regs[ins.dst] = new Tensor({ storage: buf, dtype: ins.dtype, shape, byteOffset: offset });
          break;
        }
        case 'KillStorage': {
          const buf = frame.storage[ins.slot];
          frame.storage[ins.slot] = undefined;
          if (buf && frame.owned.delete(buf)) {
            env.pool(buf.device).release(buf);
            if (!frame.killed) frame.killed = new Set();
            frame.killed.add(buf);
          }
          break;
        }
        case 'CallKernel': {
          const kernel = env.kernel(ins.module, ins.symbol);
          const args = new Array<KernelArg>(ins.args.length);
          for (let i = 0; i < args.length; i++) {
            const v = this.argValue(frame, ins.args[i], pc);
            if (
              !(v instanceof Tensor) &&
              typeof v !== 'number' &&
              typeof v !== 'bigint' &&
              typeof v !== 'boolean'
            ) {
              runtimeError(
                RuntimeErrorCodes.TYPE_MISMATCH,
                `function '${fn.name}' pc ${pc}: kernel '${ins.symbol}' argument ${i} must be a tensor or scalar, got ${describeValue(v)}`,
              );
            }
            if (
              frame.killed &&
              v instanceof Tensor &&
              frame.killed.has(v.storage) &&
              !frame.owned.has(v.storage)
            ) {
              runtimeError(
                RuntimeErrorCodes.BYTECODE_INVALID,
                `function '${fn.name}' pc ${pc}: kernel '${ins.symbol}' argument ${i} views storage released by KillStorage`,
              );
            }
            args[i] = v;
          }
          const prof = this.profile;
          const t0 = prof ? performance.now() : 0;
          try {
            kernel(args);
          } catch (e) {
            if (e instanceof RuntimeError) throw e;
            runtimeError(
              RuntimeErrorCodes.KERNEL_FAILED,
              `function '${fn.name}' pc ${pc}: kernel '${ins.module}.${ins.symbol}' failed: ${(e as Error)?.message ?? String(e)}`,
              {
                cause: e,
              },
            );
          }
          if (prof) {
            const key = `${ins.module}.${ins.symbol}`;
            let entry = prof.get(key);
            if (!entry) prof.set(key, (entry = { kernel: key, calls: 0, ms: 0 }));
            entry.calls++;
            entry.ms += performance.now() - t0;
          }
          break;
        }
        case 'CallBuiltin': {
          const b = env.builtin(ins.name);
          const args = ins.args.map((a) => this.argValue(frame, a, pc));
          const ctx: BuiltinContext = {
            func: fn.name,
            allocTensor: (shape, dtype, device) =>
              new Tensor({
                storage: this.alloc(frame, device, numElements(shape) * dtypeInfo(dtype).bytes),
                dtype,
                shape,
              }),
            device: (i) => {
              const d = env.devices[i];
              if (!d)
                runtimeError(
                  RuntimeErrorCodes.UNKNOWN_DEVICE,
                  `function '${fn.name}' pc ${pc}: device index ${i} out of range`,
                );
              return d;
            },
          };
          const r = b(args, ctx);
          if (ins.dst !== undefined) regs[ins.dst] = r;
          break;
        }
        case 'CallFunc': {
          const callee = env.functions.get(ins.func) as VMFunction;
          const args = ins.args.map((r) => {
            const v = regs[r];
            if (v === undefined)
              runtimeError(
                RuntimeErrorCodes.BYTECODE_INVALID,
                `function '${fn.name}' pc ${pc}: r${r} read before it was written`,
              );
            return v;
          });
          regs[ins.dst] = this.invoke(callee, args, frame.owned);
          break;
        }
        case 'MatchShape':
          this.matchShape(frame, ins);
          break;
        case 'ShapeExpr':
          heap[ins.dst] = evalIntExpr(ins.expr, heap, this.where(frame, pc));
          break;
        case 'MakeShape':
          regs[ins.dst] = new Shape(ins.dims.map((d) => evalIntExpr(d, heap, this.where(frame, pc))));
          break;
        case 'If':
          if (!truthy(regs[ins.cond], fn.name, pc)) {
            pc = ins.else;
            continue;
          }
          break;
        case 'Goto':
          pc = ins.target;
          continue;
        case 'Ret': {
          const v = regs[ins.src];
          if (v === undefined)
            runtimeError(
              RuntimeErrorCodes.BYTECODE_INVALID,
              `function '${fn.name}' pc ${pc}: returns unset r${ins.src}`,
            );
          if (frame.killed) {
            const escaping = new Set<unknown>();
            collectStorages(v, escaping);
            for (const b of frame.killed) {
              if (escaping.has(b) && !frame.owned.has(b)) {
                runtimeError(
                  RuntimeErrorCodes.BYTECODE_INVALID,
                  `function '${fn.name}' pc ${pc}: returns a tensor whose storage was released by KillStorage`,
                );
              }
            }
          }
          return v;
        }
      }
      pc++;
    }
    return runtimeError(
      RuntimeErrorCodes.BYTECODE_INVALID,
      `function '${fn.name}' ran past its last instruction without Ret`,
    );
  }

  private matchShape(frame: Frame, ins: Extract<Instr, { op: 'MatchShape' }>): void {
    const v = frame.regs[ins.reg];
    // Built only on failure: this runs on every call.
    const who = () =>
      `function '${ins.context.func}', ${ins.context.arg === 'return value' ? 'the return value' : `argument '${ins.context.arg}'`}`;
    let dims: readonly number[];
    if (ins.valueKind === 'tensor') {
      if (!(v instanceof Tensor))
        runtimeError(RuntimeErrorCodes.TYPE_MISMATCH, `${who()}: expected a tensor, got ${describeValue(v)}`);
      if (ins.dtype !== undefined && v.dtype !== dtypeInfo(ins.dtype).str) {
        runtimeError(
          RuntimeErrorCodes.DTYPE_MISMATCH,
          `${who()}: expected dtype ${ins.dtype}, got ${v.dtype}`,
          {
            details: { func: ins.context.func, arg: ins.context.arg, expected: ins.dtype, actual: v.dtype },
          },
        );
      }
      dims = v.shape;
    } else {
      if (!(v instanceof Shape))
        runtimeError(RuntimeErrorCodes.TYPE_MISMATCH, `${who()}: expected a shape, got ${describeValue(v)}`);
      dims = v.dims;
    }
    const pat = ins.dims;
    if (pat === undefined) return;
    if (dims.length !== pat.length) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `${who()}: expected ${pat.length} dimensions, got ${dims.length} ([${dims.join(', ')}])`,
        {
          details: {
            func: ins.context.func,
            arg: ins.context.arg,
            expectedNdim: pat.length,
            actualNdim: dims.length,
          },
        },
      );
    }
    for (let i = 0; i < pat.length; i++) this.matchDim(frame, pat[i], dims[i], i, who, dims, ins);
  }

  private matchDim(
    frame: Frame,
    p: DimPattern,
    actual: number,
    i: number,
    who: () => string,
    dims: readonly number[],
    ins: Extract<Instr, { op: 'MatchShape' }>,
  ): void {
    let expected: number;
    let label: string;
    switch (p.kind) {
      case 'any':
        return;
      case 'int':
        expected = p.value;
        label = String(p.value);
        break;
      case 'bind': {
        const bound = frame.heap[p.slot];
        if (bound === undefined) {
          frame.heap[p.slot] = actual;
          return;
        }
        expected = bound;
        label = `${p.name ?? frame.fn.heapNames?.[p.slot] ?? `h${p.slot}`} = ${bound}, bound earlier`;
        break;
      }
      case 'expr':
        expected = evalIntExpr(p.expr, frame.heap, who);
        label = `${p.name ?? 'expression'} = ${expected}`;
        break;
    }
    if (actual !== expected) {
      runtimeError(
        RuntimeErrorCodes.SHAPE_MISMATCH,
        `${who()}: dimension ${i} is ${actual}, expected ${label} (shape [${dims.join(', ')}])`,
        {
          details: { func: ins.context.func, arg: ins.context.arg, dim: i, expected, actual },
        },
      );
    }
  }
}

function truthy(v: Value | undefined, func: string, pc: number): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (v instanceof Tensor && v.size === 1 && v.storage.host) {
    const x = v.toArray()[0];
    return x !== 0 && x !== 0n;
  }
  return runtimeError(
    RuntimeErrorCodes.TYPE_MISMATCH,
    `function '${func}' pc ${pc}: If condition must be a boolean, number or one-element tensor, got ${describeValue(v)}`,
  );
}
