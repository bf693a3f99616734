// PrimExpr: scalar (and vector-lane) expressions over integers, floats and booleans.
// Used for symbolic shapes everywhere and, in TensorIR, for index and value arithmetic.
// Factories build nodes without simplifying them; `simplify` (arith/) does that.
import type { DataType } from './dtype.js';
import {
  DType,
  elementOf,
  isFloat,
  isIntegral,
  isLowPrecisionFloat,
  dtype as parseDType,
  withLanes,
} from './dtype.js';
import type { Span } from './errors.js';
import { ErrorCodes, KilnError } from './errors.js';
import { defineNodeKinds, freezeNode } from './node.js';

interface Base {
  readonly dtype: DataType;
  readonly span?: Span;
}

export interface IntImm extends Base {
  readonly kind: 'IntImm';
  readonly value: number;
}
export interface FloatImm extends Base {
  readonly kind: 'FloatImm';
  readonly value: number;
}
export interface StringImm extends Base {
  readonly kind: 'StringImm';
  readonly value: string;
}
/** A scalar variable. Identity is the object: two Vars with the same name are different. */
export interface Var extends Base {
  readonly kind: 'Var';
  readonly name: string;
}

export type BinaryKind =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Mod'
  | 'FloorDiv'
  | 'FloorMod'
  | 'Min'
  | 'Max'
  | 'EQ'
  | 'NE'
  | 'LT'
  | 'LE'
  | 'GT'
  | 'GE'
  | 'And'
  | 'Or';
export interface Binary<K extends BinaryKind = BinaryKind> extends Base {
  readonly kind: K;
  readonly a: PrimExpr;
  readonly b: PrimExpr;
}
export type Add = Binary<'Add'>;
export type Sub = Binary<'Sub'>;
export type Mul = Binary<'Mul'>;
/** Truncated division (C semantics for ints; true division for floats). */
export type Div = Binary<'Div'>;
/** Truncated remainder (C semantics). */
export type Mod = Binary<'Mod'>;
export type FloorDiv = Binary<'FloorDiv'>;
export type FloorMod = Binary<'FloorMod'>;
export type Min = Binary<'Min'>;
export type Max = Binary<'Max'>;
export type EQ = Binary<'EQ'>;
export type NE = Binary<'NE'>;
export type LT = Binary<'LT'>;
export type LE = Binary<'LE'>;
export type GT = Binary<'GT'>;
export type GE = Binary<'GE'>;
export type And = Binary<'And'>;
export type Or = Binary<'Or'>;

export interface Not extends Base {
  readonly kind: 'Not';
  readonly a: PrimExpr;
}
export interface Select extends Base {
  readonly kind: 'Select';
  readonly cond: PrimExpr;
  readonly t: PrimExpr;
  readonly f: PrimExpr;
}
export interface Cast extends Base {
  readonly kind: 'Cast';
  readonly value: PrimExpr;
}
/** A call of a named intrinsic (`exp`, `sqrt`, `tir.reinterpret`, ...). */
export interface Call extends Base {
  readonly kind: 'Call';
  readonly op: string;
  readonly args: readonly PrimExpr[];
}
export interface Let extends Base {
  readonly kind: 'Let';
  readonly var: Var;
  readonly value: PrimExpr;
  readonly body: PrimExpr;
}
/** Vector `base, base+stride, ..., base+(lanes-1)*stride`. */
export interface Ramp extends Base {
  readonly kind: 'Ramp';
  readonly base: PrimExpr;
  readonly stride: PrimExpr;
  readonly lanes: number;
}
export interface Broadcast extends Base {
  readonly kind: 'Broadcast';
  readonly value: PrimExpr;
  readonly lanes: number;
}

/**
 * A multi-dimensional array in memory. It lives here (not in tensorir) because loads
 * are expressions and PrimExpr is one closed union; tensorir re-exports it.
 */
export interface Buffer {
  readonly kind: 'Buffer';
  readonly span?: Span;
  readonly name: string;
  /**
   * The storage this buffer views (a `handle` Var). Buffers that share `data` alias the
   * same memory (a flattened view, a reused allocation).
   */
  readonly data: Var;
  readonly dtype: DataType;
  readonly shape: readonly PrimExpr[];
  /** Empty for compact row-major. */
  readonly strides: readonly PrimExpr[];
  readonly elemOffset: PrimExpr;
  /** `global`, `shared`, `local`, or a target-specific name (`wmma.accumulator`). */
  readonly scope: string;
  /** Required alignment of the data pointer in bytes. */
  readonly align: number;
}

export interface BufferLoad extends Base {
  readonly kind: 'BufferLoad';
  readonly buffer: Buffer;
  readonly indices: readonly PrimExpr[];
}

export type PrimExpr =
  | IntImm
  | FloatImm
  | StringImm
  | Var
  | Add
  | Sub
  | Mul
  | Div
  | Mod
  | FloorDiv
  | FloorMod
  | Min
  | Max
  | EQ
  | NE
  | LT
  | LE
  | GT
  | GE
  | And
  | Or
  | Not
  | Select
  | Cast
  | Call
  | Let
  | Ramp
  | Broadcast
  | BufferLoad;

export type PrimExprKind = PrimExpr['kind'];

const BINARY: Record<string, { fields: { a: 'node'; b: 'node'; dtype: 'value' } }> = {};
for (const k of [
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Mod',
  'FloorDiv',
  'FloorMod',
  'Min',
  'Max',
  'EQ',
  'NE',
  'LT',
  'LE',
  'GT',
  'GE',
  'And',
  'Or',
]) {
  BINARY[k] = { fields: { a: 'node', b: 'node', dtype: 'value' } };
}

defineNodeKinds('prim', {
  IntImm: { fields: { dtype: 'value', value: 'value' } },
  FloatImm: { fields: { dtype: 'value', value: 'value' } },
  StringImm: { fields: { dtype: 'value', value: 'value' } },
  Var: { fields: { dtype: 'value', name: 'ignore' }, isVar: true },
  ...BINARY,
  Not: { fields: { a: 'node', dtype: 'value' } },
  Select: { fields: { cond: 'node', t: 'node', f: 'node', dtype: 'value' } },
  Cast: { fields: { value: 'node', dtype: 'value' } },
  Call: { fields: { op: 'value', args: 'node[]', dtype: 'value' } },
  Let: { fields: { value: 'node', var: 'binder', body: 'node', dtype: 'value' } },
  Ramp: { fields: { base: 'node', stride: 'node', lanes: 'value', dtype: 'value' } },
  Broadcast: { fields: { value: 'node', lanes: 'value', dtype: 'value' } },
  Buffer: {
    fields: {
      name: 'ignore',
      data: 'binder',
      dtype: 'value',
      shape: 'node[]',
      strides: 'node[]',
      elemOffset: 'node',
      scope: 'value',
      align: 'value',
    },
    isVar: true,
  },
  BufferLoad: { fields: { buffer: 'node', indices: 'node[]', dtype: 'value' } },
  Range: { fields: { min: 'node', extent: 'node' } },
});

/** The half-open interval `[min, min + extent)` (loop domains, buffer regions). */
export interface Range {
  readonly kind: 'Range';
  readonly span?: Span;
  readonly min: PrimExpr;
  readonly extent: PrimExpr;
}
export function range(min: ExprLike, extent: ExprLike, span?: Span): Range {
  const [m, e] =
    typeof min === 'object' || typeof extent === 'object'
      ? unifyPair(min, extent)
      : [toExpr(min), toExpr(extent)];
  return freezeNode({ kind: 'Range', min: m, extent: e, span });
}
function unifyPair(a: ExprLike, b: ExprLike): [PrimExpr, PrimExpr] {
  return unify(a, b, 'Range');
}

export const BINARY_KINDS: ReadonlySet<string> = new Set(Object.keys(BINARY));
const COMPARE_KINDS: ReadonlySet<string> = new Set(['EQ', 'NE', 'LT', 'LE', 'GT', 'GE']);

export function isPrimExpr(x: unknown): x is PrimExpr {
  if (typeof x !== 'object' || x === null) return false;
  const k = (x as { kind?: unknown }).kind;
  return typeof k === 'string' && PRIM_KINDS.has(k);
}
const PRIM_KINDS: ReadonlySet<string> = new Set([
  'IntImm',
  'FloatImm',
  'StringImm',
  'Var',
  ...Object.keys(BINARY),
  'Not',
  'Select',
  'Cast',
  'Call',
  'Let',
  'Ramp',
  'Broadcast',
  'BufferLoad',
]);

/** Something that can become a PrimExpr: a node, or a JS number (int32 if integral, else float32). */
export type ExprLike = PrimExpr | number | boolean;

// ---------------------------------------------------------------- factories

export function intImm(value: number, dt: DataType | string = DType.int64, span?: Span): IntImm {
  const t = parseDType(dt);
  if (!Number.isInteger(value))
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `IntImm value ${value} is not an integer`);
  if (!isIntegral(t)) throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `IntImm of non-integer dtype ${t.str}`);
  return freezeNode({ kind: 'IntImm', dtype: t, value: t.code === 'bool' ? (value ? 1 : 0) : value, span });
}
export function floatImm(value: number, dt: DataType | string = DType.float32, span?: Span): FloatImm {
  const t = parseDType(dt);
  // A float8/float4 immediate holds its value; tir.LegalizeLowPrecision encodes it.
  if (!isFloat(t) && !isLowPrecisionFloat(t))
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `FloatImm of non-float dtype ${t.str}`);
  return freezeNode({ kind: 'FloatImm', dtype: t, value, span });
}
export function stringImm(value: string, span?: Span): StringImm {
  return freezeNode({ kind: 'StringImm', dtype: DType.handle, value, span });
}
export function boolImm(value: boolean, span?: Span): IntImm {
  return intImm(value ? 1 : 0, DType.bool, span);
}
/** A fresh variable (index variables default to int64, as shape arithmetic does). */
export function primVar(name: string, dt: DataType | string = DType.int64, span?: Span): Var {
  return freezeNode({ kind: 'Var', name, dtype: parseDType(dt), span });
}

/** Turn a JS number/boolean into an immediate of `like`'s dtype (or int64/float32 by default). */
export function toExpr(x: ExprLike, like?: DataType): PrimExpr {
  if (typeof x === 'object') return x;
  if (typeof x === 'boolean') return boolImm(x);
  const t = like ? elementOf(like) : Number.isInteger(x) ? DType.int64 : DType.float32;
  const e =
    isFloat(t) || isLowPrecisionFloat(t)
      ? floatImm(x, t)
      : Number.isInteger(x)
        ? intImm(x, t)
        : floatImm(x, DType.float32);
  return like && like.lanes > 1 ? broadcast(e, like.lanes) : e;
}

/** Unify the dtypes of two operands: numbers adopt the other side's dtype; ints widen. */
function unify(a: ExprLike, b: ExprLike, op: string): [PrimExpr, PrimExpr] {
  if (typeof a !== 'object' && typeof b !== 'object') return [toExpr(a), toExpr(b)];
  if (typeof a !== 'object') {
    const bb = b as PrimExpr;
    return [toExpr(a, bb.dtype), bb];
  }
  if (typeof b !== 'object') return [a, toExpr(b, a.dtype)];
  if (a.dtype === b.dtype) return [a, b];
  const ta = a.dtype;
  const tb = b.dtype;
  if (ta.lanes === tb.lanes && ta.code === tb.code && ta.code !== 'float' && ta.code !== 'bfloat') {
    return ta.bits > tb.bits ? [a, cast(ta, b)] : [cast(tb, a), b];
  }
  if (ta.lanes !== tb.lanes) {
    if (ta.lanes === 1 && elementOf(tb) === ta) return [broadcast(a, tb.lanes), b];
    if (tb.lanes === 1 && elementOf(ta) === tb) return [a, broadcast(b, ta.lanes)];
  }
  throw new KilnError(
    ErrorCodes.DTYPE_MISMATCH,
    `operands of '${op}' have different dtypes: ${ta.str} and ${tb.str}`,
  );
}

export function binary<K extends BinaryKind>(kind: K, a: ExprLike, b: ExprLike, span?: Span): Binary<K> {
  const [x, y] = unify(a, b, kind);
  let t = x.dtype;
  if (COMPARE_KINDS.has(kind)) t = withLanes(DType.bool, x.dtype.lanes);
  else if (kind === 'And' || kind === 'Or') {
    if (x.dtype.code !== 'bool')
      throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `'${kind}' needs bool operands, got ${x.dtype.str}`);
  }
  return freezeNode({ kind, a: x, b: y, dtype: t, span }) as Binary<K>;
}

export const add = (a: ExprLike, b: ExprLike): Add => binary('Add', a, b);
export const sub = (a: ExprLike, b: ExprLike): Sub => binary('Sub', a, b);
export const mul = (a: ExprLike, b: ExprLike): Mul => binary('Mul', a, b);
export const div = (a: ExprLike, b: ExprLike): Div => binary('Div', a, b);
export const truncmod = (a: ExprLike, b: ExprLike): Mod => binary('Mod', a, b);
export const floordiv = (a: ExprLike, b: ExprLike): FloorDiv => binary('FloorDiv', a, b);
export const floormod = (a: ExprLike, b: ExprLike): FloorMod => binary('FloorMod', a, b);
export const min = (a: ExprLike, b: ExprLike): Min => binary('Min', a, b);
export const max = (a: ExprLike, b: ExprLike): Max => binary('Max', a, b);
export const eq = (a: ExprLike, b: ExprLike): EQ => binary('EQ', a, b);
export const ne = (a: ExprLike, b: ExprLike): NE => binary('NE', a, b);
export const lt = (a: ExprLike, b: ExprLike): LT => binary('LT', a, b);
export const le = (a: ExprLike, b: ExprLike): LE => binary('LE', a, b);
export const gt = (a: ExprLike, b: ExprLike): GT => binary('GT', a, b);
export const ge = (a: ExprLike, b: ExprLike): GE => binary('GE', a, b);
export const and = (a: ExprLike, b: ExprLike): And => binary('And', a, b);
export const or = (a: ExprLike, b: ExprLike): Or => binary('Or', a, b);

export function not(a: ExprLike, span?: Span): Not {
  const x = toExpr(a);
  if (x.dtype.code !== 'bool')
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `'Not' needs a bool operand, got ${x.dtype.str}`);
  return freezeNode({ kind: 'Not', a: x, dtype: x.dtype, span });
}
export function select(cond: ExprLike, t: ExprLike, f: ExprLike, span?: Span): Select {
  const c = toExpr(cond);
  if (c.dtype.code !== 'bool')
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `Select condition must be bool, got ${c.dtype.str}`);
  const [x, y] = unify(t, f, 'Select');
  return freezeNode({ kind: 'Select', cond: c, t: x, f: y, dtype: x.dtype, span });
}
export function cast(dt: DataType | string, value: ExprLike, span?: Span): Cast {
  const t = parseDType(dt);
  return freezeNode({ kind: 'Cast', value: toExpr(value), dtype: t, span });
}
export function call(dt: DataType | string, op: string, args: readonly ExprLike[], span?: Span): Call {
  return freezeNode({
    kind: 'Call',
    op,
    args: Object.freeze(args.map((a) => toExpr(a))),
    dtype: parseDType(dt),
    span,
  });
}
export function letExpr(v: Var, value: ExprLike, body: PrimExpr, span?: Span): Let {
  return freezeNode({ kind: 'Let', var: v, value: toExpr(value, v.dtype), body, dtype: body.dtype, span });
}
export function ramp(base: ExprLike, stride: ExprLike, lanes: number, span?: Span): Ramp {
  const [b, s] = unify(base, stride, 'Ramp');
  if (b.dtype.lanes !== 1)
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `Ramp base must be scalar, got ${b.dtype.str}`);
  return freezeNode({ kind: 'Ramp', base: b, stride: s, lanes, dtype: withLanes(b.dtype, lanes), span });
}
export function broadcast(value: ExprLike, lanes: number, span?: Span): Broadcast {
  const v = toExpr(value);
  if (v.dtype.lanes !== 1)
    throw new KilnError(ErrorCodes.DTYPE_MISMATCH, `Broadcast value must be scalar, got ${v.dtype.str}`);
  return freezeNode({ kind: 'Broadcast', value: v, lanes, dtype: withLanes(v.dtype, lanes), span });
}

export interface BufferOptions {
  /** Alias the storage of another buffer (its `data` var); a fresh one by default. */
  data?: Var;
  strides?: readonly ExprLike[];
  elemOffset?: ExprLike;
  scope?: string;
  align?: number;
  span?: Span;
}
export function buffer(
  name: string,
  dt: DataType | string,
  shape: readonly ExprLike[],
  opts: BufferOptions = {},
): Buffer {
  return freezeNode({
    kind: 'Buffer',
    name,
    data: opts.data ?? primVar(name, DType.handle),
    dtype: parseDType(dt),
    shape: Object.freeze(shape.map((s) => toExpr(s))),
    strides: Object.freeze((opts.strides ?? []).map((s) => toExpr(s))),
    elemOffset: toExpr(opts.elemOffset ?? 0),
    scope: opts.scope ?? 'global',
    align: opts.align ?? 64,
    span: opts.span,
  });
}
export function bufferLoad(buf: Buffer, indices: readonly ExprLike[], span?: Span): BufferLoad {
  const idx = Object.freeze(indices.map((i) => toExpr(i)));
  const lanes = idx.reduce((l, i) => Math.max(l, i.dtype.lanes), 1);
  return freezeNode({
    kind: 'BufferLoad',
    buffer: buf,
    indices: idx,
    dtype: withLanes(buf.dtype, buf.dtype.lanes * lanes),
    span,
  });
}

// ---------------------------------------------------------------- helpers

export function isConstInt(e: PrimExpr, value?: number): e is IntImm {
  return e.kind === 'IntImm' && (value === undefined || e.value === value);
}
/** The integer value of a constant expression, if it is one. */
export function constIntValue(e: PrimExpr): number | undefined {
  return e.kind === 'IntImm' ? e.value : undefined;
}
