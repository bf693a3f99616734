// What a converter sees: the node's inputs as OnnxValues (a Relax expression, a tensor
// known at import time, or a small int tensor of symbolic shape values), typed attribute
// getters, and helpers that emit Relax calls through the BlockBuilder. Values known at
// import time stay on the host so shape computations (Shape → Gather → Concat → Reshape)
// fold instead of becoming runtime work.
import type { DataType, PrimExpr } from '@kiln/ir-core';
import { add, DType, intImm } from '@kiln/ir-core';
import type { BlockBuilder, Expr, StructInfo, TensorStructInfo } from '@kiln/relax';
import { constDim, op, sinfoToString, tensorShape, tensorSInfo } from '@kiln/relax';
import { OnnxErrorCodes } from './errors.js';
import type { HostTensor } from './host.js';
import { hostTensor, toConstant } from './host.js';
import type { AttrValue, GraphProto, NodeProto } from './proto.js';

/** A value flowing along an ONNX edge. */
export type OnnxValue =
  | { readonly kind: 'expr'; readonly expr: Expr }
  | { readonly kind: 'host'; readonly t: HostTensor }
  /** An int tensor (rank ≤ 1) holding symbolic dims, e.g. the Shape of a tensor with a `batch` dim. */
  | {
      readonly kind: 'sym';
      readonly dtype: string;
      readonly shape: readonly number[];
      readonly values: readonly PrimExpr[];
    };

export const exprValue = (expr: Expr): OnnxValue => ({ kind: 'expr', expr });
export const hostValue = (t: HostTensor): OnnxValue => ({ kind: 'host', t });
/** Symbolic int values; folds to a host tensor when every value is a constant. */
export function symValue(dtype: string, shape: readonly number[], values: readonly PrimExpr[]): OnnxValue {
  const cs = values.map((v) => constDim(v));
  if (cs.every((c) => c !== undefined)) return hostValue(hostTensor(dtype, shape, cs as number[]));
  return { kind: 'sym', dtype, shape, values };
}

/** Per-node conversion context. */
export interface NodeContext {
  readonly node: NodeProto;
  readonly opType: string;
  /** The opset version of the node's domain in this model. */
  readonly opset: number;
  readonly bb: BlockBuilder;
  /** `OpType 'name'` for messages. */
  readonly where: string;
  readonly numInputs: number;
  readonly numOutputs: number;
  /** Input `i`, or undefined when absent / given as the empty name. */
  input(i: number): OnnxValue | undefined;
  /** Input `i`, which must be present. */
  req(i: number): OnnxValue;
  hasAttr(name: string): boolean;
  attr(name: string): AttrValue | undefined;
  int(name: string, def: number): number;
  float(name: string, def: number): number;
  str(name: string, def: string): string;
  ints(name: string): number[] | undefined;
  floats(name: string): number[] | undefined;
  strs(name: string): string[] | undefined;
  tensorAttr(name: string): HostTensor | undefined;
  graph(name: string): GraphProto | undefined;
  /** Whether output `i` is consumed (named). */
  wantsOutput(i: number): boolean;
  /**
   * Convert a subgraph in the current scope (If branches); returns its outputs. `inputs`
   * bind the subgraph's formal inputs in order (Loop / Scan bodies).
   */
  subgraph(g: GraphProto, inputs?: readonly OnnxValue[]): OnnxValue[];
  fail(code: string, message: string): never;
  unsupported(message: string): never;
}

// ---------------------------------------------------------------- value helpers

export function dtypeOf(v: OnnxValue, ctx?: NodeContext): string {
  if (v.kind === 'host') return v.t.dtype;
  if (v.kind === 'sym') return v.dtype;
  const s = v.expr.structInfo;
  if (s?.kind === 'relax.TensorStructInfo' && s.dtype) return s.dtype.str;
  if (ctx)
    return ctx.fail(OnnxErrorCodes.ONNX_INVALID, `input has no known dtype (${s ? sinfoToString(s) : '?'})`);
  return 'float32';
}

function tensorSI(v: OnnxValue): TensorStructInfo | undefined {
  if (v.kind === 'host') return tensorSInfo(v.t.shape, v.t.dtype);
  if (v.kind === 'sym') return tensorSInfo(v.shape, v.dtype);
  const s = v.expr.structInfo;
  return s?.kind === 'relax.TensorStructInfo' ? s : undefined;
}
export function structInfoOf(v: OnnxValue): StructInfo | undefined {
  return v.kind === 'expr' ? v.expr.structInfo : tensorSI(v);
}

/** Symbolic shape of a value when its rank and dims are known. */
export function shapeOf(v: OnnxValue): readonly PrimExpr[] | undefined {
  const s = tensorSI(v);
  return s ? tensorShape(s) : undefined;
}
export function rankOf(v: OnnxValue): number {
  const s = tensorSI(v);
  return s ? s.ndim : -1;
}
/** Rank, required to be known. */
export function rank(ctx: NodeContext, v: OnnxValue): number {
  const r = rankOf(v);
  if (r < 0) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'input rank is unknown at compile time');
  return r;
}
/** Symbolic dims, required to be known. */
export function dims(ctx: NodeContext, v: OnnxValue): readonly PrimExpr[] {
  const s = shapeOf(v);
  if (!s) return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'input shape is unknown at compile time');
  return s;
}
/** Static dims, required to be constants. */
export function staticDims(ctx: NodeContext, v: OnnxValue): number[] {
  return dims(ctx, v).map((d) => {
    const c = constDim(d);
    if (c === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'needs a static input shape');
    return c as number;
  });
}

/** The Relax expression of a value (host tensors become constants). */
export function exprOf(ctx: NodeContext, v: OnnxValue): Expr {
  if (v.kind === 'expr') return v.expr;
  if (v.kind === 'host') return toConstant(v.t);
  // A shape-derived value used as tensor data (e.g. compared or added): each element is
  // materialised as the one-element range [x, x + 1), then they are joined and reshaped.
  const parts = v.values.map((x) => ctx.bb.emit(op.arange(x, add(x, 1), 1, v.dtype)));
  const flat = parts.length === 1 ? parts[0] : ctx.bb.emit(op.concat(parts, 0));
  return v.shape.length === 1 ? flat : ctx.bb.emit(op.reshape(flat, v.shape));
}

/** A host tensor input, or ONNX_DYNAMIC naming the input. */
export function hostOf(ctx: NodeContext, i: number, what = `input ${i}`): HostTensor {
  const v = ctx.req(i);
  if (v.kind !== 'host')
    ctx.fail(
      OnnxErrorCodes.ONNX_DYNAMIC,
      `${what} must be known at compile time (a constant or initializer)`,
    );
  return (v as { t: HostTensor }).t;
}
/** Int values of a host or symbolic input (rank ≤ 1). */
export function symInts(ctx: NodeContext, i: number, what = `input ${i}`): PrimExpr[] {
  const v = ctx.req(i);
  if (v.kind === 'host') return Array.from(v.t.data, (x) => intImm(x, DType.int64));
  if (v.kind === 'sym') return [...v.values];
  return ctx.fail(
    OnnxErrorCodes.ONNX_DYNAMIC,
    `${what} must be known at compile time (a constant, an initializer or a shape computation)`,
  );
}
export function constInts(ctx: NodeContext, i: number, what = `input ${i}`): number[] {
  return Array.from(hostOf(ctx, i, what).data);
}
/** Optional constant int list input (undefined when absent). */
export function optInts(ctx: NodeContext, i: number, what = `input ${i}`): number[] | undefined {
  return ctx.input(i) ? constInts(ctx, i, what) : undefined;
}

/** Emit a call; returns its value. */
export function emit(ctx: NodeContext, e: Expr, hint = ''): OnnxValue {
  return exprValue(ctx.bb.emit(e, hint));
}
export function emitExpr(ctx: NodeContext, e: Expr): Expr {
  return ctx.bb.emit(e);
}
/** The dtype of a value as a DataType. */
export function isFloatName(dt: string): boolean {
  return dt.startsWith('float') || dt.startsWith('bfloat');
}
export type { DataType };
