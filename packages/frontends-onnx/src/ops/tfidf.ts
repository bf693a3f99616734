// TfIdfVectorizer over integer tokens, composed from Relax ops. The pool of n-grams is
// in the attributes, so the counting unrolls at import time: for each n-gram length n
// and skip distance d, the k-th tokens of all windows (x[s + k·d]) are compared with the
// k-th tokens of every pooled n-gram of that length, and the windows matching in every
// position are counted. Unigrams count once per position (d = 1 only), as the reference
// does. A constant 0/1 matrix routes each n-gram's count to its ngram_indexes slot.
import type { Expr } from '@kiln/relax';
import { op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, exprOf, exprValue, hostValue, staticDims } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { ConverterDef } from '../registry.js';
import { conv } from '../registry.js';
import { em, scalar } from './common.js';

function tfidfConvert(ctx: NodeContext): OnnxValue {
  const xv = ctx.req(0);
  const dt = dtypeOf(xv, ctx);
  if (dt !== 'int32' && dt !== 'int64')
    ctx.unsupported(`TfIdfVectorizer over ${dt} tokens (int32/int64 only)`);
  if (ctx.hasAttr('pool_strings')) ctx.unsupported('pool_strings (string tokens)');
  const shape = staticDims(ctx, xv);
  if (shape.length < 1 || shape.length > 2)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `input must be 1-D or 2-D, got rank ${shape.length}`);
  const L = shape[shape.length - 1];
  const minN = ctx.int('min_gram_length', 1);
  const maxN = ctx.int('max_gram_length', 1);
  const maxSkip = ctx.int('max_skip_count', 0);
  const mode = ctx.str('mode', 'TF');
  if (!['TF', 'IDF', 'TFIDF'].includes(mode)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `mode '${mode}'`);
  const pool = ctx.ints('pool_int64s') ?? [];
  const counts = ctx.ints('ngram_counts') ?? [];
  const indexes = ctx.ints('ngram_indexes') ?? [];
  const weights = ctx.floats('weights') ?? [];
  if (indexes.length === 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'ngram_indexes is empty');
  const outSize = Math.max(...indexes) + 1;

  // The pooled n-grams in id order: ngram_counts[i] starts the (i+1)-grams.
  const grams: { tokens: number[]; slot: number }[] = [];
  let id = 0;
  counts.forEach((start, i) => {
    const n = i + 1;
    const end = i + 1 < counts.length ? counts[i + 1] : pool.length;
    for (let at = start; at + n <= end; at += n) {
      if (n >= minN && n <= maxN) {
        if (id >= indexes.length)
          ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'ngram_indexes is shorter than the pool');
        grams.push({ tokens: pool.slice(at, at + n), slot: indexes[id] });
      }
      id++;
    }
  });

  const x = exprOf(ctx, xv);
  const last = shape.length - 1;
  const konst = (dtype: string, s: number[], data: number[]) =>
    exprOf(ctx, hostValue(hostTensor(dtype, s, data)));
  const perLength: { count: Expr; slots: number[] }[] = [];
  for (let n = minN; n <= maxN; n++) {
    const gs = grams.filter((g) => g.tokens.length === n);
    if (gs.length === 0) continue;
    let total: Expr | undefined;
    for (let d = 1; d <= (n === 1 ? 1 : maxSkip + 1); d++) {
      const windows = L - (n - 1) * d;
      if (windows <= 0) break;
      let match: Expr | undefined;
      for (let k = 0; k < n; k++) {
        // [..., 1, windows] against [m, 1]: token k of every window vs of every n-gram
        const tok = em(ctx, op.stridedSlice(x, [last], [k * d], [k * d + windows]));
        const eq = em(
          ctx,
          op.equal(
            em(ctx, op.expandDims(tok, [last])),
            konst(
              dt,
              [gs.length, 1],
              gs.map((g) => g.tokens[k]),
            ),
          ),
        );
        match = match ? em(ctx, op.logicalAnd(match, eq)) : eq;
      }
      const c = em(ctx, op.sum(em(ctx, op.astype(match as Expr, 'float32')), { axis: [-1] }));
      total = total ? em(ctx, op.add(total, c)) : c;
    }
    if (total) perLength.push({ count: total, slots: gs.map((g) => g.slot) });
  }

  // Route counts to their output slots: [..., m] · [m, outSize].
  let freq: Expr;
  if (perLength.length === 0)
    freq = em(ctx, op.full([...shape.slice(0, -1), outSize], scalar(0, 'float32'), 'float32'));
  else {
    const all =
      perLength.length === 1
        ? perLength[0].count
        : em(
            ctx,
            op.concat(
              perLength.map((p) => p.count),
              last,
            ),
          );
    const slots = perLength.flatMap((p) => p.slots);
    const route = new Array<number>(slots.length * outSize).fill(0);
    slots.forEach((s, j) => {
      route[j * outSize + s] = 1;
    });
    freq = em(ctx, op.matmul(all, konst('float32', [slots.length, outSize], route)));
  }
  if (mode === 'TF') return exprValue(freq);
  const w = weights.length ? konst('float32', [outSize], weights.slice(0, outSize)) : undefined;
  if (mode === 'TFIDF') return exprValue(w ? em(ctx, op.multiply(freq, w)) : freq);
  const present = em(ctx, op.greater(freq, scalar(0, 'float32')));
  return exprValue(em(ctx, op.where(present, w ?? scalar(1, 'float32'), scalar(0, 'float32'))));
}

export const TFIDF_CONVERTERS: ConverterDef[] = [conv('TfIdfVectorizer', 9, tfidfConvert)];
