// Recurrent converters: RNN, GRU and LSTM, unrolled over a static sequence length into
// Relax matmul / elementwise ops. The input projection X·Wᵀ + Wb is one matmul for all
// steps; each step then adds H·Rᵀ and applies the gate activations. Forward, reverse and
// bidirectional directions, layout 0 and 1, the activation list with alpha/beta, clip,
// LSTM peepholes and input_forget are handled. sequence_lens (also at run time) masks the
// steps past each batch row's length: the state is carried unchanged and Y is zero there,
// which for the reverse direction also starts each row at its own last valid step.
import type { PrimExpr } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, scalar } from './common.js';

const V = (...v: number[]) => v;

type Act = (x: Expr) => Expr;
type Kind = 'RNN' | 'GRU' | 'LSTM';
const GATES: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 };
const DEFAULT_ACTS: Record<Kind, string[]> = {
  RNN: ['Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
};

/** An ONNX RNN activation by name, with its alpha/beta (defaults per the spec). */
function activation(
  ctx: NodeContext,
  name: string,
  alpha: number | undefined,
  beta: number | undefined,
  dt: string,
): Act {
  const c = (v: number): Expr => scalar(v, dt);
  const e = (x: Expr): Expr => em(ctx, x);
  switch (name.toLowerCase()) {
    case 'sigmoid':
      return (x) => e(op.sigmoid(x));
    case 'tanh':
      return (x) => e(op.tanh(x));
    case 'relu':
      return (x) => e(op.relu(x));
    case 'affine':
      return (x) => e(op.add(e(op.multiply(x, c(alpha ?? 1))), c(beta ?? 0)));
    case 'leakyrelu':
      return (x) => e(op.where(e(op.greaterEqual(x, c(0))), x, e(op.multiply(x, c(alpha ?? 0.01)))));
    case 'thresholdedrelu':
      return (x) => e(op.where(e(op.greater(x, c(alpha ?? 1))), x, c(0)));
    case 'scaledtanh':
      return (x) => e(op.multiply(e(op.tanh(e(op.multiply(x, c(beta ?? 1))))), c(alpha ?? 1)));
    case 'hardsigmoid':
      return (x) => e(op.clip(e(op.add(e(op.multiply(x, c(alpha ?? 0.2))), c(beta ?? 0.5))), 0, 1));
    case 'elu':
      return (x) =>
        e(
          op.where(
            e(op.greaterEqual(x, c(0))),
            x,
            e(op.multiply(e(op.subtract(e(op.exp(x)), c(1))), c(alpha ?? 1))),
          ),
        );
    case 'softsign':
      return (x) => e(op.divide(x, e(op.add(e(op.abs(x)), c(1)))));
    case 'softplus':
      return (x) => e(op.log(e(op.add(e(op.exp(x)), c(1)))));
    default:
      return ctx.unsupported(`activation '${name}'`);
  }
}

/** Slice [d] of a [dirs, ...] tensor, without the leading axis. */
function dirSlice(ctx: NodeContext, x: Expr, d: number, rest: readonly (number | PrimExpr)[]): Expr {
  return em(ctx, op.reshape(em(ctx, op.stridedSlice(x, [0], [d], [d + 1])), rest));
}
/** Columns [k·h, (k+1)·h) of the last axis. */
function gate(ctx: NodeContext, x: Expr, k: number, h: number): Expr {
  return em(ctx, op.stridedSlice(x, [1], [k * h], [(k + 1) * h]));
}

function recurrent(kind: Kind) {
  return (ctx: NodeContext): (OnnxValue | undefined)[] => {
    const x = ctx.req(0);
    const dt = dtypeOf(x, ctx);
    const layout = ctx.int('layout', 0);
    const xdims = dims(ctx, x);
    if (xdims.length !== 3) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `X must be 3-D, got rank ${xdims.length}`);
    // The batch may stay symbolic; the recurrence is unrolled over a static sequence.
    const batch = layout ? xdims[0] : xdims[1];
    const [seq, inSize] = (layout ? [xdims[1], xdims[2]] : [xdims[0], xdims[2]]).map((v) => constDim(v));
    if (seq === undefined)
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the sequence length must be static to unroll the recurrence');
    if (inSize === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the input size must be static');
    const direction = ctx.str('direction', 'forward');
    if (!['forward', 'reverse', 'bidirectional'].includes(direction))
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `direction '${direction}'`);
    const nd = direction === 'bidirectional' ? 2 : 1;
    const g = GATES[kind];
    const rd = dims(ctx, ctx.req(2)).map((v) => constDim(v));
    const h = ctx.hasAttr('hidden_size') ? ctx.int('hidden_size', 0) : rd[2];
    if (h === undefined || h <= 0)
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'hidden_size must be given or R must have a static shape');
    const S = seq!;
    const B = batch;
    const I = inSize!;
    const H = h!;

    // Activations: per direction, DEFAULT_ACTS[kind].length of them.
    const nActs = DEFAULT_ACTS[kind].length;
    const names = ctx.strs('activations') ?? [];
    const alphas = ctx.floats('activation_alpha') ?? [];
    const betas = ctx.floats('activation_beta') ?? [];
    const acts: Act[][] = [];
    for (let d = 0; d < nd; d++) {
      acts.push(
        DEFAULT_ACTS[kind].map((def, k) => {
          const i = d * nActs + k;
          const given = i < names.length;
          return activation(
            ctx,
            given ? names[i] : def,
            given ? alphas[i] : undefined,
            given ? betas[i] : undefined,
            dt,
          );
        }),
      );
    }
    const clipV = ctx.hasAttr('clip') ? ctx.float('clip', 0) : undefined;
    const clip = (v: Expr): Expr => (clipV === undefined ? v : em(ctx, op.clip(v, -clipV, clipV)));
    const linearBeforeReset = kind === 'GRU' && ctx.int('linear_before_reset', 0) === 1;
    const inputForget = kind === 'LSTM' && ctx.int('input_forget', 0) === 1;

    // [seq, batch, in] whatever the layout.
    let xe = exprOf(ctx, x);
    if (layout) xe = em(ctx, op.permuteDims(xe, [1, 0, 2]));
    const we = exprOf(ctx, ctx.req(1));
    const re = exprOf(ctx, ctx.req(2));
    const bv = ctx.input(3);
    const lensV = ctx.input(4);
    const h0v = ctx.input(5);
    const c0v = kind === 'LSTM' ? ctx.input(6) : undefined;
    const pv = kind === 'LSTM' ? ctx.input(7) : undefined;
    const stateOf = (v: OnnxValue | undefined): Expr | undefined => {
      if (!v) return undefined;
      const e = exprOf(ctx, v);
      return layout ? em(ctx, op.permuteDims(e, [1, 0, 2])) : e;
    };
    const h0 = stateOf(h0v);
    const c0 = stateOf(c0v);

    // Step masks from sequence_lens, unless every length is the full sequence.
    let masks: Expr[] | undefined;
    if (lensV && !(lensV.kind === 'host' && Array.from(lensV.t.data).every((l) => l === S))) {
      const lens = em(ctx, op.reshape(exprOf(ctx, lensV), [B, 1]));
      const ldt = dtypeOf(lensV, ctx);
      masks = Array.from({ length: S }, (_, t) => em(ctx, op.less(scalar(t, ldt), lens)));
    }

    // x_t slices of the whole-sequence input projection, per direction.
    const zeros = (): Expr => em(ctx, op.zeros([B, H], dt));
    const Ys: Expr[] = [];
    const Yh: Expr[] = [];
    const Yc: Expr[] = [];
    for (let d = 0; d < nd; d++) {
      const wT = em(ctx, op.permuteDims(dirSlice(ctx, we, d, [g * H, I]), [1, 0]));
      const rT = em(ctx, op.permuteDims(dirSlice(ctx, re, d, [g * H, H]), [1, 0]));
      let proj = em(ctx, op.matmul(xe, wT)); // [S, B, gH]
      let rb: Expr | undefined;
      if (bv) {
        const b = dirSlice(ctx, exprOf(ctx, bv), d, [2 * g * H]);
        const wb = em(ctx, op.stridedSlice(b, [0], [0], [g * H]));
        rb = em(ctx, op.stridedSlice(b, [0], [g * H], [2 * g * H]));
        // GRU keeps Rb_h apart: with linear_before_reset it sits inside r ⊙ (·).
        if (kind === 'GRU') {
          const rbZR = em(ctx, op.stridedSlice(rb, [0], [0], [2 * H]));
          const zeroH = em(ctx, op.zeros([H], dt));
          proj = em(ctx, op.add(proj, em(ctx, op.add(wb, em(ctx, op.concat([rbZR, zeroH], 0))))));
        } else {
          proj = em(ctx, op.add(proj, em(ctx, op.add(wb, rb))));
          rb = undefined;
        }
      }
      const rbH = kind === 'GRU' && rb ? em(ctx, op.stridedSlice(rb, [0], [2 * H], [3 * H])) : undefined;
      let peep: Expr[] | undefined;
      if (pv) {
        const p = dirSlice(ctx, exprOf(ctx, pv), d, [3 * H]);
        peep = [0, 1, 2].map((k) => em(ctx, op.stridedSlice(p, [0], [k * H], [(k + 1) * H])));
      }
      const [f, gAct, hAct] = acts[d];
      let Ht = h0 ? dirSlice(ctx, h0, d, [B, H]) : zeros();
      let Ct = kind === 'LSTM' ? (c0 ? dirSlice(ctx, c0, d, [B, H]) : zeros()) : undefined;
      const reverse = direction === 'reverse' || d === 1;
      const outs: Expr[] = new Array<Expr>(S);
      for (let k = 0; k < S; k++) {
        const t = reverse ? S - 1 - k : k;
        const xp = dirSlice(ctx, proj, t, [B, g * H]);
        let newH: Expr;
        let newC: Expr | undefined;
        if (kind === 'RNN') {
          newH = f(clip(em(ctx, op.add(xp, em(ctx, op.matmul(Ht, rT))))));
        } else if (kind === 'GRU') {
          const rzr = em(ctx, op.stridedSlice(rT, [1], [0], [2 * H]));
          const rh = em(ctx, op.stridedSlice(rT, [1], [2 * H], [3 * H]));
          const zr = em(
            ctx,
            op.add(em(ctx, op.stridedSlice(xp, [1], [0], [2 * H])), em(ctx, op.matmul(Ht, rzr))),
          );
          const z = f(clip(gate(ctx, zr, 0, H)));
          const r = f(clip(gate(ctx, zr, 1, H)));
          const xh = gate(ctx, xp, 2, H);
          let hh: Expr;
          if (linearBeforeReset) {
            let hr = em(ctx, op.matmul(Ht, rh));
            if (rbH) hr = em(ctx, op.add(hr, rbH));
            hh = em(ctx, op.add(xh, em(ctx, op.multiply(r, hr))));
          } else {
            hh = em(ctx, op.add(xh, em(ctx, op.matmul(em(ctx, op.multiply(r, Ht)), rh))));
            if (rbH) hh = em(ctx, op.add(hh, rbH));
          }
          const hTilde = gAct(clip(hh));
          // H = (1 - z) ⊙ h̃ + z ⊙ H_prev
          newH = em(
            ctx,
            op.add(
              em(ctx, op.multiply(em(ctx, op.subtract(scalar(1, dt), z)), hTilde)),
              em(ctx, op.multiply(z, Ht)),
            ),
          );
        } else {
          const pre = em(ctx, op.add(xp, em(ctx, op.matmul(Ht, rT))));
          const withPeep = (v: Expr, k2: number, c: Expr): Expr =>
            peep ? em(ctx, op.add(v, em(ctx, op.multiply(peep[k2], c)))) : v;
          const it = f(clip(withPeep(gate(ctx, pre, 0, H), 0, Ct!)));
          const ft = inputForget
            ? em(ctx, op.subtract(scalar(1, dt), it))
            : f(clip(withPeep(gate(ctx, pre, 2, H), 2, Ct!)));
          const ct = gAct(clip(gate(ctx, pre, 3, H)));
          newC = em(ctx, op.add(em(ctx, op.multiply(ft, Ct!)), em(ctx, op.multiply(it, ct))));
          const ot = f(clip(withPeep(gate(ctx, pre, 1, H), 1, newC)));
          newH = em(ctx, op.multiply(ot, hAct(newC)));
        }
        if (masks) {
          const m = masks[t];
          outs[t] = em(ctx, op.where(m, newH, scalar(0, dt)));
          Ht = em(ctx, op.where(m, newH, Ht));
          if (newC) Ct = em(ctx, op.where(m, newC, Ct!));
        } else {
          outs[t] = newH;
          Ht = newH;
          if (newC) Ct = newC;
        }
      }
      if (ctx.wantsOutput(0))
        Ys.push(
          em(
            ctx,
            op.concat(
              outs.map((o) => em(ctx, op.reshape(o, [1, 1, B, H]))),
              0,
            ),
          ),
        );
      Yh.push(em(ctx, op.reshape(Ht, [1, B, H])));
      if (Ct) Yc.push(em(ctx, op.reshape(Ct, [1, B, H])));
    }
    const cat = (xs: Expr[], axis: number): Expr => (xs.length === 1 ? xs[0] : em(ctx, op.concat(xs, axis)));
    let Y: Expr | undefined = ctx.wantsOutput(0) ? cat(Ys, 1) : undefined; // [S, dirs, B, H]
    let yh = cat(Yh, 0);
    let yc = Yc.length ? cat(Yc, 0) : undefined;
    if (layout) {
      if (Y) Y = em(ctx, op.permuteDims(Y, [2, 0, 1, 3]));
      yh = em(ctx, op.permuteDims(yh, [1, 0, 2]));
      if (yc) yc = em(ctx, op.permuteDims(yc, [1, 0, 2]));
    }
    return [Y ? exprValue(Y) : undefined, exprValue(yh), yc ? exprValue(yc) : undefined];
  };
}

export const RNN_CONVERTERS: ConverterDef[] = [
  ...many('RNN', V(7, 14, 22), recurrent('RNN')),
  ...many('GRU', V(7, 14, 22), recurrent('GRU')),
  ...many('LSTM', V(7, 14, 22), recurrent('LSTM')),
];
