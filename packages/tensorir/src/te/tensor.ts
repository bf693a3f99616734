// The tensor-expression DSL (TVM's `te`): placeholders, compute stages, reduction axes
// and commutative reducers. A te Tensor owns the Buffer it will be stored in, so an
// element reference `A.at(i, j)` is an ordinary TIR BufferLoad; `createPrimFunc` turns
// the stages into block-structured TIR.
import type { Attrs, Buffer, BufferLoad, DataType, ExprLike, PrimExpr, Range, Var } from '@kiln/ir-core';
import {
  add,
  and as andExpr,
  bufferLoad,
  cast as castExpr,
  DType,
  ErrorCodes,
  ge,
  isConstInt,
  isFloat,
  isPrimExpr,
  KilnError,
  le,
  lt,
  buffer as makeBuffer,
  max as maxExpr,
  min as minExpr,
  mul,
  dtype as parseDType,
  primVar,
  range,
  select,
  simplify,
  sub,
  toExpr,
} from '@kiln/ir-core';
import { ifThenElseExpr } from '../intrinsics.js';

// ---------------------------------------------------------------- tensors and operations

export interface PlaceholderOp {
  readonly kind: 'placeholder';
  readonly name: string;
}

/** The body of a compute stage: plain values, or one (possibly tuple) reduction. */
export type ComputeBody =
  | { readonly kind: 'values'; readonly values: readonly PrimExpr[] }
  | { readonly kind: 'reduce'; readonly reduce: ReduceExpr | TupleReduceExpr };

export interface ComputeOp {
  readonly kind: 'compute';
  readonly name: string;
  /** Spatial axes, one per output dimension (used in `body`). */
  readonly axis: readonly Var[];
  readonly shape: readonly PrimExpr[];
  readonly body: ComputeBody;
  /** Tensors this stage reads. */
  readonly inputs: readonly Tensor[];
  /** The stage's outputs (more than one for tuple reductions / multi-value bodies). */
  readonly outputs: readonly Tensor[];
  /** Copied to the block's annotations. */
  readonly attrs: Attrs;
}

export type Operation = PlaceholderOp | ComputeOp;

export interface Tensor {
  readonly name: string;
  readonly shape: readonly PrimExpr[];
  readonly dtype: DataType;
  readonly ndim: number;
  /** Where the tensor is stored in the generated PrimFunc. */
  readonly buffer: Buffer;
  readonly op: Operation;
  /** Which output of `op` this is. */
  readonly valueIndex: number;
  /** The element at `indices` (one per dimension). */
  at(...indices: ExprLike[]): BufferLoad;
  /**
   * NumPy-style broadcast access from an output index of higher or equal rank: the
   * tensor's dims are right-aligned to `outIndices`, and dims of constant extent 1 read
   * index 0.
   */
  atBroadcast(outIndices: readonly ExprLike[]): BufferLoad;
}

// Buffers → the tensor they hold, so a compute can find its inputs from its body's loads.
const tensorOfBuffer = new WeakMap<Buffer, Tensor>();

export function tensorOf(buf: Buffer): Tensor | undefined {
  return tensorOfBuffer.get(buf);
}

function makeTensor(
  name: string,
  shape: readonly PrimExpr[],
  dt: DataType,
  op: Operation,
  valueIndex: number,
): Tensor {
  const buf = makeBuffer(name, dt, shape);
  const t: Tensor = Object.freeze({
    name,
    shape,
    dtype: dt,
    ndim: shape.length,
    buffer: buf,
    op,
    valueIndex,
    at(...indices: ExprLike[]): BufferLoad {
      if (indices.length !== shape.length) {
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `tensor '${name}' has ${shape.length} dimensions but is indexed with ${indices.length}`,
        );
      }
      return bufferLoad(buf, indices.map(indexExpr));
    },
    atBroadcast(outIndices: readonly ExprLike[]): BufferLoad {
      if (outIndices.length < shape.length) {
        throw new KilnError(
          ErrorCodes.SHAPE_MISMATCH,
          `cannot broadcast tensor '${name}' of rank ${shape.length} to rank ${outIndices.length}`,
        );
      }
      const lead = outIndices.length - shape.length;
      return bufferLoad(
        buf,
        shape.map((s, d) => (isConstInt(s, 1) ? toExpr(0, DType.int64) : indexExpr(outIndices[lead + d]))),
      );
    },
  });
  tensorOfBuffer.set(buf, t);
  return t;
}

/** Index expressions are int64 (Kiln's index type); narrower ints are widened. */
function indexExpr(x: ExprLike): PrimExpr {
  const e = typeof x === 'object' ? x : toExpr(x, DType.int64);
  if (e.dtype.code !== 'int' && e.dtype.code !== 'uint') {
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `tensor index must be an integer, got ${e.dtype.str}`);
  }
  return e.dtype === DType.int64 || e.dtype.lanes !== 1 ? e : castExpr(DType.int64, e);
}

/** Fold constant shape arithmetic (`32 + 1 + 1` → 34) with ir-core's simplifier. */
function simplifyDim(e: PrimExpr): PrimExpr {
  if (e.kind === 'IntImm' || e.kind === 'Var') return e;
  try {
    return simplify(e);
  } catch {
    return e; // the simplifier is an optimisation here, never a requirement
  }
}

function shapeExprs(shape: readonly ExprLike[], what: string): PrimExpr[] {
  return shape.map((s, d) => {
    const e = typeof s === 'object' ? simplifyDim(s) : toExpr(s, DType.int64);
    if (e.dtype.code !== 'int' && e.dtype.code !== 'uint') {
      throw new KilnError(
        ErrorCodes.DTYPE_MISMATCH,
        `dimension ${d} of ${what} must be an integer, got ${e.dtype.str}`,
      );
    }
    if (e.kind === 'IntImm' && e.value < 0)
      throw new KilnError(ErrorCodes.SHAPE_MISMATCH, `dimension ${d} of ${what} is negative (${e.value})`);
    return e;
  });
}

/** A symbolic size / shape variable (int64). `var` is a JS keyword, hence the name. */
export function sizeVar(name: string, dt: DataType | string = DType.int64): Var {
  return primVar(name, dt);
}

/** A scalar constant of dtype `dt`. */
export function constant(value: number | boolean, dt: DataType | string): PrimExpr {
  const t = parseDType(dt);
  return toExpr(typeof value === 'boolean' ? (value ? 1 : 0) : value, t);
}

/** An input tensor of the given shape and dtype. */
export function placeholder(
  shape: readonly ExprLike[],
  dt: DataType | string = DType.float32,
  name = 'placeholder',
): Tensor {
  const op: PlaceholderOp = Object.freeze({ kind: 'placeholder', name });
  return makeTensor(name, Object.freeze(shapeExprs(shape, `placeholder '${name}'`)), parseDType(dt), op, 0);
}

// ---------------------------------------------------------------- reductions

// Reduce axes are ordinary Vars (usable in index arithmetic); their domains live here.
const reduceDomains = new WeakMap<Var, Range>();

/** A reduction axis iterating over `[lo, hi)` (or `[0, extent)` given one bound). */
export function reduceAxis(dom: readonly [ExprLike, ExprLike] | ExprLike, name = 'k'): Var {
  const [lo, hi] = Array.isArray(dom) ? (dom as readonly [ExprLike, ExprLike]) : [0, dom as ExprLike];
  const loE = typeof lo === 'object' ? lo : toExpr(lo, DType.int64);
  const hiE = typeof hi === 'object' ? hi : toExpr(hi, DType.int64);
  const extent =
    loE.kind === 'IntImm' && loE.value === 0
      ? hiE
      : loE.kind === 'IntImm' && hiE.kind === 'IntImm'
        ? toExpr(hiE.value - loE.value, DType.int64)
        : simplifyDim(sub(hiE, loE));
  const v = primVar(name, DType.int64);
  reduceDomains.set(v, range(loE, extent));
  return v;
}

/** The domain of a reduction axis made by `reduceAxis`, if `v` is one. */
export function reduceAxisDom(v: Var): Range | undefined {
  return reduceDomains.get(v);
}

/** A commutative, associative reducer over tuples of values (one value for sum/max/...). */
export interface CommReducer {
  readonly name: string;
  /** Combine the accumulator with a new value, elementwise over the tuple. */
  combine(acc: readonly PrimExpr[], value: readonly PrimExpr[]): PrimExpr[];
  /** The identity element for the given value dtypes. */
  identity(dtypes: readonly DataType[]): PrimExpr[];
}

interface ReduceBase {
  readonly kind: 'te.Reduce';
  readonly reducer: CommReducer;
  readonly sources: readonly PrimExpr[];
  readonly axes: readonly Var[];
  /** Only values where this holds are combined. */
  readonly where?: PrimExpr;
  /** Initial accumulator values instead of the identity. */
  readonly init?: readonly PrimExpr[];
}
/** A single-valued reduction (what `sum`, `reduceMax`, ... return). */
export interface ReduceExpr extends ReduceBase {
  readonly tuple: false;
}
/** A tuple reduction (argmax: index and value); its compute has one output per value. */
export interface TupleReduceExpr extends ReduceBase {
  readonly tuple: true;
}

export interface ReduceOptions {
  /** Initial value(s) of the accumulator (instead of the reducer's identity). */
  init?: ExprLike | readonly ExprLike[];
  /** Only combine values where this bool condition holds. */
  where?: ExprLike;
}

export function isReduceExpr(x: unknown): x is ReduceExpr | TupleReduceExpr {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'te.Reduce';
}

function makeReduce(
  reducer: CommReducer,
  sources: readonly PrimExpr[],
  axes: Var | readonly Var[],
  opts: ReduceOptions,
  tuple: boolean,
): ReduceBase & { tuple: boolean } {
  const ax = Array.isArray(axes) ? (axes as readonly Var[]) : [axes as Var];
  for (const a of ax) {
    if (!reduceDomains.has(a))
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        `'${a.name}' is not a reduction axis (make it with reduceAxis)`,
      );
  }
  const init =
    opts.init === undefined
      ? undefined
      : (Array.isArray(opts.init) ? (opts.init as readonly ExprLike[]) : [opts.init as ExprLike]).map(
          (v, i) => toExpr(v, sources[i].dtype),
        );
  if (init && init.length !== sources.length) {
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `reducer '${reducer.name}' has ${sources.length} values but ${init.length} init values`,
    );
  }
  let where: PrimExpr | undefined;
  if (opts.where !== undefined) {
    where = toExpr(opts.where);
    if (where.dtype.code !== 'bool')
      throw new KilnError(
        ErrorCodes.DTYPE_MISMATCH,
        `reduction 'where' must be bool, got ${where.dtype.str}`,
      );
  }
  return Object.freeze({
    kind: 'te.Reduce',
    reducer,
    sources: Object.freeze([...sources]),
    axes: Object.freeze([...ax]),
    where,
    init,
    tuple,
  });
}

export type Reducer = (source: ExprLike, axes: Var | readonly Var[], opts?: ReduceOptions) => ReduceExpr;
export type TupleReducer = (
  sources: readonly ExprLike[],
  axes: Var | readonly Var[],
  opts?: ReduceOptions,
) => TupleReduceExpr;

function toSource(x: ExprLike): PrimExpr {
  if (typeof x === 'object') {
    if (!isPrimExpr(x))
      throw new KilnError(
        ErrorCodes.INVALID_ARGUMENT,
        'a reduction source must be a scalar expression (reductions cannot nest)',
      );
    return x;
  }
  return toExpr(x);
}

/**
 * Make a reducer from `combine(acc, value)` and `identity(dtype)` over single values,
 * e.g. `commReducer((a, b) => add(a, b), (t) => constant(0, t), 'sum')`.
 */
export function commReducer(
  combine: (acc: PrimExpr, value: PrimExpr) => PrimExpr,
  identity: (t: DataType) => ExprLike,
  name = 'reducer',
): Reducer {
  const r: CommReducer = Object.freeze({
    name,
    combine: (acc: readonly PrimExpr[], v: readonly PrimExpr[]) => [combine(acc[0], v[0])],
    identity: (ts: readonly DataType[]) => [toExpr(identity(ts[0]), ts[0])],
  });
  return (source, axes, opts = {}) => makeReduce(r, [toSource(source)], axes, opts, false) as ReduceExpr;
}

/** A reducer over tuples (e.g. (index, value) for argmax). */
export function tupleCommReducer(
  combine: (acc: readonly PrimExpr[], value: readonly PrimExpr[]) => PrimExpr[],
  identity: (ts: readonly DataType[]) => readonly ExprLike[],
  name = 'tuple_reducer',
): TupleReducer {
  const r: CommReducer = Object.freeze({
    name,
    combine,
    identity: (ts: readonly DataType[]) => identity(ts).map((v, i) => toExpr(v, ts[i])),
  });
  return (sources, axes, opts = {}) =>
    makeReduce(r, sources.map(toSource), axes, opts, true) as TupleReduceExpr;
}

/** The lowest finite value of a dtype (TVM's min_value): the identity of max. */
export function minValue(dt: DataType | string): PrimExpr {
  const t = parseDType(dt);
  if (t.code === 'float')
    return toExpr(t.bits === 16 ? -65504 : t.bits === 32 ? -3.4028234663852886e38 : -Number.MAX_VALUE, t);
  if (t.code === 'bfloat') return toExpr(-3.3895313892515355e38, t);
  if (t.code === 'bool') return toExpr(0, t);
  if (t.code === 'uint') return toExpr(0, t);
  return toExpr(t.bits >= 53 ? Number.MIN_SAFE_INTEGER : -(2 ** (t.bits - 1)), t);
}
/** The largest finite value of a dtype (TVM's max_value): the identity of min. */
export function maxValue(dt: DataType | string): PrimExpr {
  const t = parseDType(dt);
  if (t.code === 'float')
    return toExpr(t.bits === 16 ? 65504 : t.bits === 32 ? 3.4028234663852886e38 : Number.MAX_VALUE, t);
  if (t.code === 'bfloat') return toExpr(3.3895313892515355e38, t);
  if (t.code === 'bool') return toExpr(1, t);
  if (t.code === 'uint') return toExpr(t.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** t.bits - 1, t);
  return toExpr(t.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** (t.bits - 1) - 1, t);
}

export const sum: Reducer = commReducer(
  (a, b) => add(a, b),
  () => 0,
  'sum',
);
export const prod: Reducer = commReducer(
  (a, b) => mul(a, b),
  () => 1,
  'prod',
);
/** Identity of max: -inf for floats, so a row of -inf reduces to -inf (not -FLT_MAX). */
export const reduceMax: Reducer = commReducer(
  (a, b) => maxExpr(a, b),
  (t) => (isFloat(parseDType(t)) ? toExpr(Number.NEGATIVE_INFINITY, parseDType(t)) : minValue(t)),
  'max',
);
/** Identity of min: +inf for floats. */
export const reduceMin: Reducer = commReducer(
  (a, b) => minExpr(a, b),
  (t) => (isFloat(parseDType(t)) ? toExpr(Number.POSITIVE_INFINITY, parseDType(t)) : maxValue(t)),
  'min',
);

/**
 * (index, value) reducers: keep the accumulator on ties, so the first occurrence along
 * the (ascending) reduction order wins, as ONNX ArgMax with select_last_index=0.
 */
export const argmaxReducer: TupleReducer = tupleCommReducer(
  (acc, v) => {
    const keep = ge(acc[1], v[1]);
    return [select(keep, acc[0], v[0]), select(keep, acc[1], v[1])];
  },
  (ts) => [-1, minValue(ts[1])],
  'argmax',
);
export const argminReducer: TupleReducer = tupleCommReducer(
  (acc, v) => {
    const keep = le(acc[1], v[1]);
    return [select(keep, acc[0], v[0]), select(keep, acc[1], v[1])];
  },
  (ts) => [-1, maxValue(ts[1])],
  'argmin',
);

/**
 * argmax of `value` along one reduction axis: a tuple reduction whose compute yields
 * two tensors, [indices (int64, relative to the axis domain start), values].
 */
export function argmax(value: ExprLike, axis: Var, opts: ReduceOptions = {}): TupleReduceExpr {
  return argmaxReducer([relIndex(axis), value], axis, opts);
}
export function argmin(value: ExprLike, axis: Var, opts: ReduceOptions = {}): TupleReduceExpr {
  return argminReducer([relIndex(axis), value], axis, opts);
}
function relIndex(axis: Var): PrimExpr {
  const dom = reduceDomains.get(axis);
  return dom && !isConstInt(dom.min, 0) ? sub(axis, dom.min) : axis;
}

// ---------------------------------------------------------------- compute

export interface ComputeOptions {
  /** Copied to the stage's block annotations. */
  attrs?: Attrs;
  /** Names of the spatial axes (default: the fcompute parameter names, else i0, i1, ...). */
  axisNames?: readonly string[];
}

type ComputeValue = ExprLike | ReduceExpr;
type ComputeMulti = TupleReduceExpr | readonly ExprLike[];

/** Parameter names of an arrow / function expression, for readable loop names. */
function paramNames(fn: (...args: Var[]) => unknown, n: number): string[] {
  const src = Function.prototype.toString.call(fn);
  const m = /^\s*(?:async\s*)?(?:function\b[^(]*)?\(?([^)=]*?)\)?\s*(?:=>|\{)/.exec(src);
  const names = m
    ? m[1].split(',').map((s) =>
        s
          .trim()
          .replace(/[:=].*$/, '')
          .trim(),
      )
    : [];
  const ok = names.length === n && names.every((s) => /^[A-Za-z_$][\w$]*$/.test(s));
  return Array.from({ length: n }, (_, i) => (ok ? names[i] : `i${i}`));
}

/**
 * A compute stage: `out[i, j, ...] = fcompute(i, j, ...)`. The body is an expression,
 * a reduction (`sum(...)`, `reduceMax(...)`), an array of expressions (several outputs
 * of one shape) or a tuple reduction (`argmax(...)`, several outputs).
 */
export function compute(
  shape: readonly ExprLike[],
  fcompute: (...indices: Var[]) => ComputeMulti,
  name?: string,
  opts?: ComputeOptions,
): Tensor[];
export function compute(
  shape: readonly ExprLike[],
  fcompute: (...indices: Var[]) => ComputeValue,
  name?: string,
  opts?: ComputeOptions,
): Tensor;
export function compute(
  shape: readonly ExprLike[],
  fcompute: (...indices: Var[]) => ComputeValue | ComputeMulti,
  name = 'compute',
  opts: ComputeOptions = {},
): Tensor | Tensor[] {
  const shp = Object.freeze(shapeExprs(shape, `compute '${name}'`));
  const names = opts.axisNames ?? paramNames(fcompute, shp.length);
  if (names.length !== shp.length)
    throw new KilnError(
      ErrorCodes.INVALID_ARGUMENT,
      `compute '${name}': ${names.length} axis names for ${shp.length} dimensions`,
    );
  const axis = Object.freeze(names.map((n) => primVar(n, DType.int64)));
  const out = fcompute(...axis);

  let body: ComputeBody;
  let multi: boolean;
  if (isReduceExpr(out)) {
    body = Object.freeze({ kind: 'reduce', reduce: out });
    multi = out.tuple;
  } else if (Array.isArray(out)) {
    const vals = (out as readonly ExprLike[]).map((v) => {
      if (isReduceExpr(v))
        throw new KilnError(
          ErrorCodes.INVALID_ARGUMENT,
          `compute '${name}': combine several reductions with a tuple reducer, not an array`,
        );
      return toSource(v);
    });
    if (vals.length === 0)
      throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `compute '${name}' returned no values`);
    body = Object.freeze({ kind: 'values', values: Object.freeze(vals) });
    multi = true;
  } else {
    body = Object.freeze({ kind: 'values', values: Object.freeze([toSource(out as ExprLike)]) });
    multi = false;
  }

  const values = body.kind === 'values' ? body.values : body.reduce.sources;
  const outputs: Tensor[] = [];
  const op: ComputeOp = {
    kind: 'compute',
    name,
    axis,
    shape: shp,
    body,
    inputs: Object.freeze(findInputs(body)),
    outputs,
    attrs: Object.freeze({ ...(opts.attrs ?? {}) }),
  };
  for (const [i, v] of values.entries()) {
    outputs.push(makeTensor(values.length === 1 ? name : `${name}_v${i}`, shp, v.dtype, op, i));
  }
  Object.freeze(outputs);
  Object.freeze(op);
  return multi ? [...outputs] : outputs[0];
}

function findInputs(body: ComputeBody): Tensor[] {
  const exprs: PrimExpr[] =
    body.kind === 'values'
      ? [...body.values]
      : [
          ...body.reduce.sources,
          ...(body.reduce.where ? [body.reduce.where] : []),
          ...(body.reduce.init ?? []),
        ];
  const found = new Set<Tensor>();
  const seen = new Set<object>();
  const walk = (e: object): void => {
    if (seen.has(e)) return;
    seen.add(e);
    const rec = e as Record<string, unknown>;
    if (rec.kind === 'BufferLoad') {
      const t = tensorOfBuffer.get(rec.buffer as Buffer);
      if (t) found.add(t);
    }
    for (const [k, v] of Object.entries(rec)) {
      if (k === 'buffer' || k === 'dtype' || k === 'span') continue;
      if (Array.isArray(v)) for (const c of v) if (typeof c === 'object' && c !== null) walk(c);
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v) walk(v);
    }
  };
  for (const e of exprs) walk(e);
  return [...found];
}

// ---------------------------------------------------------------- broadcasting helpers

function constIntOf(e: PrimExpr | undefined): number | undefined {
  return e !== undefined && e.kind === 'IntImm' ? e.value : undefined;
}

/**
 * The NumPy broadcast of several shapes (right-aligned). Constant 1 dims stretch; two
 * different constants are a SHAPE_MISMATCH; for two different symbolic dims the first
 * non-1 one wins (the caller asserts they agree at run time).
 */
export function broadcastShapes(...shapes: ReadonlyArray<readonly ExprLike[]>): PrimExpr[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: PrimExpr[] = [];
  for (let d = 0; d < rank; d++) {
    let cur: PrimExpr | undefined;
    for (const s of shapes) {
      const k = d - (rank - s.length);
      if (k < 0) continue;
      const e = typeof s[k] === 'object' ? (s[k] as PrimExpr) : toExpr(s[k], DType.int64);
      const c = constIntOf(cur);
      const v = constIntOf(e);
      if (cur === undefined || c === 1) cur = e;
      else if (v === 1) continue;
      else if (c !== undefined && v !== undefined && c !== v) {
        throw new KilnError(ErrorCodes.SHAPE_MISMATCH, `cannot broadcast dimension ${d}: ${c} vs ${v}`);
      }
    }
    out.push(cur ?? toExpr(1, DType.int64));
  }
  return out;
}

/**
 * An elementwise stage over broadcast inputs: `fn` gets one loaded element per input
 * (plus the output indices) and returns the output value.
 */
export function broadcastCompute(
  inputs: readonly Tensor[],
  fn: (values: PrimExpr[], indices: Var[]) => ExprLike,
  name = 'T_broadcast',
  opts: ComputeOptions = {},
): Tensor {
  const shape = broadcastShapes(...inputs.map((t) => t.shape));
  const names = opts.axisNames ?? shape.map((_, i) => `ax${i}`);
  return compute(
    shape,
    (...idx: Var[]) =>
      fn(
        inputs.map((t) => t.atBroadcast(idx)),
        idx,
      ),
    name,
    { ...opts, axisNames: names },
  );
}

/** Constant padding (`pad_value` outside), as topi.nn.pad; reads use if_then_else so nothing out of bounds is touched. */
export function pad(
  t: Tensor,
  before: readonly ExprLike[],
  after: readonly ExprLike[],
  padValue: ExprLike = 0,
  name = 'T_pad',
): Tensor {
  const shape = t.shape.map((s, d) => add(add(s, before[d] ?? 0), after[d] ?? 0));
  return compute(
    shape,
    (...idx: Var[]) => {
      let cond: PrimExpr | undefined;
      const src: PrimExpr[] = [];
      idx.forEach((i, d) => {
        const b = before[d] ?? 0;
        const isZero = b === 0 || (typeof b === 'object' && isConstInt(b, 0));
        const a = after[d] ?? 0;
        const aZero = a === 0 || (typeof a === 'object' && isConstInt(a, 0));
        src.push(isZero ? i : sub(i, b));
        const c0 = isZero ? undefined : ge(i, b);
        const c1 = aZero ? undefined : lt(i, add(b, t.shape[d]));
        for (const c of [c0, c1]) if (c) cond = cond ? andExpr(cond, c) : c;
      });
      const v = t.at(...src);
      return cond ? ifThenElseExpr(cond, v, toExpr(padValue, t.dtype)) : v;
    },
    name,
    { axisNames: shape.map((_, i) => `i${i}`) },
  );
}
