// Quantization converters: QuantizeLinear / DequantizeLinear (per-tensor, per-axis and
// blocked), DynamicQuantizeLinear, and the integer kernels MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv. Everything is composed from Relax elementwise ops, matmul
// and conv: integer products are accumulated in int32 (what ONNX specifies), requantization
// follows the onnx reference (float32 multiply, round half to even, saturate, cast).
// Quantized types: int8/uint8/int16/uint16, int4/uint4/int2/uint2 (same integer recipe), the
// float8 formats (x / scale cast with `saturate`, no zero point) and float4_e2m1fn
// (x / scale + zero point, cast).
import type { PrimExpr } from '@kiln/ir-core';
import { intImm } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, dtypeOf, exprOf, exprValue, hostValue, rank, staticDims } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor, numel } from '../host.js';
import { kilnDType } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { castTo, em, normAxis, scalar } from './common.js';
import { resolvePads } from './nn.js';

const V = (...v: number[]) => v;

/** Saturation range of the integer types a quantized tensor may have. */
const QRANGE: Record<string, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint4: [0, 15],
  int4: [-8, 7],
  uint2: [0, 3],
  int2: [-2, 1],
};
const FLOAT8_Q = new Set(['float8_e4m3fn', 'float8_e4m3fnuz', 'float8_e5m2', 'float8_e5m2fnuz']);
const FLOAT4_Q = 'float4_e2m1fn';

function qrange(ctx: NodeContext, dt: string): [number, number] {
  const r = QRANGE[dt];
  if (!r) ctx.unsupported(`quantized type ${dt} (only int2/4/8/16 and uint2/4/8/16)`);
  return r;
}

function checkQType(ctx: NodeContext, dt: string): void {
  if (!QRANGE[dt] && !FLOAT8_Q.has(dt) && dt !== FLOAT4_Q) ctx.unsupported(`quantized type ${dt}`);
}

/** A float8 zero point must be all zeros (ONNX); a host one is checked, then ignored. */
function checkFloat8ZeroPoint(ctx: NodeContext, zp: OnnxValue | undefined): void {
  if (zp?.kind === 'host' && zp.t.data.some((v) => v !== 0))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'a float8 zero point must be zero');
}

/**
 * A scale or zero point shaped to broadcast against a tensor of dims `xd`: scalars stay
 * scalars, 1-D values go along `axis`, blocked values (same rank as x) are repeated
 * `block` times along `axis` and cut to the dim.
 */
function fitQParam(
  ctx: NodeContext,
  v: OnnxValue,
  xd: readonly PrimExpr[],
  rawAxis: number,
  block: number,
): Expr {
  const r = rank(ctx, v);
  const sd = staticDims(ctx, v);
  const n = numel(sd);
  if (r === 0) return exprOf(ctx, v);
  if (n === 1 && block === 0) {
    if (v.kind === 'host') return exprOf(ctx, hostValue(hostTensor(v.t.dtype, [], v.t.data)));
    return em(ctx, op.reshape(exprOf(ctx, v), []));
  }
  // The axis only matters (and is only checked) for per-axis and blocked parameters.
  const axis = normAxis(ctx, rawAxis, xd.length);
  if (block === 0) {
    if (r !== 1)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `a per-axis scale or zero point must be 1-D, got rank ${r}`);
    const shape = xd.map((_, i) => (i === axis ? n : 1));
    if (v.kind === 'host') return exprOf(ctx, hostValue(hostTensor(v.t.dtype, shape, v.t.data)));
    return em(ctx, op.reshape(exprOf(ctx, v), shape));
  }
  if (r !== xd.length)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `a blocked scale or zero point must have the input's rank ${xd.length}, got ${r}`,
    );
  const d = constDim(xd[axis]);
  if (d === undefined)
    ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'blocked quantization needs a static dim along the axis');
  let e = em(ctx, op.repeat(exprOf(ctx, v), block, axis));
  if (sd[axis] * block !== d) e = em(ctx, op.stridedSlice(e, [axis], [0], [d!]));
  return e;
}

/** round-half-even(x), clipped to [lo, hi] and cast to `dt`; `zp` (float) added before clipping. */
function saturate(ctx: NodeContext, x: Expr, zp: Expr | undefined, dt: string): Expr {
  let y = em(ctx, op.round(x));
  if (zp) y = em(ctx, op.add(y, zp));
  const [lo, hi] = QRANGE[dt];
  y = em(ctx, op.clip(y, lo, hi));
  return em(ctx, op.astype(y, dt));
}

function quantizeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = dims(ctx, x);
  const scale = ctx.req(1);
  const zpv = ctx.input(2);
  const axis = ctx.int('axis', 1);
  const block = ctx.opset >= 21 ? ctx.int('block_size', 0) : 0;
  let outDT = 'uint8';
  if (ctx.opset >= 21 && ctx.hasAttr('output_dtype') && ctx.int('output_dtype', 0) !== 0)
    outDT = kilnDType(ctx.int('output_dtype', 0), `${ctx.where} 'output_dtype'`);
  if (zpv) outDT = dtypeOf(zpv, ctx);
  checkQType(ctx, outDT);
  if (ctx.int('precision', 0) !== 0) ctx.unsupported('the precision attribute');
  const saturateAttr = ctx.opset >= 19 ? ctx.int('saturate', 1) !== 0 : true;
  const fdt = dtypeOf(x, ctx);
  const s = fitQParam(ctx, scale, xd, axis, block);
  const sdt = dtypeOf(scale, ctx);
  // numpy divides in the wider float type of x and the scale.
  const cdt = sdt === fdt ? fdt : 'float32';
  const xe = castTo(ctx, x, cdt);
  const q = em(ctx, op.divide(xe, sdt === cdt ? s : em(ctx, op.astype(s, cdt))));
  if (FLOAT8_Q.has(outDT)) {
    checkFloat8ZeroPoint(ctx, zpv);
    return exprValue(em(ctx, op.astype(q, outDT, { saturate: saturateAttr })));
  }
  if (outDT === FLOAT4_Q) {
    // The reference adds the (float4) zero point in float and casts (always saturating).
    const zq = zpv ? em(ctx, op.add(q, em(ctx, op.astype(fitQParam(ctx, zpv, xd, axis, block), cdt)))) : q;
    return exprValue(em(ctx, op.astype(zq, outDT)));
  }
  let zp: Expr | undefined;
  if (zpv) zp = em(ctx, op.astype(fitQParam(ctx, zpv, xd, axis, block), cdt === 'float16' ? 'float32' : cdt));
  const qr = cdt === 'float16' ? em(ctx, op.astype(em(ctx, op.round(q)), 'float32')) : q;
  return exprValue(saturate(ctx, qr, zp, outDT));
}

function dequantizeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const xd = dims(ctx, x);
  const scale = ctx.req(1);
  const zpv = ctx.input(2);
  const xdt = dtypeOf(x, ctx);
  if (!QRANGE[xdt] && xdt !== 'int32' && !FLOAT8_Q.has(xdt) && xdt !== FLOAT4_Q)
    ctx.unsupported(`dequantizing ${xdt}`);
  const axis = ctx.int('axis', 1);
  const block = ctx.opset >= 21 ? ctx.int('block_size', 0) : 0;
  const sdt = dtypeOf(scale, ctx);
  let outDT = sdt;
  if (ctx.opset >= 23 && ctx.int('output_dtype', 0) !== 0)
    outDT = kilnDType(ctx.int('output_dtype', 0), `${ctx.where} 'output_dtype'`);
  // (float32(x) - float32(zp)) * scale, as the reference computes it.
  let dx = em(ctx, op.astype(exprOf(ctx, x), 'float32'));
  // float8 and float4 inputs ignore the zero point (the reference does; float8 ones must be 0).
  const floatQ = FLOAT8_Q.has(xdt) || xdt === FLOAT4_Q;
  if (FLOAT8_Q.has(xdt)) checkFloat8ZeroPoint(ctx, zpv);
  if (zpv && !floatQ)
    dx = em(ctx, op.subtract(dx, em(ctx, op.astype(fitQParam(ctx, zpv, xd, axis, block), 'float32'))));
  const s = fitQParam(ctx, scale, xd, axis, block);
  let y = em(ctx, op.multiply(dx, sdt === 'float32' ? s : em(ctx, op.astype(s, 'float32'))));
  if (outDT !== 'float32') y = em(ctx, op.astype(y, outDT));
  return exprValue(y);
}

function dynamicQuantizeConvert(ctx: NodeContext): OnnxValue[] {
  const x = ctx.req(0);
  const dt = dtypeOf(x, ctx);
  if (dt !== 'float32') ctx.unsupported(`input type ${dt}`);
  const xe = exprOf(ctx, x);
  const zero = scalar(0, dt);
  const mx = em(ctx, op.maximum(em(ctx, op.max(xe, { axis: null, keepdims: false })), zero));
  const mn = em(ctx, op.minimum(em(ctx, op.min(xe, { axis: null, keepdims: false })), zero));
  const range = em(ctx, op.subtract(mx, mn));
  // scale = (max - min) / 255, or 1/255 when the range is empty (all zeros).
  const safe = em(ctx, op.where(em(ctx, op.equal(range, zero)), scalar(1, dt), range));
  const ys = em(ctx, op.divide(safe, scalar(255, dt)));
  const zpf = em(
    ctx,
    op.round(em(ctx, op.clip(em(ctx, op.subtract(zero, em(ctx, op.divide(mn, ys)))), 0, 255))),
  );
  const y = saturate(ctx, em(ctx, op.divide(xe, ys)), zpf, 'uint8');
  return [exprValue(y), exprValue(ys), exprValue(em(ctx, op.astype(zpf, 'uint8')))];
}

/** int32(v) - int32(zp), with a 1-D zero point reshaped by `shapeZp` (or used as is). */
function centered(
  ctx: NodeContext,
  v: OnnxValue,
  zpv: OnnxValue | undefined,
  shapeZp?: (zp: Expr, n: number) => Expr,
): Expr {
  const e = castTo(ctx, v, 'int32');
  if (!zpv) return e;
  let zp = castTo(ctx, zpv, 'int32');
  const zd = staticDims(ctx, zpv);
  if (zd.length > 0) {
    if (numel(zd) === 1) zp = em(ctx, op.reshape(zp, []));
    else if (shapeZp && zd.length === 1) zp = shapeZp(zp, zd[0]);
    else ctx.unsupported(`a zero point of shape [${zd.join(', ')}]`);
  }
  return em(ctx, op.subtract(e, zp));
}

function matmulIntegerConvert(ctx: NodeContext): OnnxValue {
  const a = ctx.req(0);
  const b = ctx.req(1);
  const ar = rank(ctx, a);
  // A's 1-D zero point is per row (dim -2 of A), B's per column (its last dim).
  const ae = centered(ctx, a, ctx.input(2), (zp, n) => em(ctx, op.reshape(zp, ar >= 2 ? [n, 1] : [n])));
  const be = centered(ctx, b, ctx.input(3), (zp) => zp);
  return exprValue(em(ctx, op.matmul(ae, be)));
}

/** The int32 convolution of centered x and w (ConvInteger, and the core of QLinearConv). */
function intConv(
  ctx: NodeContext,
  x: OnnxValue,
  xzp: OnnxValue | undefined,
  w: OnnxValue,
  wzp: OnnxValue | undefined,
): Expr {
  const xd = staticDims(ctx, x);
  const wd = staticDims(ctx, w);
  const n = xd.length - 2;
  if (n < 1 || n > 3) ctx.unsupported(`${n}-D convolution`);
  const xe = centered(ctx, x, xzp);
  // A 1-D weight zero point is per output channel.
  const we = centered(ctx, w, wzp, (zp, m) =>
    em(ctx, op.reshape(zp, [m, ...new Array<number>(n + 1).fill(1)])),
  );
  const kernel = ctx.ints('kernel_shape') ?? wd.slice(2);
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
  const padding = resolvePads(
    ctx,
    xd.slice(2).map((d) => intImm(d)),
    kernel,
    strides,
    dil,
  );
  const f = [op.conv1d, op.conv2d, op.conv3d][n - 1];
  return em(
    ctx,
    f(xe, we, { strides, padding, dilation: dil, groups: ctx.int('group', 1), outDtype: 'int32' }),
  );
}

function convIntegerConvert(ctx: NodeContext): OnnxValue {
  return exprValue(intConv(ctx, ctx.req(0), ctx.input(2), ctx.req(1), ctx.input(3)));
}

/**
 * acc * (sa * sb / sy) + zp_y, rounded half to even and saturated to the output type. The
 * multiplier is formed in the scales' own float type and the rest in float64, which is
 * what numpy's promotion of int32 × float gives the onnx reference.
 */
function requantize(
  ctx: NodeContext,
  acc: Expr,
  sa: Expr,
  sb: Expr,
  sy: Expr,
  zpy: OnnxValue | undefined,
  fallbackDT: string,
): Expr {
  const m = em(ctx, op.astype(em(ctx, op.divide(em(ctx, op.multiply(sa, sb)), sy)), 'float64'));
  let y = em(ctx, op.multiply(em(ctx, op.astype(acc, 'float64')), m));
  const outDT = zpy ? dtypeOf(zpy, ctx) : fallbackDT;
  qrange(ctx, outDT);
  if (zpy) y = em(ctx, op.add(y, castTo(ctx, zpy, 'float64')));
  const [lo, hi] = QRANGE[outDT];
  return em(ctx, op.astype(em(ctx, op.clip(em(ctx, op.round(y)), lo, hi)), outDT));
}

/** A scale that must hold one value, as a 0-d expression of its own dtype. */
function scalarScale(ctx: NodeContext, v: OnnxValue, what: string): Expr {
  const d = staticDims(ctx, v);
  if (numel(d) !== 1) ctx.unsupported(`a per-axis ${what}`);
  const e = exprOf(ctx, v);
  return d.length === 0 ? e : em(ctx, op.reshape(e, []));
}

function qlinearMatmulConvert(ctx: NodeContext): OnnxValue {
  const a = ctx.req(0);
  const b = ctx.req(3);
  const ar = rank(ctx, a);
  const ae = centered(ctx, a, ctx.input(2), (zp, n) => em(ctx, op.reshape(zp, ar >= 2 ? [n, 1] : [n])));
  const be = centered(ctx, b, ctx.input(5), (zp) => zp);
  const acc = em(ctx, op.matmul(ae, be));
  const sdt = dtypeOf(ctx.req(1), ctx);
  // b's scale may be per column (its last dim), which broadcasts as is.
  const sb = castTo(ctx, ctx.req(4), sdt);
  return exprValue(
    requantize(
      ctx,
      acc,
      scalarScale(ctx, ctx.req(1), 'a_scale'),
      sb,
      castTo(ctx, exprValue(scalarScale(ctx, ctx.req(6), 'y_scale')), sdt),
      ctx.input(7),
      dtypeOf(a, ctx),
    ),
  );
}

function qlinearConvConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const w = ctx.req(3);
  let acc = intConv(ctx, x, ctx.input(2), w, ctx.input(5));
  const n = rank(ctx, x) - 2;
  const b = ctx.input(8);
  if (b) {
    const bd = staticDims(ctx, b);
    acc = em(
      ctx,
      op.add(
        acc,
        em(ctx, op.reshape(castTo(ctx, b, 'int32'), [bd[0] ?? 1, ...new Array<number>(n).fill(1)])),
      ),
    );
  }
  // A per-output-channel weight scale broadcasts along axis 1 of the result.
  const sdt = dtypeOf(ctx.req(1), ctx);
  const wsv = ctx.req(4);
  const wsd = staticDims(ctx, wsv);
  let ws = castTo(ctx, wsv, sdt);
  if (numel(wsd) === 1) ws = wsd.length ? em(ctx, op.reshape(ws, [])) : ws;
  else ws = em(ctx, op.reshape(ws, [wsd[0], ...new Array<number>(n).fill(1)]));
  const sy = castTo(ctx, exprValue(scalarScale(ctx, ctx.req(6), 'y_scale')), sdt);
  return exprValue(
    requantize(ctx, acc, scalarScale(ctx, ctx.req(1), 'x_scale'), ws, sy, ctx.input(7), dtypeOf(x, ctx)),
  );
}

export const QUANT_CONVERTERS: ConverterDef[] = [
  ...many('QuantizeLinear', V(10, 13, 19, 21, 23, 24, 25, 28), quantizeConvert),
  ...many('DequantizeLinear', V(10, 13, 19, 21, 23, 24, 25, 28), dequantizeConvert),
  ...many('DynamicQuantizeLinear', V(11), dynamicQuantizeConvert),
  ...many('MatMulInteger', V(10), matmulIntegerConvert),
  ...many('ConvInteger', V(10), convIntegerConvert),
  ...many('QLinearMatMul', V(10, 21), qlinearMatmulConvert),
  ...many('QLinearConv', V(10), qlinearConvConvert),
];
