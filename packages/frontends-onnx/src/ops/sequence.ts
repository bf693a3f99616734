// Sequence operators. A sequence is a Relax tuple built at import time, so every
// position and length must be known then: SequenceInsert/Erase/At positions, the
// SplitToSequence sizes. A dynamic one is refused with ONNX_DYNAMIC naming the node.
import type { Expr } from '@kiln/relax';
import { constDim, op, tuple, tupleGetItem } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, exprOf, exprValue, hostValue, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { conv } from '../registry.js';
import { em, normAxis } from './common.js';

/** The elements of a sequence value (a tuple-typed expression). */
function items(ctx: NodeContext, v: OnnxValue): Expr[] {
  const e = v.kind === 'expr' ? v.expr : undefined;
  const si = e?.structInfo;
  if (!e || si?.kind !== 'relax.TupleStructInfo')
    return ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'input 0 is not a sequence');
  if (e.kind === 'relax.Tuple') return [...e.fields];
  return si.fields.map((_, i) => em(ctx, tupleGetItem(e, i)));
}
function seq(ctx: NodeContext, es: readonly Expr[]): OnnxValue {
  return exprValue(em(ctx, tuple(es)));
}

/** A position input known at import time; negative counts from the end. */
function position(ctx: NodeContext, i: number, len: number, allowEnd: boolean): number | undefined {
  const v = ctx.input(i);
  if (!v) return undefined;
  if (v.kind !== 'host')
    return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `the position (input ${i}) must be known at compile time`);
  const p = v.t.data[0];
  const q = p < 0 ? p + len : p;
  if (q < 0 || q > (allowEnd ? len : len - 1))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `position ${p} is out of range for a sequence of length ${len}`);
  return q;
}

function splitToSequence(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', 0), d.length);
  const sv = ctx.input(1);
  const len = constDim(d[axis]);
  let sizes: number[];
  let keep = true;
  if (!sv) {
    if (len === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the split axis must be static');
    sizes = new Array<number>(len as number).fill(1);
    keep = ctx.int('keepdims', 1) === 1;
  } else {
    if (sv.kind !== 'host')
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'split (input 1) must be known at compile time');
    const s = (sv as { t: { data: ArrayLike<number>; shape: readonly number[] } }).t;
    if (s.shape.length === 0) {
      if (len === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the split axis must be static');
      const chunk = s.data[0];
      if (!(chunk > 0)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `split size ${chunk} must be positive`);
      sizes = [];
      for (let at = 0; at < (len as number); at += chunk) sizes.push(Math.min(chunk, (len as number) - at));
    } else sizes = Array.from(s.data);
    if (len !== undefined && sizes.reduce((a, b) => a + b, 0) !== len)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `split sizes ${sizes.join(',')} do not add up to ${len}`);
  }
  const e = exprOf(ctx, x);
  let at = 0;
  const parts = sizes.map((n) => {
    const p = em(ctx, op.stridedSlice(e, [axis], [at], [at + n]));
    at += n;
    return keep ? p : em(ctx, op.squeeze(p, [axis]));
  });
  return seq(ctx, parts);
}

function concatFromSequence(ctx: NodeContext): OnnxValue {
  const es = items(ctx, ctx.req(0));
  if (es.length === 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'cannot concatenate an empty sequence');
  const r = rank(ctx, exprValue(es[0]));
  const newAxis = ctx.int('new_axis', 0) === 1;
  const axis = normAxis(ctx, ctx.int('axis', 0), newAxis ? r + 1 : r);
  const parts = newAxis ? es.map((t) => em(ctx, op.expandDims(t, [axis]))) : es;
  return exprValue(parts.length === 1 ? parts[0] : em(ctx, op.concat(parts, axis)));
}

/**
 * SequenceMap: the body runs once per element (unrolled), on the i-th element of every
 * sequence input and on the tensor inputs as they are; each body output collects into a
 * sequence.
 */
function sequenceMap(ctx: NodeContext): OnnxValue[] {
  const body = ctx.graph('body') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'SequenceMap needs a body graph');
  const ins = Array.from({ length: ctx.numInputs }, (_, i) => ctx.req(i));
  const isSeq = (v: OnnxValue) => v.kind === 'expr' && v.expr.structInfo?.kind === 'relax.TupleStructInfo';
  const seqs = ins.map((v) => (isSeq(v) ? items(ctx, v) : undefined));
  const n = (seqs[0] ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'input 0 of SequenceMap is not a sequence'))
    .length;
  for (const s of seqs)
    if (s && s.length !== n)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `the sequences have different lengths (${n}, ${s.length})`);
  const outs: Expr[][] = Array.from({ length: body.output?.length ?? 0 }, () => []);
  for (let i = 0; i < n; i++) {
    const r = ctx.subgraph(
      body,
      ins.map((v, k) => (seqs[k] ? exprValue((seqs[k] as Expr[])[i]) : v)),
    );
    r.forEach((v, k) => outs[k].push(exprOf(ctx, v)));
  }
  return outs.map((es) => seq(ctx, es));
}

export const SEQUENCE_CONVERTERS: ConverterDef[] = [
  conv('SequenceMap', 17, sequenceMap),
  conv('SequenceEmpty', 11, (ctx) => seq(ctx, [])),
  conv('SequenceConstruct', 11, (ctx) =>
    seq(
      ctx,
      Array.from({ length: ctx.numInputs }, (_, i) => exprOf(ctx, ctx.req(i))),
    ),
  ),
  conv('SequenceInsert', 11, (ctx) => {
    const es = items(ctx, ctx.req(0));
    const at = position(ctx, 2, es.length, true) ?? es.length;
    return seq(ctx, [...es.slice(0, at), exprOf(ctx, ctx.req(1)), ...es.slice(at)]);
  }),
  conv('SequenceErase', 11, (ctx) => {
    const es = items(ctx, ctx.req(0));
    if (es.length === 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'cannot erase from an empty sequence');
    const at = position(ctx, 1, es.length, false) ?? es.length - 1;
    return seq(ctx, [...es.slice(0, at), ...es.slice(at + 1)]);
  }),
  conv('SequenceAt', 11, (ctx) => {
    const es = items(ctx, ctx.req(0));
    if (!ctx.input(1)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'SequenceAt needs a position');
    return exprValue(es[position(ctx, 1, es.length, false) as number]);
  }),
  conv('SequenceLength', 11, (ctx) => hostValue(hostTensor('int64', [], [items(ctx, ctx.req(0)).length]))),
  conv('SplitToSequence', 11, splitToSequence),
  conv('ConcatFromSequence', 11, concatFromSequence),
];
