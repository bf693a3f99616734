// Factories for Relax expressions, bindings, blocks and functions. Leaves whose
// StructInfo needs no operator registry (constants, shapes, prim values, strings) get it
// at construction; calls, tuples of unnormalized fields, Ifs and SeqExprs get it from
// the normalizer (BlockBuilder).
import type { Attrs, DataType, ExprLike, PrimExpr, Span } from '@kiln/ir-core';
import {
  DType,
  ErrorCodes,
  freezeNode,
  isLowPrecisionFloat,
  isSubByteInt,
  KilnError,
  minifloatStorageOf,
  dtype as parseDType,
  toExpr,
  wrapSubByteInt,
} from '@kiln/ir-core';
import type {
  AnyVar,
  Binding,
  BindingBlock,
  Block,
  Call,
  Constant,
  DataflowBlock,
  DataflowVar,
  Expr,
  ExternFunc,
  GlobalVar,
  If,
  MatchCast,
  Op,
  PrimValue,
  RelaxFunction,
  SeqExpr,
  ShapeExpr,
  StringImm,
  StructInfo,
  Tuple,
  TupleGetItem,
  TypedArray,
  Var,
  VarBinding,
} from './nodes.js';
// Side effect: the node kinds must be declared before any node is built.
import './nodes.js';
import { bfloatBits, halfBits } from '../text/data.js';
import { funcSInfo, makeShapeExpr, objectSInfo, primSInfo, tensorSInfo, tupleSInfo } from './struct-info.js';

export function relaxVar(name: string, structInfo: StructInfo, span?: Span): Var {
  return freezeNode({ kind: 'relax.Var', name, structInfo, span });
}
export function dataflowVar(name: string, structInfo: StructInfo, span?: Span): DataflowVar {
  return freezeNode({ kind: 'relax.DataflowVar', name, structInfo, span });
}

/** The TypedArray class that stores elements of `dt` (bool as bytes, 16-bit floats as their bits). */
export function typedArrayFor(dt: DataType, length: number): TypedArray {
  switch (dt.code) {
    case 'float':
      return dt.bits === 64
        ? new Float64Array(length)
        : dt.bits === 32
          ? new Float32Array(length)
          : new Uint16Array(length);
    case 'bfloat':
      return new Uint16Array(length);
    case 'int':
      // int2/int4 are stored one (sign-extended) element per byte.
      return dt.bits <= 8
        ? new Int8Array(length)
        : dt.bits === 16
          ? new Int16Array(length)
          : dt.bits === 32
            ? new Int32Array(length)
            : new BigInt64Array(length);
    case 'uint':
      return dt.bits <= 8
        ? new Uint8Array(length)
        : dt.bits === 16
          ? new Uint16Array(length)
          : dt.bits === 32
            ? new Uint32Array(length)
            : new BigUint64Array(length);
    case 'bool':
      return new Uint8Array(length);
    default:
      // float8 / float4 hold their bit codes, one element per byte.
      if (isLowPrecisionFloat(dt)) return new Uint8Array(length);
      throw new KilnError(ErrorCodes.UNSUPPORTED, `no tensor storage for dtype ${dt.str}`);
  }
}

/**
 * A tensor constant. `data` is a TypedArray (used as is) or numbers (converted to the
 * storage of `dt`); its length must be the product of `shape`.
 */
export function constant(
  data: TypedArray | readonly number[],
  shape: readonly number[],
  dt: DataType | string = DType.float32,
  span?: Span,
): Constant {
  const t = parseDType(dt);
  const size = shape.reduce((a, b) => a * b, 1);
  let arr: TypedArray;
  if (ArrayBuffer.isView(data)) arr = data as TypedArray;
  else {
    if (data.length !== size) {
      throw new KilnError(
        ErrorCodes.SHAPE_MISMATCH,
        `constant of shape [${shape.join(', ')}] needs ${size} elements, got ${data.length}`,
      );
    }
    arr = typedArrayFor(t, size);
    const nums = data as readonly number[];
    if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) {
      for (let i = 0; i < nums.length; i++) arr[i] = BigInt(Math.trunc(nums[i]));
    } else if (t.code === 'float' && t.bits === 16) {
      // 16-bit floats are stored as their bit patterns: convert, do not truncate.
      for (let i = 0; i < nums.length; i++) arr[i] = halfBits(nums[i]);
    } else if (t.code === 'bfloat') {
      for (let i = 0; i < nums.length; i++) arr[i] = bfloatBits(nums[i]);
    } else if (isLowPrecisionFloat(t)) {
      for (let i = 0; i < nums.length; i++) arr[i] = minifloatStorageOf(t, nums[i]);
    } else if (isSubByteInt(t)) {
      for (let i = 0; i < nums.length; i++) arr[i] = wrapSubByteInt(t, nums[i]);
    } else for (let i = 0; i < nums.length; i++) (arr as Float32Array)[i] = nums[i];
  }
  if (arr.length !== size) {
    throw new KilnError(
      ErrorCodes.SHAPE_MISMATCH,
      `constant of shape [${shape.join(', ')}] needs ${size} elements, got ${arr.length}`,
    );
  }
  return freezeNode({
    kind: 'relax.Constant',
    dtype: t,
    shape: Object.freeze([...shape]),
    data: arr,
    structInfo: tensorSInfo(shape, t),
    span,
  });
}
/** A 0-d constant. */
export function scalarConstant(value: number, dt: DataType | string = DType.float32): Constant {
  return constant([value], [], dt);
}

export function tuple(fields: readonly Expr[], span?: Span): Tuple {
  const all = fields.every((f) => f.structInfo !== undefined);
  return freezeNode({
    kind: 'relax.Tuple',
    fields: Object.freeze([...fields]),
    structInfo: all ? tupleSInfo(fields.map((f) => f.structInfo!)) : undefined,
    span,
  });
}
export function tupleGetItem(t: Expr, index: number, span?: Span): TupleGetItem {
  if (!Number.isInteger(index) || index < 0)
    throw new KilnError(ErrorCodes.INVALID_ARGUMENT, `tuple index ${index} is not a non-negative integer`);
  return freezeNode({ kind: 'relax.TupleGetItem', tuple: t, index, structInfo: undefined, span });
}
export function shapeExpr(values: readonly ExprLike[], span?: Span): ShapeExpr {
  return makeShapeExpr(values, span);
}
export function primValue(value: ExprLike, span?: Span): PrimValue {
  const v = toExpr(value);
  return freezeNode({ kind: 'relax.PrimValue', value: v, structInfo: primSInfo(v.dtype, v), span });
}
export function relaxStringImm(value: string, span?: Span): StringImm {
  return freezeNode({ kind: 'relax.StringImm', value, structInfo: objectSInfo(), span });
}

// Op nodes are interned: an Op is a name, and sharing keeps `call.op === opRef(name)` cheap.
const opCache = new Map<string, Op>();
/** The callee node for a registered operator name (`relax.add`). */
export function opRef(name: string): Op {
  let o = opCache.get(name);
  if (!o) {
    o = freezeNode<Op>({ kind: 'relax.Op', name, structInfo: undefined });
    opCache.set(name, o);
  }
  return o;
}
export function globalVar(name: string, structInfo?: StructInfo, span?: Span): GlobalVar {
  return freezeNode({ kind: 'relax.GlobalVar', name, structInfo, span });
}
export function externFunc(globalSymbol: string, structInfo?: StructInfo, span?: Span): ExternFunc {
  return freezeNode({ kind: 'relax.ExternFunc', globalSymbol, structInfo, span });
}

export interface CallOptions {
  attrs?: Attrs;
  sinfoArgs?: readonly StructInfo[];
  structInfo?: StructInfo;
  span?: Span;
}
/** A call of an operator (by name or Op), a module function (GlobalVar), an extern function or a function-valued var. */
export function call(op: string | Call['op'], args: readonly Expr[], opts: CallOptions = {}): Call {
  return freezeNode({
    kind: 'relax.Call',
    op: typeof op === 'string' ? opRef(op) : op,
    args: Object.freeze([...args]),
    attrs: Object.freeze({ ...(opts.attrs ?? {}) }),
    sinfoArgs: Object.freeze([...(opts.sinfoArgs ?? [])]),
    structInfo: opts.structInfo,
    span: opts.span,
  });
}
/** The operator name of a call of a registered op, else undefined. */
export function callOpName(c: Call): string | undefined {
  return c.op.kind === 'relax.Op' ? c.op.name : undefined;
}
export function isOpCall(e: Expr, name?: string): e is Call {
  return e.kind === 'relax.Call' && e.op.kind === 'relax.Op' && (name === undefined || e.op.name === name);
}

export function ifExpr(cond: Expr, trueBranch: Expr, falseBranch: Expr, span?: Span): If {
  return freezeNode({ kind: 'relax.If', cond, trueBranch, falseBranch, structInfo: undefined, span });
}
export function varBinding(v: AnyVar, value: Expr, span?: Span): VarBinding {
  return freezeNode({ kind: 'relax.VarBinding', var: v, value, span });
}
export function matchCast(v: AnyVar, value: Expr, structInfo: StructInfo, span?: Span): MatchCast {
  return freezeNode({ kind: 'relax.MatchCast', var: v, value, structInfo, span });
}
export function bindingBlock(bindings: readonly Binding[], span?: Span): BindingBlock {
  return freezeNode({ kind: 'relax.BindingBlock', bindings: Object.freeze([...bindings]), span });
}
export function dataflowBlock(bindings: readonly Binding[], span?: Span): DataflowBlock {
  return freezeNode({ kind: 'relax.DataflowBlock', bindings: Object.freeze([...bindings]), span });
}
export function seqExpr(blocks: readonly Block[], body: Expr, span?: Span): SeqExpr {
  return freezeNode({
    kind: 'relax.SeqExpr',
    blocks: Object.freeze([...blocks]),
    body,
    structInfo: body.structInfo,
    span,
  });
}

export interface FunctionOptions {
  attrs?: Attrs;
  isPure?: boolean;
  span?: Span;
}
/** A Relax function; its StructInfo is derived from the params and `retStructInfo`. */
export function relaxFunction(
  params: readonly Var[],
  body: Expr,
  retStructInfo: StructInfo,
  opts: FunctionOptions = {},
): RelaxFunction {
  const isPure = opts.isPure ?? true;
  return freezeNode({
    kind: 'relax.Function',
    params: Object.freeze([...params]),
    body,
    retStructInfo,
    isPure,
    attrs: Object.freeze({ ...(opts.attrs ?? {}) }),
    structInfo: funcSInfo(
      params.map((p) => p.structInfo),
      retStructInfo,
      { pure: isPure },
    ),
    span: opts.span,
  });
}

/** A copy of `e` carrying `sinfo` (identity if it already does). */
export function withStructInfo<T extends Expr>(e: T, sinfo: StructInfo): T {
  if (e.structInfo === sinfo) return e;
  if (e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar') {
    throw new KilnError(
      ErrorCodes.INTERNAL,
      `internal error: cannot change the StructInfo of variable '${e.name}'`,
    );
  }
  return Object.freeze({ ...e, structInfo: sinfo }) as unknown as T;
}

/** Dims as PrimExprs (int64). */
export function dims(values: readonly ExprLike[]): PrimExpr[] {
  return values.map((v) => toExpr(v, DType.int64));
}
