// ONNX Attention (opsets 23/24) composed from Relax ops, following the op's function
// body: 3-D inputs are split into heads, past key/value are concatenated (present
// outputs), GQA repeats the key/value heads, scores = (q·√scale)(kᵀ·√scale), softcap,
// then the mask / causal / non-padded-length bias, softmax with fully masked rows set
// to zero, and the product with v. qk_matmul_output returns the requested stage.
import type { PrimExpr } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, hostValue, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { conv } from '../registry.js';
import { em, scalar } from './common.js';

function staticDim(ctx: NodeContext, d: PrimExpr, what: string): number {
  const c = constDim(d);
  if (c === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `${what} must be static`);
  return c as number;
}

/** [B, S, H*D] → [B, H, S, D]. */
function splitHeads(ctx: NodeContext, v: OnnxValue, heads: number): Expr {
  const e = exprOf(ctx, v);
  if (rank(ctx, v) === 4) return e;
  if (!heads) ctx.fail(OnnxErrorCodes.ONNX_INVALID, '3-D inputs need q_num_heads and kv_num_heads');
  const [b, s] = dims(ctx, v);
  return em(ctx, op.permuteDims(em(ctx, op.reshape(e, [b, s, heads, -1])), [0, 2, 1, 3]));
}

function attentionConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  if (ctx.opset >= 25 || ctx.hasAttr('window_size') || ctx.hasAttr('local_window_size')) {
    if (ctx.hasAttr('local_window_size') || ctx.hasAttr('window_size'))
      ctx.unsupported('local attention windows');
  }
  const qv = ctx.req(0);
  const inDT = dtypeOf(qv, ctx);
  // 16-bit inputs are computed in float32 (the op's softmax precision) and cast back.
  const dt = inDT === 'float16' || inDT === 'bfloat16' ? 'float32' : inDT;
  const up = (e: Expr): Expr => (dt === inDT ? e : em(ctx, op.astype(e, dt)));
  const down = (e: Expr): Expr => (dt === inDT ? e : em(ctx, op.astype(e, inDT)));
  const threeD = rank(ctx, qv) === 3;
  let q = up(splitHeads(ctx, qv, ctx.int('q_num_heads', 0)));
  let k = splitHeads(ctx, ctx.req(1), ctx.int('kv_num_heads', 0));
  let v = splitHeads(ctx, ctx.req(2), ctx.int('kv_num_heads', 0));
  const pastK = ctx.input(4);
  const pastV = ctx.input(5);
  const pastLen = pastK ? staticDim(ctx, dims(ctx, pastK)[2], 'past sequence length') : 0;
  if (pastK) k = em(ctx, op.concat([exprOf(ctx, pastK), k], 2));
  if (pastV) v = em(ctx, op.concat([exprOf(ctx, pastV), v], 2));
  const presentK = exprValue(k);
  const presentV = exprValue(v);
  k = up(k);
  v = up(v);
  const qd = dims(ctx, exprValue(q));
  const kd = dims(ctx, exprValue(k));
  const hq = staticDim(ctx, qd[1], 'query heads');
  const hkv = staticDim(ctx, kd[1], 'key/value heads');
  const sLen = staticDim(ctx, qd[2], 'query length');
  const tLen = staticDim(ctx, kd[2], 'key length');
  const headDim = staticDim(ctx, qd[3], 'head size');
  const scale = ctx.hasAttr('scale') ? ctx.float('scale', 1) : 1 / Math.sqrt(headDim);
  if (hq !== hkv) {
    if (hq % hkv !== 0)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `q heads ${hq} not a multiple of kv heads ${hkv}`);
    k = em(ctx, op.repeat(k, hq / hkv, 1));
    v = em(ctx, op.repeat(v, hq / hkv, 1));
  }
  const sq = scalar(Math.sqrt(scale), dt);
  q = em(ctx, op.multiply(q, sq));
  const kt = em(ctx, op.multiply(em(ctx, op.permuteDims(k, [0, 1, 3, 2])), sq));
  const qk = em(ctx, op.matmul(q, kt));
  let scores = qk;
  const softcap = ctx.float('softcap', 0);
  if (softcap > 0) {
    const c = scalar(softcap, dt);
    scores = em(ctx, op.multiply(em(ctx, op.tanh(em(ctx, op.divide(scores, c)))), c));
  }
  // The additive bias: mask, causal triangle, non-padded key lengths.
  const negInf = scalar(Number.NEGATIVE_INFINITY, dt);
  const zero = scalar(0, dt);
  let bias: Expr | undefined;
  const addBias = (b: Expr) => {
    bias = bias ? em(ctx, op.add(bias, b)) : b;
  };
  const mask = ctx.input(3);
  if (mask) {
    let m = exprOf(ctx, mask);
    if (dtypeOf(mask, ctx) === 'bool') m = em(ctx, op.where(m, zero, negInf));
    else if (dtypeOf(mask, ctx) !== dt) m = em(ctx, op.astype(m, dt));
    const md = dims(ctx, mask);
    const last = staticDim(ctx, md[md.length - 1], 'mask length');
    if (last < tLen) {
      // A mask shorter than the keys leaves the remaining keys masked out.
      const pw = new Array<number>(2 * md.length).fill(0);
      pw[2 * md.length - 1] = tLen - last;
      m = em(ctx, op.pad(m, pw, -3.4028234663852886e38));
    }
    addBias(m);
  }
  const nonpad = ctx.input(6);
  if (ctx.int('is_causal', 0) === 1 && nonpad) {
    // With non-padded key lengths the queries are the last S valid positions:
    // key j is hidden from query i when j - i > len[b] - S.
    const ndt = dtypeOf(nonpad, ctx);
    const diff = exprOf(
      ctx,
      hostValue(
        hostTensor(
          ndt,
          [sLen, tLen],
          Array.from({ length: sLen * tLen }, (_, x) => (x % tLen) - Math.floor(x / tLen)),
        ),
      ),
    );
    const off = em(
      ctx,
      op.subtract(em(ctx, op.reshape(exprOf(ctx, nonpad), [-1, 1, 1, 1])), scalar(sLen, ndt)),
    );
    addBias(em(ctx, op.where(em(ctx, op.greater(diff, off)), negInf, zero)));
  } else if (ctx.int('is_causal', 0) === 1) {
    const data = new Float64Array(sLen * tLen);
    for (let i = 0; i < sLen; i++)
      for (let j = 0; j < tLen; j++) data[i * tLen + j] = j > i + pastLen ? Number.NEGATIVE_INFINITY : 0;
    addBias(exprOf(ctx, hostValue(hostTensor(dt, [sLen, tLen], data))));
  }
  if (nonpad) {
    const ndt = dtypeOf(nonpad, ctx);
    const pos = exprOf(
      ctx,
      hostValue(
        hostTensor(
          ndt,
          [tLen],
          Array.from({ length: tLen }, (_, i) => i),
        ),
      ),
    );
    const lens = em(ctx, op.reshape(exprOf(ctx, nonpad), [-1, 1, 1, 1]));
    addBias(em(ctx, op.where(em(ctx, op.less(pos, lens)), zero, negInf)));
  }
  const withBias = bias ? em(ctx, op.add(scores, bias)) : scores;
  let probs = em(ctx, op.softmax(withBias, -1));
  if (bias) {
    // Rows where every key is masked give zeros instead of NaN.
    const full = em(ctx, op.add(em(ctx, op.multiply(scores, zero)), bias));
    const rowMax = em(ctx, op.max(full, { axis: [-1], keepdims: true }));
    // (≤ -3e38 rather than == -inf: masks may be padded with the largest finite negative.)
    probs = em(ctx, op.where(em(ctx, op.lessEqual(rowMax, scalar(-3e38, dt))), zero, probs));
  }
  let y = em(ctx, op.matmul(probs, v));
  if (threeD) {
    const [b] = dims(ctx, qv);
    y = em(ctx, op.reshape(em(ctx, op.permuteDims(y, [0, 2, 1, 3])), [b, sLen, -1]));
  }
  const mode = ctx.int('qk_matmul_output_mode', 0);
  const qkOut = [qk, withBias, softcap > 0 ? scores : withBias, probs][mode] ?? qk;
  return [exprValue(down(y)), presentK, presentV, exprValue(down(qkOut))];
}

export const ATTENTION_CONVERTERS: ConverterDef[] = [
  conv('Attention', 23, attentionConvert),
  conv('Attention', 24, attentionConvert),
];
