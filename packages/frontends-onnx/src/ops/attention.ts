// ONNX Attention (opsets 23-25) composed from Relax ops, following the op's function
// body: 3-D inputs are split into heads, past key/value are concatenated (present
// outputs), GQA repeats the key/value heads, scores = (q·√scale)(kᵀ·√scale), softcap,
// then the mask / causal / sliding-window / non-padded-length bias, softmax with fully masked rows set
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

/** TensorProto element types allowed as softmax_precision. */
const SOFTMAX_PRECISION: Readonly<Record<number, string>> = {
  1: 'float32',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

/** The dtype named by the `softmax_precision` attribute (a TensorProto type), else `fallback`. */
export function softmaxPrecision(ctx: NodeContext, fallback: string): string {
  if (!ctx.hasAttr('softmax_precision')) return fallback;
  const p = ctx.int('softmax_precision', 1);
  const t = SOFTMAX_PRECISION[p];
  if (!t)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `softmax_precision ${p} is not float, float16, bfloat16 or double`);
  return t as string;
}

function attentionConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  // Opset 25 sliding window: key j is visible from query position p = i + offset when
  // p - left ≤ j ≤ p + right (-1 leaves that side open).
  const left = ctx.int('left_window_size', -1);
  const right = ctx.int('right_window_size', -1);
  if (left < -1 || right < -1)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `window sizes must be -1 or nonnegative, got ${left}, ${right}`);
  const windowed = left >= 0 || right >= 0;
  const qv = ctx.req(0);
  const inDT = dtypeOf(qv, ctx);
  // Everything is computed in the input type (16-bit floats round after each step, as
  // the reference does), only the softmax in softmax_precision when that is given.
  const dt = inDT;
  const smDT = softmaxPrecision(ctx, dt);
  const threeD = rank(ctx, qv) === 3;
  let q = splitHeads(ctx, qv, ctx.int('q_num_heads', 0));
  let k = splitHeads(ctx, ctx.req(1), ctx.int('kv_num_heads', 0));
  let v = splitHeads(ctx, ctx.req(2), ctx.int('kv_num_heads', 0));
  const pastK = ctx.input(4);
  const pastV = ctx.input(5);
  const pastLen = pastK ? staticDim(ctx, dims(ctx, pastK)[2], 'past sequence length') : 0;
  if (pastK) k = em(ctx, op.concat([exprOf(ctx, pastK), k], 2));
  if (pastV) v = em(ctx, op.concat([exprOf(ctx, pastV), v], 2));
  const presentK = exprValue(k);
  const presentV = exprValue(v);
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
  // The additive bias: mask, causal triangle, sliding window, non-padded key lengths.
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
  // Causal and window masks are aligned bottom-right: query i sits at key position
  // i + offset, with offset = past length, or len[b] - S with non-padded key lengths.
  const nonpad = ctx.input(6);
  const allowed = (d: number): boolean => (left < 0 || d <= left) && (right < 0 || -d <= right);
  const causal = ctx.int('is_causal', 0) === 1;
  if (nonpad && (causal || windowed)) {
    // d = i + len[b] - S - j, shaped [B, 1, S, T].
    const ndt = dtypeOf(nonpad, ctx);
    const iMinusJ = exprOf(
      ctx,
      hostValue(
        hostTensor(
          ndt,
          [sLen, tLen],
          Array.from({ length: sLen * tLen }, (_, x) => Math.floor(x / tLen) - (x % tLen)),
        ),
      ),
    );
    const off = em(
      ctx,
      op.subtract(em(ctx, op.reshape(exprOf(ctx, nonpad), [-1, 1, 1, 1])), scalar(sLen, ndt)),
    );
    const d = em(ctx, op.add(iMinusJ, off));
    const hide = (cond: Expr) => addBias(em(ctx, op.where(cond, negInf, zero)));
    if (causal) hide(em(ctx, op.less(d, scalar(0, ndt))));
    if (left >= 0) hide(em(ctx, op.greater(d, scalar(left, ndt))));
    if (right >= 0) hide(em(ctx, op.less(d, scalar(-right, ndt))));
  } else if (causal || windowed) {
    const data = new Float64Array(sLen * tLen);
    for (let i = 0; i < sLen; i++)
      for (let j = 0; j < tLen; j++) {
        const d = i + pastLen - j;
        data[i * tLen + j] = (causal && d < 0) || !allowed(d) ? Number.NEGATIVE_INFINITY : 0;
      }
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
  const smIn = smDT === dt ? withBias : em(ctx, op.astype(withBias, smDT));
  let probs = em(ctx, op.softmax(smIn, -1));
  if (bias) {
    // Rows where every key is masked give zeros instead of NaN.
    const full = em(ctx, op.add(em(ctx, op.multiply(scores, zero)), bias));
    const rowMax = em(ctx, op.max(full, { axis: [-1], keepdims: true }));
    // (≤ -3e38 rather than == -inf: masks may be padded with the largest finite negative.)
    probs = em(ctx, op.where(em(ctx, op.lessEqual(rowMax, scalar(-3e38, dt))), scalar(0, smDT), probs));
  }
  if (smDT !== dt) probs = em(ctx, op.astype(probs, dt));
  let y = em(ctx, op.matmul(probs, v));
  if (threeD) {
    const [b] = dims(ctx, qv);
    y = em(ctx, op.reshape(em(ctx, op.permuteDims(y, [0, 2, 1, 3])), [b, sLen, -1]));
  }
  // As in the reference: modes 0 and 1 expose the (softcapped) product, 2 adds the
  // bias, 3 is the softmax.
  const mode = ctx.int('qk_matmul_output_mode', 0);
  const qkOut = [scores, scores, withBias, probs][mode] ?? scores;
  return [exprValue(y), presentK, presentV, exprValue(qkOut)];
}

export const ATTENTION_CONVERTERS: ConverterDef[] = [
  conv('Attention', 23, attentionConvert),
  conv('Attention', 24, attentionConvert),
  conv('Attention', 25, attentionConvert),
];
