// The reference interpreter: executes any PrimFunc (block-structured or lowered) on
// NDArrays. It is the numerical oracle for schedules and lowering passes, so it favours
// checking over speed: every buffer access is bounds-checked, block bindings are checked
// against their domains, argument shapes against the symbolic parameter shapes.
//
// The function is compiled once, then run: by default into JavaScript source (jit.ts),
// or into a tree of closures (this file; `engine: 'closure'`). Argument binding and
// checking is shared. Values are JS numbers; vectors are split into lanes at compile
// time, so all arithmetic is scalar.
//
// Semantics (documented here because tests rely on them):
// - float32 results are rounded with Math.fround after every operation; float16/bfloat16
//   are rounded to their grid; float64 is plain JS arithmetic.
// - int8/16/32 and uint8/16/32 wrap like C (two's complement). int64/uint64 are JS
//   numbers: exact within ±2^53, not wrapped beyond.
// - Integer Div/Mod truncate (C); FloorDiv/FloorMod floor. Division by zero raises
//   DIVIDE_BY_ZERO. Float-to-int casts truncate toward zero, NaN becomes 0.
// - Min/Max propagate NaN. `And`/`Or` short-circuit; `Select` evaluates both branches
//   (as TVM specifies) so an out-of-bounds load in the untaken branch is an error —
//   use `tir.if_then_else` (lazy) for padding.
// - Block init runs when every reduce iter var equals its domain min (TVM semantics).
// - Parallel and blockIdx loops run sequentially, in order. threadIdx loops too, unless
//   their body has a `tir.thread_sync`: then every thread runs as a coroutine with its
//   own variables and all threads of the block advance from barrier to barrier together
//   (barriers under a Block are not supported). In a kernel with thread-bound loops,
//   `local` memory is private to each (block, thread) and `shared` memory to each block,
//   even when allocated outside the thread loops, so sibling thread loops behave as
//   phases. A missing barrier is not detected: sequential execution hides the race.
// - Allocated float storage starts as NaN, so reading uninitialized memory shows up.
import type { Buffer, PrimExpr, Var } from '@kiln/ir-core';
import { assertNever, ErrorCodes, elementOf, KilnError, postOrderVisit } from '@kiln/ir-core';
import type { IntrinsicTable } from '../intrinsics.js';
import { builtinIntrinsics, lookupIntrinsic } from '../intrinsics.js';
import type { NDArray } from '../ndarray.js';
import { allocTypedArray, isBigIntDType, roundToDType } from '../ndarray.js';
import type { Block, BlockRealize, For, PrimFunc, Stmt } from '../stmt.js';
import type { JitHost } from './jit.js';
import { generateJs } from './jit.js';
import type { Frame, SFn, Storage, XFn } from './semantics.js';
import { binOp, castFn, compactStride, fastBinary, memOf, rounder, THREAD_REGS } from './semantics.js';

/** Error codes the interpreter raises besides the shared ones. */
export const InterpreterErrorCodes = {
  /** A buffer access outside the buffer's shape or storage. */
  OUT_OF_BOUNDS: 'OUT_OF_BOUNDS',
  /** A block iter var bound to a value outside its domain. */
  BLOCK_BINDING: 'BLOCK_BINDING',
} as const;

/**
 * How the body runs: `jit` (default) translates it to JavaScript source once; `closure`
 * walks a tree of closures. Both have the same semantics; the tests cross-check them.
 * The `KILN_INTERP_ENGINE` environment variable changes the default.
 */
export type InterpreterEngine = 'jit' | 'closure';

export interface InterpretOptions {
  /** Intrinsics beyond the builtins (see createIntrinsicTable). */
  intrinsics?: IntrinsicTable;
  engine?: InterpreterEngine;
}

function defaultEngine(): InterpreterEngine {
  const env = typeof process !== 'undefined' ? process.env?.KILN_INTERP_ENGINE : undefined;
  return env === 'closure' ? 'closure' : 'jit';
}

/** An argument: an NDArray for a buffer parameter, a number (or bigint) for a scalar one. */
export type InterpretArg = NDArray | number | bigint;

export interface CompiledPrimFunc {
  readonly fn: PrimFunc;
  /** Run with destination-passing arguments (outputs are written in place). */
  run(args: readonly InterpretArg[]): void;
}

const jitCache = new WeakMap<PrimFunc, CompiledPrimFunc>();
const closureCache = new WeakMap<PrimFunc, CompiledPrimFunc>();

/** Execute `fn` on `args` (in parameter order); output buffers are written in place. */
export function interpret(fn: PrimFunc, args: readonly InterpretArg[], opts: InterpretOptions = {}): void {
  compilePrimFunc(fn, opts).run(args);
}

/** Compile once, run many times (cached per function and engine for the builtin intrinsics). */
export function compilePrimFunc(fn: PrimFunc, opts: InterpretOptions = {}): CompiledPrimFunc {
  const engine = opts.engine ?? defaultEngine();
  const cache = engine === 'jit' ? jitCache : closureCache;
  if (!opts.intrinsics) {
    const hit = cache.get(fn);
    if (hit) return hit;
  }
  const c = new Compiler(fn, opts.intrinsics ?? builtinIntrinsics, engine).compile();
  if (!opts.intrinsics) cache.set(fn, c);
  return c;
}

function fnName(fn: PrimFunc): string {
  const g = fn.attrs.global_symbol;
  return typeof g === 'string' ? g : '<anonymous>';
}

function isNDArray(x: InterpretArg): x is NDArray {
  return typeof x === 'object' && x !== null && 'data' in x && 'shape' in x;
}

// ---------------------------------------------------------------- the compiler

/** A loop bound to threadIdx.x/y/z: the threads a barrier synchronises. */
function isThreadIdxLoop(s: Stmt): s is For {
  return s.kind === 'For' && s.forKind === 'thread_binding' && (s.threadTag ?? '').startsWith('threadIdx.');
}

class Compiler implements JitHost {
  private readonly slots = new Map<Var, number>();
  private nSlots = 0;
  private readonly storageSlots = new Map<Var, number>();
  private nStorage = 0;
  /** Vars (and data vars) bound at the current point of compilation. */
  readonly scope = new Set<Var>();
  readonly name: string;

  /** Whether the function has thread-bound loops (then local/shared memory is per thread/block). */
  readonly hasThreads: boolean;

  constructor(
    private readonly fn: PrimFunc,
    readonly intrinsics: IntrinsicTable,
    private readonly engine: InterpreterEngine = 'jit',
  ) {
    this.name = fnName(fn);
    let threads = false;
    postOrderVisit(fn.body, (n) => {
      if (
        n.kind === 'For' &&
        (n as For).forKind === 'thread_binding' &&
        THREAD_REGS[(n as For).threadTag ?? ''] !== undefined
      )
        threads = true;
    });
    this.hasThreads = threads;
  }

  slot(v: Var): number {
    let s = this.slots.get(v);
    if (s === undefined) {
      s = this.nSlots;
      this.nSlots += Math.max(1, v.dtype.lanes);
      this.slots.set(v, s);
    }
    return s;
  }
  storageSlot(v: Var): number {
    let s = this.storageSlots.get(v);
    if (s === undefined) {
      s = this.nStorage++;
      this.storageSlots.set(v, s);
    }
    return s;
  }
  withBound<T>(vars: readonly Var[], body: () => T): T {
    const added = vars.filter((v) => !this.scope.has(v));
    for (const v of added) this.scope.add(v);
    try {
      return body();
    } finally {
      for (const v of added) this.scope.delete(v);
    }
  }
  err(code: string, msg: string): KilnError {
    return new KilnError(code, `interpreting '${this.name}': ${msg}`);
  }

  compile(): CompiledPrimFunc {
    const fn = this.fn;
    const binders: Array<(f: Frame, args: readonly InterpretArg[]) => void> = [];
    const checks: Array<(f: Frame, args: readonly InterpretArg[]) => void> = [];
    const paramScope: Var[] = [];

    // Pass 1: scalar params, and vars that are a whole dimension / stride / offset of a buffer param.
    fn.params.forEach((p, i) => {
      if (p.kind === 'Var') {
        const s = this.slot(p);
        const r = rounder(p.dtype);
        paramScope.push(p);
        this.scope.add(p);
        binders.push((f, args) => {
          const a = args[i];
          if (typeof a !== 'number' && typeof a !== 'bigint') {
            throw this.err(
              ErrorCodes.INVALID_ARGUMENT,
              `argument ${i} ('${p.name}') must be a scalar ${p.dtype.str}, got an array`,
            );
          }
          f.v[s] = r(Number(a));
        });
        return;
      }
      const buf = p;
      const ds = this.storageSlot(buf.data);
      this.scope.add(buf.data);
      binders.push((f, args) => {
        const a = args[i];
        if (!isNDArray(a))
          throw this.err(
            ErrorCodes.INVALID_ARGUMENT,
            `argument ${i} (buffer '${buf.name}') must be an NDArray`,
          );
        if (a.dtype.str !== buf.dtype.str) {
          throw this.err(
            ErrorCodes.DTYPE_MISMATCH,
            `argument ${i} (buffer '${buf.name}') has dtype ${a.dtype.str}, expected ${buf.dtype.str}`,
          );
        }
        if (a.shape.length !== buf.shape.length) {
          throw this.err(
            ErrorCodes.SHAPE_MISMATCH,
            `argument ${i} (buffer '${buf.name}') has rank ${a.shape.length}, expected ${buf.shape.length}`,
          );
        }
        f.s[ds] = { data: a.data, big: isBigIntDType(a.dtype), name: buf.name };
      });
      const bindDim = (e: PrimExpr, get: (a: NDArray) => number): void => {
        if (e.kind !== 'Var' || this.scope.has(e)) return;
        const s = this.slot(e);
        this.scope.add(e);
        paramScope.push(e);
        binders.push((f, args) => {
          f.v[s] = get(args[i] as NDArray);
        });
      };
      buf.shape.forEach((e, d) => {
        bindDim(e, (a) => a.shape[d]);
      });
      buf.strides.forEach((e, d) => {
        bindDim(e, (a) => compactStride(a.shape, d));
      });
      bindDim(buf.elemOffset, () => 0);
    });
    // Pass 2: every dimension must equal its (now evaluable) expression.
    fn.params.forEach((p, i) => {
      if (p.kind !== 'Buffer') return;
      p.shape.forEach((e, d) => {
        const ev = this.exprInParamScope(e, `dimension ${d} of buffer '${p.name}'`);
        checks.push((f, args) => {
          const a = args[i] as NDArray;
          const want = ev(f);
          if (a.shape[d] !== want) {
            throw this.err(
              ErrorCodes.SHAPE_MISMATCH,
              `argument ${i} (buffer '${p.name}'): dimension ${d} is ${a.shape[d]}, expected ${want} (shape [${a.shape.join(', ')}])`,
            );
          }
        });
      });
      p.strides.forEach((e, d) => {
        const ev = this.exprInParamScope(e, `stride ${d} of buffer '${p.name}'`);
        checks.push((f, args) => {
          const a = args[i] as NDArray;
          if (ev(f) !== compactStride(a.shape, d)) {
            throw this.err(
              ErrorCodes.SHAPE_MISMATCH,
              `argument ${i} (buffer '${p.name}'): stride ${d} must be ${compactStride(a.shape, d)} (NDArrays are compact), got ${ev(f)}`,
            );
          }
        });
      });
    });

    const body = this.engine === 'jit' ? this.jitBody(fn.body) : this.stmt(fn.body);
    const nParams = fn.params.length;
    const nSlots = () => this.nSlots;
    const nStorage = () => this.nStorage;
    return Object.freeze({
      fn,
      run: (args: readonly InterpretArg[]): void => {
        if (args.length !== nParams) {
          throw this.err(ErrorCodes.INVALID_ARGUMENT, `expected ${nParams} arguments, got ${args.length}`);
        }
        const f: Frame = {
          v: new Float64Array(nSlots()),
          s: new Array<Storage | undefined>(nStorage()),
          t: new Float64Array(6),
        };
        for (const b of binders) b(f, args);
        for (const c of checks) c(f, args);
        body(f);
      },
    });
  }

  /** The generated-JavaScript body, or the closure body where `new Function` is unavailable. */
  private jitBody(body: Stmt): XFn {
    let gen: XFn | undefined;
    try {
      gen = generateJs(this, body);
    } catch (e) {
      // Only a runtime that forbids eval (CSP) falls back; anything else is a real error.
      if (e instanceof KilnError) throw e;
      if (!(e instanceof EvalError)) {
        throw new KilnError(
          ErrorCodes.INTERNAL,
          `internal error: interpreting '${this.name}': code generation failed: ${String(e)}`,
          { cause: e },
        );
      }
      gen = undefined;
    }
    return gen ?? this.stmt(body);
  }

  private exprInParamScope(e: PrimExpr, what: string): SFn {
    try {
      return this.expr(e);
    } catch (err) {
      if (err instanceof KilnError && err.code === ErrorCodes.WELL_FORMED) {
        throw this.err(
          ErrorCodes.INVALID_ARGUMENT,
          `cannot infer ${what} (${err.message}); pass the symbolic variable as a scalar parameter`,
        );
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- expressions

  /** A scalar expression (lanes must be 1). */
  private expr(e: PrimExpr): SFn {
    if (e.dtype.lanes !== 1)
      throw this.err(
        ErrorCodes.INTERNAL,
        `internal error: scalar compile of vector ${e.kind} (${e.dtype.str})`,
      );
    return this.lane(e, 0);
  }

  /** Whether `e` has no variables, loads or calls, so it can be evaluated at compile time. */
  isConst(e: PrimExpr): boolean {
    const hit = this.constMemo.get(e);
    if (hit !== undefined) return hit;
    let r: boolean;
    switch (e.kind) {
      case 'IntImm':
      case 'FloatImm':
        r = true;
        break;
      case 'Var':
      case 'BufferLoad':
      case 'Call':
      case 'Let':
      case 'StringImm':
        r = false;
        break;
      case 'Cast':
        r = this.isConst(e.value);
        break;
      case 'Not':
        r = this.isConst(e.a);
        break;
      case 'Broadcast':
        r = this.isConst(e.value);
        break;
      case 'Ramp':
        r = this.isConst(e.base) && this.isConst(e.stride);
        break;
      case 'Select':
        r = this.isConst(e.cond) && this.isConst(e.t) && this.isConst(e.f);
        break;
      default:
        r = this.isConst(e.a) && this.isConst(e.b);
    }
    this.constMemo.set(e, r);
    return r;
  }
  private readonly constMemo = new WeakMap<PrimExpr, boolean>();
  private static readonly EMPTY: Frame = { v: new Float64Array(0), s: [], t: new Float64Array(6) };

  slotCount(): number {
    return this.nSlots;
  }
  storageCount(): number {
    return this.nStorage;
  }
  constLane(e: PrimExpr, l: number): number | undefined {
    if (!this.isConst(e)) return undefined;
    try {
      return this.laneRaw(e, l)(Compiler.EMPTY);
    } catch {
      return undefined; // e.g. a constant division by zero: raise at run time, where it happens
    }
  }

  /** The compile-time value of a scalar expression, if it is constant. */
  private constValue(e: PrimExpr): number | undefined {
    if (e.dtype.lanes !== 1 || !this.isConst(e)) return undefined;
    if (e.kind === 'IntImm') return e.value;
    return this.laneRaw(e, 0)(Compiler.EMPTY);
  }

  /** Lane `l` of `e` (for scalar expressions, lane 0 is the value); constants are folded. */
  private lane(e: PrimExpr, l: number): SFn {
    if (e.kind !== 'IntImm' && e.kind !== 'FloatImm' && this.isConst(e)) {
      let v: number | undefined;
      try {
        v = this.laneRaw(e, l)(Compiler.EMPTY);
      } catch {
        v = undefined; // e.g. a constant division by zero: raise at run time, where it happens
      }
      if (v !== undefined) {
        const c = v;
        return () => c;
      }
    }
    return this.laneRaw(e, l);
  }

  private laneRaw(e: PrimExpr, l: number): SFn {
    const L = e.dtype.lanes;
    const li = L === 1 ? 0 : l;
    switch (e.kind) {
      case 'IntImm': {
        const v = e.value;
        return () => v;
      }
      case 'FloatImm': {
        const v = roundToDType(e.value, elementOf(e.dtype));
        return () => v;
      }
      case 'StringImm':
        throw this.err(ErrorCodes.UNSUPPORTED, `string immediate "${e.value}" used as a value`);
      case 'Var': {
        if (!this.scope.has(e))
          throw new KilnError(ErrorCodes.WELL_FORMED, `variable '${e.name}' is used but not bound`);
        if (e.dtype.code === 'handle')
          throw this.err(ErrorCodes.UNSUPPORTED, `handle variable '${e.name}' used as a value`);
        const s = this.slot(e) + li;
        return (f) => f.v[s];
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'FloorDiv':
      case 'FloorMod':
      case 'Min':
      case 'Max':
      case 'EQ':
      case 'NE':
      case 'LT':
      case 'LE':
      case 'GT':
      case 'GE': {
        const a = this.lane(e.a, l);
        const b = this.lane(e.b, l);
        const fast = fastBinary(e.kind, e.a.dtype, a, b, this.constValue(e.b));
        if (fast) return fast;
        const op = binOp(e.kind, e.a.dtype, e.dtype);
        return (f) => op(a(f), b(f));
      }
      case 'And': {
        const a = this.lane(e.a, l);
        const b = this.lane(e.b, l);
        return (f) => (a(f) !== 0 && b(f) !== 0 ? 1 : 0);
      }
      case 'Or': {
        const a = this.lane(e.a, l);
        const b = this.lane(e.b, l);
        return (f) => (a(f) !== 0 || b(f) !== 0 ? 1 : 0);
      }
      case 'Not': {
        const a = this.lane(e.a, l);
        return (f) => (a(f) === 0 ? 1 : 0);
      }
      case 'Select': {
        const c = this.lane(e.cond, l);
        const t = this.lane(e.t, l);
        const g = this.lane(e.f, l);
        return (f) => {
          const cv = c(f);
          const tv = t(f);
          const fv = g(f);
          return cv !== 0 ? tv : fv;
        };
      }
      case 'Cast': {
        const v = this.lane(e.value, l);
        const c = castFn(e.value.dtype, e.dtype);
        return (f) => c(v(f));
      }
      case 'Ramp': {
        const b = this.lane(e.base, 0);
        const s = this.lane(e.stride, 0);
        const r = rounder(e.dtype);
        return (f) => r(b(f) + li * s(f));
      }
      case 'Broadcast':
        return this.lane(e.value, 0);
      case 'Let': {
        const v = this.lane(e.value, l);
        const s = this.slot(e.var) + (e.var.dtype.lanes === 1 ? 0 : li);
        const body = this.withBound([e.var], () => this.lane(e.body, l));
        return (f) => {
          f.v[s] = v(f);
          return body(f);
        };
      }
      case 'Call':
        return this.call(e, l);
      case 'BufferLoad': {
        if (e.buffer.dtype.lanes !== 1)
          throw this.err(
            ErrorCodes.UNSUPPORTED,
            `buffer '${e.buffer.name}' of vector dtype ${e.buffer.dtype.str}`,
          );
        const off = this.access(
          e.buffer,
          e.indices.map((ix) => this.lane(ix, ix.dtype.lanes === 1 ? 0 : l)),
        );
        const ds = this.storageSlot(e.buffer.data);
        const big = isBigIntDType(e.buffer.dtype);
        if (big) return (f) => Number(memOf(f.s[ds]!, f)[off(f)]);
        if (!this.hasThreads) return (f) => f.s[ds]!.data[off(f)] as number;
        return (f) => {
          const st = f.s[ds]!;
          return (st.parts ? memOf(st, f) : st.data)[off(f)] as number;
        };
      }
      default:
        return assertNever(e, 'PrimExpr kind');
    }
  }

  private call(e: Extract<PrimExpr, { kind: 'Call' }>, l: number): SFn {
    const def = lookupIntrinsic(e.op, this.intrinsics);
    if (!def) throw this.err(ErrorCodes.UNSUPPORTED, `unknown intrinsic '${e.op}'`);
    if (def.evalKind === 'effect') return () => 0;
    if (def.name === 'tir.if_then_else') {
      const c = this.lane(e.args[0], l);
      const t = this.lane(e.args[1], l);
      const g = this.lane(e.args[2], l);
      return (f) => (c(f) !== 0 ? t(f) : g(f));
    }
    const ev = def.evaluate;
    if (!ev)
      throw this.err(ErrorCodes.UNSUPPORTED, `intrinsic '${def.name}' has no interpreter implementation`);
    const t = elementOf(e.dtype);
    const argTypes = e.args.map((a) => elementOf(a.dtype));
    const args = e.args.map((a) => this.lane(a, a.dtype.lanes === 1 ? 0 : l));
    const r = rounder(t);
    if (args.length === 1) {
      const a0 = args[0];
      const buf = [0];
      return (f) => {
        buf[0] = a0(f);
        return r(ev(buf, t, argTypes));
      };
    }
    if (args.length === 2) {
      const [a0, a1] = args;
      const buf = [0, 0];
      return (f) => {
        const x = a0(f);
        buf[1] = a1(f);
        buf[0] = x;
        return r(ev(buf, t, argTypes));
      };
    }
    return (f) =>
      r(
        ev(
          args.map((a) => a(f)),
          t,
          argTypes,
        ),
      );
  }

  /**
   * The flat element offset of `buf[indices]` with per-dimension and storage bounds
   * checks. Constant shapes/strides are folded at compile time.
   */
  private access(buf: Buffer, indices: readonly SFn[]): SFn {
    const nd = buf.shape.length;
    if (indices.length !== nd) {
      throw this.err(
        ErrorCodes.SHAPE_MISMATCH,
        `buffer '${buf.name}' has ${nd} dimensions but is accessed with ${indices.length} indices`,
      );
    }
    if (!this.scope.has(buf.data)) {
      throw new KilnError(
        ErrorCodes.WELL_FORMED,
        `interpreting '${this.name}': buffer '${buf.name}' is used but its storage is not bound (not a parameter, not allocated)`,
      );
    }
    const ds = this.storageSlot(buf.data);
    const shape = buf.shape.map((s) => this.expr(s));
    const shapeVals = buf.shape.map((s) => this.constValue(s));
    const constShape = shapeVals.every((v) => v !== undefined) ? (shapeVals as number[]) : undefined;
    let strides: SFn[] | undefined;
    let constStrides: number[] | undefined;
    if (buf.strides.length > 0) {
      strides = buf.strides.map((s) => this.expr(s));
      const sv = buf.strides.map((s) => this.constValue(s));
      if (sv.every((v) => v !== undefined)) constStrides = sv as number[];
    } else if (constShape) {
      constStrides = constShape.map((_, d) => compactStride(constShape, d));
    }
    const elem = this.expr(buf.elemOffset);
    const constElem = this.constValue(buf.elemOffset);
    const name = buf.name;
    const oob = (f: Frame, d: number, i: number, n: number): never => {
      const idx = indices.map((fn) => fn(f));
      throw new KilnError(
        InterpreterErrorCodes.OUT_OF_BOUNDS,
        `interpreting '${this.name}': index [${idx.join(', ')}] out of bounds for buffer '${name}' of shape [${shape.map((s) => s(f)).join(', ')}] (dimension ${d}: ${i} not in [0, ${n}))`,
        { details: { buffer: name, index: idx, dimension: d } },
      );
    };
    const checkStorage = (f: Frame, off: number): number => {
      const st = f.s[ds];
      if (st === undefined)
        throw this.err(
          ErrorCodes.INTERNAL,
          `internal error: storage of buffer '${name}' not bound at run time`,
        );
      if (off < 0 || off >= st.data.length) {
        const idx = indices.map((fn) => fn(f));
        throw new KilnError(
          InterpreterErrorCodes.OUT_OF_BOUNDS,
          `interpreting '${this.name}': index [${idx.join(', ')}] of buffer '${name}' is at element ${off}, outside its storage of ${st.data.length} elements`,
          { details: { buffer: name, index: idx, offset: off } },
        );
      }
      return off;
    };

    if (constShape && constStrides && constElem !== undefined) {
      if (nd === 1) {
        const [n0] = constShape;
        const [s0] = constStrides;
        const i0 = indices[0];
        return (f) => {
          const a = i0(f);
          if (!(a >= 0 && a < n0)) oob(f, 0, a, n0);
          return checkStorage(f, constElem + a * s0);
        };
      }
      if (nd === 2) {
        const [n0, n1] = constShape;
        const [s0, s1] = constStrides;
        const [i0, i1] = indices;
        return (f) => {
          const a = i0(f);
          const b = i1(f);
          if (!(a >= 0 && a < n0)) oob(f, 0, a, n0);
          if (!(b >= 0 && b < n1)) oob(f, 1, b, n1);
          return checkStorage(f, constElem + a * s0 + b * s1);
        };
      }
      if (nd === 3) {
        const [n0, n1, n2] = constShape;
        const [s0, s1, s2] = constStrides;
        const [i0, i1, i2] = indices;
        return (f) => {
          const a = i0(f);
          const b = i1(f);
          const c = i2(f);
          if (!(a >= 0 && a < n0)) oob(f, 0, a, n0);
          if (!(b >= 0 && b < n1)) oob(f, 1, b, n1);
          if (!(c >= 0 && c < n2)) oob(f, 2, c, n2);
          return checkStorage(f, constElem + a * s0 + b * s1 + c * s2);
        };
      }
      if (nd === 4) {
        const [n0, n1, n2, n3] = constShape;
        const [s0, s1, s2, s3] = constStrides;
        const [i0, i1, i2, i3] = indices;
        return (f) => {
          const a = i0(f);
          const b = i1(f);
          const c = i2(f);
          const d = i3(f);
          if (!(a >= 0 && a < n0)) oob(f, 0, a, n0);
          if (!(b >= 0 && b < n1)) oob(f, 1, b, n1);
          if (!(c >= 0 && c < n2)) oob(f, 2, c, n2);
          if (!(d >= 0 && d < n3)) oob(f, 3, d, n3);
          return checkStorage(f, constElem + a * s0 + b * s1 + c * s2 + d * s3);
        };
      }
      const cs = constStrides;
      return (f) => {
        let off = constElem;
        for (let d = 0; d < nd; d++) {
          const i = indices[d](f);
          if (!(i >= 0 && i < constShape[d])) oob(f, d, i, constShape[d]);
          off += i * cs[d];
        }
        return checkStorage(f, off);
      };
    }
    return (f) => {
      let off = elem(f);
      let stride = 1;
      const dims = shape.map((s) => s(f));
      for (let d = nd - 1; d >= 0; d--) {
        const i = indices[d](f);
        if (!(i >= 0 && i < dims[d])) oob(f, d, i, dims[d]);
        off += i * (strides ? strides[d](f) : stride);
        stride *= dims[d];
      }
      return checkStorage(f, off);
    };
  }

  // ---------------------------------------------------------------- statements

  stmt(s: Stmt): XFn {
    switch (s.kind) {
      case 'BufferStore': {
        const buf = s.buffer;
        if (buf.dtype.lanes !== 1)
          throw this.err(ErrorCodes.UNSUPPORTED, `buffer '${buf.name}' of vector dtype ${buf.dtype.str}`);
        const L = s.value.dtype.lanes;
        const idxLanes = s.indices.reduce((m, i) => Math.max(m, i.dtype.lanes), 1);
        if (
          s.value.dtype.code !== buf.dtype.code ||
          s.value.dtype.bits !== buf.dtype.bits ||
          (L !== idxLanes && L !== 1)
        ) {
          throw this.err(
            ErrorCodes.DTYPE_MISMATCH,
            `store of ${s.value.dtype.str} into buffer '${buf.name}' of ${buf.dtype.str} with ${idxLanes}-lane indices`,
          );
        }
        const ds = this.storageSlot(buf.data);
        const big = isBigIntDType(buf.dtype);
        const r = rounder(buf.dtype);
        const lanes = Math.max(L, idxLanes);
        const vals: SFn[] = [];
        const offs: SFn[] = [];
        for (let l = 0; l < lanes; l++) {
          vals.push(this.lane(s.value, L === 1 ? 0 : l));
          offs.push(
            this.access(
              buf,
              s.indices.map((ix) => this.lane(ix, ix.dtype.lanes === 1 ? 0 : l)),
            ),
          );
        }
        const write = big
          ? (f: Frame, off: number, v: number) => {
              (memOf(f.s[ds]!, f) as BigInt64Array)[off] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
            }
          : (f: Frame, off: number, v: number) => {
              (memOf(f.s[ds]!, f) as Float64Array)[off] = r(v);
            };
        if (lanes === 1) {
          const v0 = vals[0];
          const o0 = offs[0];
          if (!big && buf.dtype.code === 'float' && buf.dtype.bits >= 32 && !this.hasThreads) {
            return (f) => {
              const v = v0(f);
              (f.s[ds]!.data as Float64Array)[o0(f)] = v;
            };
          }
          if (!big && buf.dtype.code === 'float' && buf.dtype.bits >= 32) {
            // Typed arrays round float32 on write; no rounder needed.
            return (f) => {
              const v = v0(f);
              const st = f.s[ds]!;
              (st.parts ? memOf(st, f) : (st.data as Float64Array))[o0(f)] = v;
            };
          }
          return (f) => {
            const v = v0(f);
            write(f, o0(f), v);
          };
        }
        // All lanes are read before any is written (a vector store is one operation).
        return (f) => {
          const vs = vals.map((v) => v(f));
          const os = offs.map((o) => o(f));
          for (let l = 0; l < lanes; l++) write(f, os[l], vs[l]);
        };
      }
      case 'LetStmt': {
        if (s.var.dtype.code === 'handle') {
          if (s.value.kind !== 'Var')
            throw this.err(ErrorCodes.UNSUPPORTED, `let of handle '${s.var.name}' to a non-variable`);
          const from = this.storageSlot(s.value);
          const to = this.storageSlot(s.var);
          const body = this.withBound([s.var], () => this.stmt(s.body));
          return (f) => {
            f.s[to] = f.s[from];
            body(f);
          };
        }
        const L = s.var.dtype.lanes;
        const base = this.slot(s.var);
        const vals = Array.from({ length: L }, (_, l) =>
          this.lane(s.value, s.value.dtype.lanes === 1 ? 0 : l),
        );
        const body = this.withBound([s.var], () => this.stmt(s.body));
        if (L === 1) {
          const v0 = vals[0];
          return (f) => {
            f.v[base] = v0(f);
            body(f);
          };
        }
        return (f) => {
          for (let l = 0; l < L; l++) f.v[base + l] = vals[l](f);
          body(f);
        };
      }
      case 'For': {
        if (isThreadIdxLoop(s) && this.hasSync(s.body)) return this.simtLoop(s);
        const mn = this.expr(s.min);
        const ext = this.expr(s.extent);
        const sl = this.slot(s.loopVar);
        const body = this.withBound([s.loopVar], () => this.stmt(s.body));
        const reg =
          s.forKind === 'thread_binding' && s.threadTag !== undefined ? THREAD_REGS[s.threadTag] : undefined;
        if (reg !== undefined) {
          // Threads run one after another; the register says which thread is running.
          return (f) => {
            const m = mn(f);
            const end = m + ext(f);
            const saved = f.t[reg];
            for (let i = m; i < end; i++) {
              f.v[sl] = i;
              f.t[reg] = i - m;
              body(f);
            }
            f.t[reg] = saved;
          };
        }
        return (f) => {
          const m = mn(f);
          const end = m + ext(f);
          for (let i = m; i < end; i++) {
            f.v[sl] = i;
            body(f);
          }
        };
      }
      case 'While': {
        const c = this.expr(s.cond);
        const body = this.stmt(s.body);
        return (f) => {
          while (c(f) !== 0) body(f);
        };
      }
      case 'IfThenElse': {
        const c = this.expr(s.cond);
        const t = this.stmt(s.then);
        const e = s.else ? this.stmt(s.else) : undefined;
        if (!e) {
          return (f) => {
            if (c(f) !== 0) t(f);
          };
        }
        return (f) => {
          if (c(f) !== 0) t(f);
          else e(f);
        };
      }
      case 'SeqStmt': {
        const parts = s.seq.map((x) => this.stmt(x));
        return (f) => {
          for (const p of parts) p(f);
        };
      }
      case 'Evaluate': {
        if (s.value.kind === 'Call') {
          const def = lookupIntrinsic(s.value.op, this.intrinsics);
          if (def?.evalKind === 'effect') return () => undefined;
        }
        if (s.value.kind === 'IntImm') return () => undefined;
        const L = s.value.dtype.lanes;
        const fns = Array.from({ length: L }, (_, l) => this.lane(s.value, l));
        return (f) => {
          for (const g of fns) g(f);
        };
      }
      case 'Allocate': {
        const alloc = this.allocator(s.buffer);
        const body = this.withBound([s.buffer.data], () => this.stmt(s.body));
        return (f) => {
          alloc(f);
          body(f);
        };
      }
      case 'DeclBuffer': {
        if (!this.scope.has(s.buffer.data)) {
          throw new KilnError(
            ErrorCodes.WELL_FORMED,
            `interpreting '${this.name}': DeclBuffer '${s.buffer.name}' views storage '${s.buffer.data.name}' that is not bound`,
          );
        }
        return this.stmt(s.body);
      }
      case 'AttrStmt':
        return this.stmt(s.body);
      case 'Block':
        // A bare block (no realize) has no iter vars to bind.
        return this.blockBody(s, []);
      case 'BlockRealize':
        return this.blockRealize(s);
      default:
        return assertNever(s, 'Stmt kind');
    }
  }

  // ---------------------------------------------------------------- barriers

  private readonly syncMemo = new WeakMap<Stmt, boolean>();

  closureStmt(s: Stmt): XFn {
    return this.stmt(s);
  }

  /** Whether `s` contains a `tir.thread_sync` (a barrier). */
  hasSync(s: Stmt): boolean {
    const hit = this.syncMemo.get(s);
    if (hit !== undefined) return hit;
    let found = false;
    postOrderVisit(s, (n) => {
      if (
        n.kind === 'Call' &&
        lookupIntrinsic((n as Extract<PrimExpr, { kind: 'Call' }>).op, this.intrinsics)?.name ===
          'tir.thread_sync'
      ) {
        found = true;
      }
    });
    this.syncMemo.set(s, found);
    return found;
  }

  /**
   * A thread loop (and the thread loops directly nested in it) whose body has barriers:
   * every thread runs as a generator with its own copy of the variables, and all threads
   * advance from one barrier to the next together, as on a GPU.
   */
  private simtLoop(outer: For): XFn {
    const chain: For[] = [outer];
    for (;;) {
      const b = chain[chain.length - 1].body;
      if (b.kind === 'For' && isThreadIdxLoop(b)) chain.push(b);
      else break;
    }
    const mins: SFn[] = [];
    const exts: SFn[] = [];
    const slots: number[] = [];
    const regs: number[] = [];
    const build = (k: number): ((f: Frame) => Generator<void, void, void>) => {
      if (k === chain.length) return this.gen(chain[k - 1].body);
      const l = chain[k];
      mins.push(this.expr(l.min));
      exts.push(this.expr(l.extent));
      slots.push(this.slot(l.loopVar));
      regs.push(THREAD_REGS[l.threadTag ?? '']);
      return this.withBound([l.loopVar], () => build(k + 1));
    };
    const body = build(0);
    return (f) => {
      const threads: Array<Generator<void, void, void>> = [];
      const spawn = (k: number, parent: Frame): void => {
        if (k === chain.length) {
          threads.push(body(parent));
          return;
        }
        const m = mins[k](parent);
        const e = exts[k](parent);
        for (let i = 0; i < e; i++) {
          const t: Frame = { v: parent.v.slice(), s: parent.s.slice(), t: parent.t.slice() };
          t.v[slots[k]] = m + i;
          t.t[regs[k]] = i;
          spawn(k + 1, t);
        }
      };
      spawn(0, f);
      let live = threads;
      while (live.length > 0) {
        const next: Array<Generator<void, void, void>> = [];
        for (const g of live) if (!g.next().done) next.push(g);
        live = next;
      }
    };
  }

  /** A statement as a generator that yields at every barrier (sync-free parts run as closures). */
  private gen(s: Stmt): (f: Frame) => Generator<void, void, void> {
    if (!this.hasSync(s)) {
      const x = this.stmt(s);
      // biome-ignore lint/correctness/useYield: a part without barriers runs to completion in one step
      return function* (f) {
        x(f);
      };
    }
    switch (s.kind) {
      case 'Evaluate':
        return function* () {
          yield;
        };
      case 'SeqStmt': {
        const parts = s.seq.map((x) => this.gen(x));
        return function* (f) {
          for (const p of parts) yield* p(f);
        };
      }
      case 'For': {
        const mn = this.expr(s.min);
        const ext = this.expr(s.extent);
        const sl = this.slot(s.loopVar);
        const body = this.withBound([s.loopVar], () => this.gen(s.body));
        const reg = s.forKind === 'thread_binding' ? THREAD_REGS[s.threadTag ?? ''] : undefined;
        return function* (f) {
          const m = mn(f);
          const end = m + ext(f);
          for (let i = m; i < end; i++) {
            f.v[sl] = i;
            if (reg !== undefined) f.t[reg] = i - m;
            yield* body(f);
          }
        };
      }
      case 'While': {
        const c = this.expr(s.cond);
        const body = this.gen(s.body);
        return function* (f) {
          while (c(f) !== 0) yield* body(f);
        };
      }
      case 'IfThenElse': {
        const c = this.expr(s.cond);
        const t = this.gen(s.then);
        const e = s.else ? this.gen(s.else) : undefined;
        return function* (f) {
          if (c(f) !== 0) yield* t(f);
          else if (e) yield* e(f);
        };
      }
      case 'LetStmt': {
        if (s.var.dtype.code === 'handle' || s.var.dtype.lanes !== 1) {
          throw this.err(
            ErrorCodes.UNSUPPORTED,
            `let '${s.var.name}' of ${s.var.dtype.str} around a barrier`,
          );
        }
        const v = this.expr(s.value);
        const sl = this.slot(s.var);
        const body = this.withBound([s.var], () => this.gen(s.body));
        return function* (f) {
          f.v[sl] = v(f);
          yield* body(f);
        };
      }
      case 'Allocate': {
        const alloc = this.allocator(s.buffer);
        const body = this.withBound([s.buffer.data], () => this.gen(s.body));
        return function* (f) {
          alloc(f);
          yield* body(f);
        };
      }
      case 'DeclBuffer':
      case 'AttrStmt':
        return this.gen(s.body);
      default:
        throw this.err(ErrorCodes.UNSUPPORTED, `a thread barrier inside a ${s.kind}`);
    }
  }

  /** Fresh storage for `buf` (product of its shape; floats start as NaN). */
  private allocator(buf: Buffer): XFn {
    if (buf.dtype.lanes !== 1)
      throw this.err(ErrorCodes.UNSUPPORTED, `allocation of vector dtype ${buf.dtype.str} ('${buf.name}')`);
    const ds = this.storageSlot(buf.data);
    const shape = buf.shape.map((e) => this.expr(e));
    const strides = buf.strides.map((e) => this.expr(e));
    const isF = buf.dtype.code === 'float' || buf.dtype.code === 'bfloat';
    const name = buf.name;
    const dt = buf.dtype;
    const sc = buf.scope;
    const keyed = !this.hasThreads
      ? undefined
      : sc.startsWith('local') || sc.startsWith('wmma') || sc === 'warp'
        ? 'thread'
        : sc.startsWith('shared')
          ? 'block'
          : undefined;
    return (f) => {
      const dims = shape.map((s) => s(f));
      let n = dims.reduce((a, b) => a * b, 1);
      if (strides.length > 0 && dims.length > 0) {
        n = 1;
        for (let d = 0; d < dims.length; d++) n += (dims[d] - 1) * strides[d](f);
        if (dims.some((x) => x === 0)) n = 0;
      }
      if (!Number.isInteger(n) || n < 0)
        throw this.err(ErrorCodes.SHAPE_MISMATCH, `allocation of '${name}' with invalid size ${n}`);
      const data = allocTypedArray(dt, n);
      if (isF) (data as Float32Array).fill(NaN);
      f.s[ds] = keyed
        ? { data, big: isBigIntDType(dt), name, parts: new Map(), perThread: keyed === 'thread' }
        : { data, big: isBigIntDType(dt), name };
    };
  }

  private blockRealize(br: BlockRealize): XFn {
    const blk = br.block;
    const values = br.iterValues.map((v) => this.expr(v));
    const pred =
      br.predicate.kind === 'IntImm' && br.predicate.value === 1 ? undefined : this.expr(br.predicate);
    const slots = blk.iterVars.map((iv) => this.slot(iv.var));
    const doms = blk.iterVars.map((iv) => ({ min: this.expr(iv.dom.min), extent: this.expr(iv.dom.extent) }));
    const domVals = blk.iterVars.map((iv) => [this.constValue(iv.dom.min), this.constValue(iv.dom.extent)]);
    const constDoms = domVals.every(([a, b]) => a !== undefined && b !== undefined)
      ? (domVals as number[][])
      : undefined;
    const body = this.blockBody(
      blk,
      blk.iterVars.map((iv) => iv.var),
    );
    const n = slots.length;
    const name = blk.name;
    const bad = (_f: Frame, k: number, v: number, lo: number, ext: number): never => {
      throw new KilnError(
        InterpreterErrorCodes.BLOCK_BINDING,
        `interpreting '${this.name}': block '${name}' binds iter var '${blk.iterVars[k].var.name}' to ${v}, outside its domain [${lo}, ${lo + ext})`,
      );
    };
    // Bindings are all evaluated before any slot is written (a value may read another
    // iter var); blocks never nest in themselves, so one scratch array per realize is safe.
    const vs = new Float64Array(n);
    if (constDoms) {
      const lo = constDoms.map((d) => d[0]);
      const hi = constDoms.map((d) => d[0] + d[1]);
      return (f) => {
        if (pred && pred(f) === 0) return;
        for (let k = 0; k < n; k++) vs[k] = values[k](f);
        for (let k = 0; k < n; k++) {
          const v = vs[k];
          if (!(v >= lo[k] && v < hi[k])) bad(f, k, v, lo[k], hi[k] - lo[k]);
          f.v[slots[k]] = v;
        }
        body(f);
      };
    }
    return (f) => {
      if (pred && pred(f) === 0) return;
      for (let k = 0; k < n; k++) vs[k] = values[k](f);
      for (let k = 0; k < n; k++) {
        const lo = doms[k].min(f);
        const ext = doms[k].extent(f);
        const v = vs[k];
        if (!(v >= lo && v < lo + ext)) bad(f, k, v, lo, ext);
        f.v[slots[k]] = v;
      }
      body(f);
    };
  }

  private blockBody(blk: Block, iterVars: readonly Var[]): XFn {
    return this.withBound(iterVars, () => {
      const allocs = blk.allocBuffers.map((b) => this.allocator(b));
      return this.withBound(
        blk.allocBuffers.map((b) => b.data),
        () => {
          const body = this.stmt(blk.body);
          let init: XFn | undefined;
          let isFirst: ((f: Frame) => boolean) | undefined;
          if (blk.init) {
            init = this.stmt(blk.init);
            const red = blk.iterVars.filter((iv) => iv.iterType === 'reduce');
            const rs = red.map((iv) => this.slot(iv.var));
            const mins = red.map((iv) => this.expr(iv.dom.min));
            isFirst = (f) => {
              for (let k = 0; k < rs.length; k++) if (f.v[rs[k]] !== mins[k](f)) return false;
              return true;
            };
          }
          if (allocs.length === 0 && !init) return body;
          return (f: Frame) => {
            for (const a of allocs) a(f);
            if (init && isFirst!(f)) init(f);
            body(f);
          };
        },
      );
    });
  }
}
