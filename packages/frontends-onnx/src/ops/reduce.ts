// Reductions (Reduce* with axes as attribute or, from opset 13/18, as input), ArgMax /
// ArgMin (select_last_index through a reversed slice), TopK, CumSum (reverse and
// exclusive), and the If control-flow op converted to a Relax If.
import type { Expr } from '@kiln/relax';
import { constDim, ifExpr, op, seqExpr, tuple, tupleGetItem } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, optInts, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, normAxis, scalar } from './common.js';

const V = (...v: number[]) => v;

type ReduceBody = (ctx: NodeContext, x: Expr, axis: number[], keepdims: boolean) => Expr;
const simple =
  (f: (x: Expr, o: { axis: number[]; keepdims: boolean }) => Expr): ReduceBody =>
  (_ctx, x, axis, keepdims) =>
    f(x, { axis, keepdims });

const REDUCES: Record<string, [number, ReduceBody]> = {
  // [opset where axes became an input, body]
  ReduceSum: [13, simple(op.sum)],
  ReduceMean: [18, simple(op.mean)],
  ReduceMax: [18, simple(op.max)],
  ReduceMin: [18, simple(op.min)],
  ReduceProd: [18, simple(op.prod)],
  ReduceL1: [18, (ctx, x, axis, keepdims) => op.sum(em(ctx, op.abs(x)), { axis, keepdims })],
  ReduceL2: [
    18,
    (ctx, x, axis, keepdims) => op.sqrt(em(ctx, op.sum(em(ctx, op.multiply(x, x)), { axis, keepdims }))),
  ],
  ReduceSumSquare: [18, (ctx, x, axis, keepdims) => op.sum(em(ctx, op.multiply(x, x)), { axis, keepdims })],
  ReduceLogSum: [18, (ctx, x, axis, keepdims) => op.log(em(ctx, op.sum(x, { axis, keepdims })))],
  ReduceLogSumExp: [
    18,
    (ctx, x, axis, keepdims) => op.log(em(ctx, op.sum(em(ctx, op.exp(x)), { axis, keepdims }))),
  ],
};

function reduceConvert(name: string) {
  const [inputSince, body] = REDUCES[name];
  return (ctx: NodeContext): OnnxValue => {
    const x = ctx.req(0);
    const r = rank(ctx, x);
    const keepdims = ctx.int('keepdims', 1) === 1;
    let axes = ctx.opset >= inputSince ? optInts(ctx, 1, 'axes') : ctx.ints('axes');
    if (!axes || axes.length === 0) {
      if (ctx.int('noop_with_empty_axes', 0) === 1) return x;
      axes = Array.from({ length: r }, (_, i) => i);
    }
    const ax = axes.map((a) => normAxis(ctx, a, r));
    return exprValue(em(ctx, body(ctx, exprOf(ctx, x), ax, keepdims)));
  };
}

/** x reversed along `axis` (static dim). */
function flip(ctx: NodeContext, x: Expr, axis: number, d: number): Expr {
  return em(ctx, op.stridedSlice(x, [axis], [d - 1], [-d - 1], [-1]));
}

function argConvert(kind: 'max' | 'min') {
  return (ctx: NodeContext): OnnxValue => {
    const x = ctx.req(0);
    const d = dims(ctx, x);
    const axis = normAxis(ctx, ctx.int('axis', 0), d.length);
    const keepdims = ctx.int('keepdims', 1) === 1;
    const f = kind === 'max' ? op.argmax : op.argmin;
    if (ctx.int('select_last_index', 0) === 1) {
      const n = constDim(d[axis]);
      if (n === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'select_last_index needs a static dim');
      const i = em(ctx, f(flip(ctx, exprOf(ctx, x), axis, n!), { axis, keepdims }));
      return exprValue(em(ctx, op.subtract(scalar(n! - 1, 'int64'), i)));
    }
    return exprValue(em(ctx, f(exprOf(ctx, x), { axis, keepdims })));
  };
}

function topkConvert(ctx: NodeContext): OnnxValue[] {
  const x = ctx.req(0);
  const r = rank(ctx, x);
  const k =
    ctx.opset < 10
      ? ctx.int('k', 1)
      : (() => {
          const v = ctx.req(1);
          if (v.kind !== 'host')
            return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'K must be known at compile time');
          return v.t.data[0];
        })();
  const axis = normAxis(ctx, ctx.int('axis', -1), r);
  const t = em(ctx, op.topk(exprOf(ctx, x), k, { axis, largest: ctx.int('largest', 1) === 1 }));
  return [exprValue(em(ctx, tupleGetItem(t, 0))), exprValue(em(ctx, tupleGetItem(t, 1)))];
}

function cumsumConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const av = ctx.req(1);
  if (av.kind !== 'host') ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'axis must be known at compile time');
  const axis = normAxis(ctx, (av as { t: { data: Float64Array } }).t.data[0], d.length);
  const reverse = ctx.int('reverse', 0) === 1;
  const exclusive = ctx.int('exclusive', 0) === 1;
  let e = exprOf(ctx, x);
  const n = constDim(d[axis]);
  if (reverse) {
    if (n === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'reverse needs a static dim');
    e = flip(ctx, e, axis, n!);
  }
  e = em(ctx, op.cumsum(e, { axis, exclusive }));
  if (reverse) e = flip(ctx, e, axis, n!);
  void dtypeOf;
  return exprValue(e);
}

function ifConvert(ctx: NodeContext): OnnxValue[] {
  const cond = ctx.req(0);
  const thenG = ctx.graph('then_branch') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'then_branch is required');
  const elseG = ctx.graph('else_branch') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'else_branch is required');
  if (cond.kind === 'host') return ctx.subgraph(cond.t.data[0] ? thenG : elseG);
  const branch = (g: typeof thenG): Expr => {
    ctx.bb.beginBlock(false);
    let outs: OnnxValue[];
    try {
      outs = ctx.subgraph(g);
    } catch (e) {
      ctx.bb.endBlock();
      throw e;
    }
    const es = outs.map((o) => exprOf(ctx, o));
    const body = es.length === 1 ? es[0] : tuple(es);
    const blk = ctx.bb.endBlock();
    return seqExpr(blk.bindings.length ? [blk] : [], body);
  };
  let c = exprOf(ctx, cond);
  const cd = dims(ctx, cond);
  if (cd.length > 0) c = em(ctx, op.reshape(c, []));
  const t = branch(thenG);
  const f = branch(elseG);
  const r = em(ctx, ifExpr(c, t, f));
  const n = (thenG.output ?? []).length;
  if (n === 1) return [exprValue(r)];
  return Array.from({ length: n }, (_, i) => exprValue(em(ctx, tupleGetItem(r, i))));
}

export const REDUCE_CONVERTERS: ConverterDef[] = [
  ...Object.keys(REDUCES).flatMap((name) =>
    many(
      name,
      name === 'ReduceSum'
        ? V(1, 11, 13)
        : name === 'ReduceMax' || name === 'ReduceMin'
          ? V(1, 11, 12, 13, 18, 20)
          : V(1, 11, 13, 18),
      reduceConvert(name),
    ),
  ),
  ...many('ArgMax', V(1, 11, 12, 13), argConvert('max')),
  ...many('ArgMin', V(1, 11, 12, 13), argConvert('min')),
  ...many('TopK', V(1, 10, 11, 24), topkConvert),
  ...many('CumSum', V(11, 14), cumsumConvert),
  ...many('If', V(1, 11, 13, 16, 19, 21, 23, 24), ifConvert),
];
