// ai.onnx.preview FlexAttention (version 1): attention over rank-4 Q [B, Hq, L, E],
// K [B, Hkv, S, E] and V [B, Hkv, S, Ev] whose scores and probabilities may be rewritten
// by the graph attributes `score_mod` and `prob_mod` (each maps one [B, H, L, S] tensor to
// one of the same shape). The mod graphs are inlined in the importing scope, so whatever
// they compute (causal masks from Range/Shape, soft caps, positional biases) becomes
// ordinary Relax code that the graph passes see and fuse.
//
//   scores = (Q·√scale)(K·√scale)ᵀ            in the input dtype
//   scores = score_mod(float(scores))          in the softmax precision
//   probs  = prob_mod(softmax(scores, -1))
//   Y      = (probs · float(V)) cast to V's dtype
//
// The softmax precision is the `softmax_precision` attribute (a TensorProto element type)
// or, without it, float32 for 16-bit inputs and the input dtype otherwise.
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import type { GraphProto } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { softmaxPrecision } from './attention.js';
import { em, scalar } from './common.js';

function staticDim(ctx: NodeContext, v: OnnxValue, axis: number, what: string): number {
  const c = constDim(dims(ctx, v)[axis]);
  if (c === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `${what} must be static`);
  return c as number;
}

/** Apply a one-input, one-output mod graph to `x`. */
function applyMod(ctx: NodeContext, name: string, g: GraphProto, x: Expr, dt: string): Expr {
  const nIn = g.input?.length ?? 0;
  const nOut = g.output?.length ?? 0;
  if (nIn !== 1 || nOut !== 1)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `the ${name} graph must have exactly one input and one output, it has ${nIn} and ${nOut}`,
    );
  const [out] = ctx.subgraph(g, [exprValue(x)]);
  if (!out) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `the ${name} graph produced no value`);
  let e = exprOf(ctx, out);
  const odt = dtypeOf(out, ctx);
  if (odt !== dt) e = em(ctx, op.astype(e, dt));
  return e;
}

function flexAttentionConvert(ctx: NodeContext): OnnxValue {
  const [qv, kv, vv] = [ctx.req(0), ctx.req(1), ctx.req(2)];
  for (const [v, n] of [
    [qv, 'Q'],
    [kv, 'K'],
    [vv, 'V'],
  ] as const)
    if (rank(ctx, v) !== 4)
      ctx.fail(
        OnnxErrorCodes.ONNX_INVALID,
        `${n} must be rank 4 [batch, heads, length, size], got rank ${rank(ctx, v)}`,
      );
  const inDT = dtypeOf(qv, ctx);
  const hq = staticDim(ctx, qv, 1, 'the query head count');
  const e = staticDim(ctx, qv, 3, 'the query head size');
  const hkv = staticDim(ctx, kv, 1, 'the key head count');
  if (staticDim(ctx, vv, 1, 'the value head count') !== hkv)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'K and V must have the same number of heads');
  if (staticDim(ctx, kv, 3, 'the key head size') !== e)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `Q and K must have the same head size (${e})`);
  if (hq % hkv !== 0)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `the query heads (${hq}) must be a multiple of the key/value heads (${hkv})`,
    );

  const sdt = softmaxPrecision(ctx, inDT === 'float16' || inDT === 'bfloat16' ? 'float32' : inDT);

  let k = exprOf(ctx, kv);
  let v = exprOf(ctx, vv);
  if (hq !== hkv) {
    k = em(ctx, op.repeat(k, hq / hkv, 1));
    v = em(ctx, op.repeat(v, hq / hkv, 1));
  }
  // √scale is formed in float32, then cast to the input dtype (as the reference does).
  const scale = ctx.hasAttr('scale') ? ctx.float('scale', 1) : 1 / Math.sqrt(e);
  const sq = scalar(Math.fround(Math.sqrt(Math.fround(scale))), inDT);
  const q = em(ctx, op.multiply(exprOf(ctx, qv), sq));
  const kt = em(ctx, op.permuteDims(em(ctx, op.multiply(k, sq)), [0, 1, 3, 2]));
  let scores = em(ctx, op.matmul(q, kt));
  if (sdt !== inDT) scores = em(ctx, op.astype(scores, sdt));
  const scoreMod = ctx.graph('score_mod');
  if (scoreMod) scores = applyMod(ctx, 'score_mod', scoreMod, scores, sdt);
  let probs = em(ctx, op.softmax(scores, -1));
  const probMod = ctx.graph('prob_mod');
  if (probMod) probs = applyMod(ctx, 'prob_mod', probMod, probs, sdt);
  const vdt = dtypeOf(vv, ctx);
  if (vdt !== sdt) v = em(ctx, op.astype(v, sdt));
  let y = em(ctx, op.matmul(probs, v));
  if (vdt !== sdt) y = em(ctx, op.astype(y, vdt));
  return exprValue(y);
}

export const FLEX_ATTENTION_CONVERTERS: ConverterDef[] = [
  { op: 'FlexAttention', domain: 'ai.onnx.preview', since: 1, convert: flexAttentionConvert },
];
