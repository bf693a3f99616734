// Shape and data-movement converters: Shape/Size (folded to symbolic values), Reshape,
// Flatten, Transpose, Concat, Split, Slice, Squeeze/Unsqueeze, Gather*, Scatter*,
// Constant/ConstantOfShape/EyeLike/Range, Expand, Tile, Pad, Identity/Dropout, Trilu,
// DepthToSpace/SpaceToDepth, OneHot. Inputs that ONNX passes as tensors but Relax needs
// as attributes (pads, axes, starts) must be known at import time.
import type { PrimExpr } from '@kiln/ir-core';
import { DType, intImm } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { constDim, dimMul, dimProduct, op, tupleGetItem } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import {
  constInts,
  dims,
  dtypeOf,
  exprOf,
  exprValue,
  hostOf,
  hostValue,
  isFloatName,
  optInts,
  rank,
  shapeOf,
  staticDims,
  symInts,
  symValue,
} from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import type { HostTensor } from '../host.js';
import { broadcastMap, hostConcat, hostSlice, hostTake, hostTensor, hostTranspose, numel } from '../host.js';
import { kilnDType } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, normAxis, scalar } from './common.js';
import { hasSymbolicBounds, symbolicSlice } from './slice_symbolic.js';

const V = (...v: number[]) => v;
const i64 = (v: number): PrimExpr => intImm(v, DType.int64);
const HOST_FOLD_LIMIT = 1 << 16;

/** Values of a rank ≤ 1 int value known at import time (host or symbolic), else undefined. */
function knownInts(v: OnnxValue): PrimExpr[] | undefined {
  if (v.kind === 'sym') return [...v.values];
  if (v.kind === 'host' && v.t.shape.length <= 1 && !isFloatName(v.t.dtype)) return Array.from(v.t.data, i64);
  return undefined;
}
function withShape(v: OnnxValue, shape: readonly number[]): OnnxValue | undefined {
  if (v.kind === 'host') return hostValue(hostTensor(v.t.dtype, shape, v.t.data));
  if (v.kind === 'sym' && shape.length <= 1) return { ...v, shape };
  return undefined;
}
const smallHost = (v: OnnxValue): v is { kind: 'host'; t: HostTensor } =>
  v.kind === 'host' && v.t.data.length <= HOST_FOLD_LIMIT;

function shapeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const r = d.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(ctx.int('start', 0));
  const end = ctx.hasAttr('end') ? clamp(ctx.int('end', r)) : r;
  const vals = d.slice(start, Math.max(start, end));
  return symValue('int64', [vals.length], vals);
}

/** Reshape target with ONNX 0 (copy) resolved; -1 left for Relax to infer. */
function reshapeTarget(
  ctx: NodeContext,
  inDims: readonly PrimExpr[] | undefined,
  target: PrimExpr[],
  allowZero: boolean,
): PrimExpr[] {
  return target.map((t, i) => {
    if (!allowZero && constDim(t) === 0) {
      if (!inDims)
        ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'shape value 0 (copy the input dim) needs a known input shape');
      return inDims![i];
    }
    return t;
  });
}
function staticReshape(
  _ctx: NodeContext,
  inDims: readonly number[],
  target: PrimExpr[],
): number[] | undefined {
  const t = target.map((x) => constDim(x));
  if (t.some((x) => x === undefined)) return undefined;
  const total = numel(inDims);
  const known = (t as number[]).filter((x) => x !== -1).reduce((a, b) => a * b, 1);
  return (t as number[]).map((x) => (x === -1 ? (known === 0 ? 0 : total / known) : x));
}
function reshapeValue(ctx: NodeContext, x: OnnxValue, target: PrimExpr[]): OnnxValue {
  const inDims = x.kind === 'expr' ? undefined : x.kind === 'host' ? x.t.shape : x.shape;
  if (inDims) {
    const s = staticReshape(ctx, inDims, target);
    const w = s ? withShape(x, s) : undefined;
    if (w) return w;
  }
  return exprValue(em(ctx, op.reshape(exprOf(ctx, x), target)));
}
function reshapeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const target = ctx.opset < 5 ? (ctx.ints('shape') ?? []).map(i64) : symInts(ctx, 1, 'the shape input');
  const t = reshapeTarget(ctx, shapeOf(x), target, ctx.int('allowzero', 0) === 1);
  return reshapeValue(ctx, x, t);
}

function flattenConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = ctx.int('axis', 1);
  const a = axis < 0 ? axis + d.length : axis;
  if (a < 0 || a > d.length)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `axis ${axis} out of range for rank ${d.length}`);
  return reshapeValue(ctx, x, [dimProduct(d.slice(0, a)), dimProduct(d.slice(a))]);
}

function transposeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const r = rank(ctx, x);
  const perm = ctx.ints('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  if (smallHost(x))
    return hostValue(
      hostTranspose(
        x.t,
        perm.map((p) => normAxis(ctx, p, r)),
      ),
    );
  if (r <= 1) return x;
  return exprValue(em(ctx, op.permuteDims(exprOf(ctx, x), perm)));
}

function concatConvert(ctx: NodeContext): OnnxValue {
  const ins = Array.from({ length: ctx.numInputs }, (_, i) => ctx.req(i));
  const r = rank(ctx, ins[0]);
  const axis = normAxis(ctx, ctx.int('axis', ctx.opset < 4 ? 1 : 0), r);
  if (ins.every(smallHost))
    return hostValue(
      hostConcat(
        ins.map((v) => (v as { t: HostTensor }).t),
        axis,
      ),
    );
  if (r === 1 && ins.every((v) => knownInts(v))) {
    const vals = ins.flatMap((v) => knownInts(v)!);
    return symValue(dtypeOf(ins[0], ctx), [vals.length], vals);
  }
  // Zero-sized operands contribute nothing (ONNX allows them; kernels need not see them).
  const parts = ins.filter((v) => {
    const s = v.kind === 'host' ? v.t.shape : undefined;
    return !(s && s[axis] === 0);
  });
  if (parts.length === 1) return parts[0];
  return exprValue(
    em(
      ctx,
      op.concat(
        parts.map((v) => exprOf(ctx, v)),
        axis,
      ),
    ),
  );
}

function splitConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', 0), d.length);
  let sizes =
    ctx.opset < 13
      ? (ctx.ints('split') ?? (ctx.input(1) ? constInts(ctx, 1, 'split') : undefined))
      : optInts(ctx, 1, 'split');
  const n = ctx.numOutputs;
  const dimA = constDim(d[axis]);
  if (!sizes) {
    const parts = ctx.opset >= 18 ? ctx.int('num_outputs', n) : n;
    if (dimA === undefined) {
      const r = em(ctx, op.split(exprOf(ctx, x), parts, axis));
      return Array.from({ length: parts }, (_, i) => exprValue(em(ctx, tupleGetItem(r, i))));
    }
    const chunk = Math.ceil(dimA / parts);
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dimA - i * chunk)));
  }
  const idx: number[] = [];
  let acc = 0;
  for (const s of sizes.slice(0, -1)) idx.push((acc += s));
  if (sizes.length === 1) return [x];
  const r = em(ctx, op.split(exprOf(ctx, x), idx, axis));
  return sizes.map((_, i) => exprValue(em(ctx, tupleGetItem(r, i))));
}

const BIG = 2 ** 62;
function sliceConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  let starts: number[];
  let ends: number[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = ctx.ints('starts') ?? [];
    ends = ctx.ints('ends') ?? [];
    axes = ctx.ints('axes');
  } else {
    if (x.kind !== 'sym' && hasSymbolicBounds(ctx)) return symbolicSlice(ctx, x);
    starts = constInts(ctx, 1, 'starts');
    ends = constInts(ctx, 2, 'ends');
    axes = optInts(ctx, 3, 'axes');
    steps = optInts(ctx, 4, 'steps');
  }
  const r = rank(ctx, x);
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(ctx, a, r));
  const st = steps ?? starts.map(() => 1);
  if (st.some((s) => s === 0)) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'slice step 0');
  const clampBig = (v: number) => Math.max(-BIG, Math.min(BIG, v));
  // Fold slices of host/symbolic values (shape computations).
  const hostShape = x.kind === 'host' ? x.t.shape : x.kind === 'sym' ? x.shape : undefined;
  if (hostShape && (x.kind === 'sym' || smallHost(x))) {
    const begin = hostShape.map(() => 0);
    const step = hostShape.map(() => 1);
    const outShape = [...hostShape];
    ax.forEach((a, i) => {
      const dd = hostShape[a];
      const s = st[i];
      let b = clampBig(starts[i]);
      let e = clampBig(ends[i]);
      if (b < 0) b += dd;
      if (e < 0) e += dd;
      if (s > 0) {
        b = Math.max(0, Math.min(dd, b));
        e = Math.max(0, Math.min(dd, e));
      } else {
        b = Math.max(-1, Math.min(dd - 1, b));
        e = Math.max(-1, Math.min(dd - 1, e));
      }
      begin[a] = b;
      step[a] = s;
      outShape[a] = Math.max(0, Math.ceil((e - b) / s));
    });
    if (x.kind === 'host') return hostValue(hostSlice(x.t, begin, step, outShape));
    const vals = Array.from({ length: outShape[0] ?? 1 }, (_, k) => x.values[begin[0] + k * step[0]]);
    return symValue(x.dtype, outShape, vals);
  }
  const lim = 2 ** 31 - 1;
  const c = (v: number) => Math.max(-lim, Math.min(lim, v));
  return exprValue(em(ctx, op.stridedSlice(exprOf(ctx, x), ax, starts.map(c), ends.map(c), st)));
}

function squeezeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const axes = ctx.opset < 13 ? ctx.ints('axes') : optInts(ctx, 1, 'axes');
  const d = dims(ctx, x);
  const ax = axes
    ? axes.map((a) => normAxis(ctx, a, d.length))
    : d.map((v, i) => (constDim(v) === 1 ? i : -1)).filter((i) => i >= 0);
  const outDims = d.filter((_, i) => !ax.includes(i));
  if (x.kind !== 'expr') {
    const s = outDims.map((v) => constDim(v)!);
    const w = withShape(x, s);
    if (w) return w;
  }
  return exprValue(em(ctx, op.squeeze(exprOf(ctx, x), ax)));
}
function unsqueezeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const axes = ctx.opset < 13 ? (ctx.ints('axes') ?? []) : constInts(ctx, 1, 'axes');
  const r = rank(ctx, x) + axes.length;
  const ax = axes.map((a) => normAxis(ctx, a, r)).sort((a, b) => a - b);
  if (x.kind !== 'expr') {
    const inShape = x.kind === 'host' ? x.t.shape : x.shape;
    const s: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) s.push(ax.includes(i) ? 1 : inShape[k++]);
    const w = withShape(x, s);
    if (w) return w;
  }
  return exprValue(em(ctx, op.expandDims(exprOf(ctx, x), ax)));
}

function gatherConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const idx = ctx.req(1);
  const r = rank(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', 0), r);
  if (idx.kind === 'host') {
    if (smallHost(x)) return hostValue(hostTake(x.t, idx.t, axis));
    if (x.kind === 'sym') {
      const n = x.values.length;
      const vals = Array.from(idx.t.data, (i) => x.values[i < 0 ? i + n : i]);
      return symValue(x.dtype, idx.t.shape, vals);
    }
  }
  let ie = exprOf(ctx, idx);
  const d = dims(ctx, x);
  const da = constDim(d[axis]);
  if (idx.kind === 'host' && da !== undefined) {
    ie = exprOf(
      ctx,
      hostValue(
        hostTensor(
          idx.t.dtype,
          idx.t.shape,
          Array.from(idx.t.data, (v) => (v < 0 ? v + da : v)),
        ),
      ),
    );
  } else if (da !== undefined) ie = wrapNegative(ctx, ie, dtypeOf(idx, ctx), da);
  return exprValue(em(ctx, op.take(exprOf(ctx, x), ie, axis)));
}
/** where(i < 0, i + d, i) for runtime indices. */
function wrapNegative(ctx: NodeContext, ie: Expr, dt: string, d: number): Expr {
  return em(ctx, op.where(em(ctx, op.less(ie, scalar(0, dt))), em(ctx, op.add(ie, scalar(d, dt))), ie));
}

function gatherElementsConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const idx = ctx.req(1);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', 0), d.length);
  const da = constDim(d[axis]);
  let ie = exprOf(ctx, idx);
  if (da !== undefined) ie = wrapNegative(ctx, ie, dtypeOf(idx, ctx), da);
  return exprValue(em(ctx, op.gatherElements(exprOf(ctx, x), ie, axis)));
}
function gatherNdConvert(ctx: NodeContext): OnnxValue {
  return exprValue(
    em(ctx, op.gatherNd(exprOf(ctx, ctx.req(0)), exprOf(ctx, ctx.req(1)), ctx.int('batch_dims', 0))),
  );
}
function scatterElementsConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const d = dims(ctx, x);
  const axis = normAxis(ctx, ctx.int('axis', 0), d.length);
  const red = ctx.str('reduction', 'none');
  const reduction = red === 'none' ? 'update' : red;
  if (!['update', 'add', 'mul', 'min', 'max'].includes(reduction)) ctx.unsupported(`reduction '${red}'`);
  let ie = exprOf(ctx, ctx.req(1));
  const da = constDim(d[axis]);
  if (da !== undefined) ie = wrapNegative(ctx, ie, dtypeOf(ctx.req(1), ctx), da);
  return exprValue(
    em(ctx, op.scatterElements(exprOf(ctx, x), ie, exprOf(ctx, ctx.req(2)), axis, reduction as 'update')),
  );
}

function constantConvert(ctx: NodeContext): OnnxValue {
  const t = ctx.tensorAttr('value');
  if (t) return hostValue(t);
  if (ctx.hasAttr('value_float')) return hostValue(hostTensor('float32', [], [ctx.float('value_float', 0)]));
  if (ctx.hasAttr('value_int')) return hostValue(hostTensor('int64', [], [ctx.int('value_int', 0)]));
  const fs = ctx.floats('value_floats');
  if (fs) return hostValue(hostTensor('float32', [fs.length], fs));
  const is = ctx.ints('value_ints');
  if (is) return hostValue(hostTensor('int64', [is.length], is));
  return ctx.unsupported('only tensor, float and int constants are supported (not sparse or string)');
}

function fullOf(ctx: NodeContext, shape: PrimExpr[], value: number, dt: string): OnnxValue {
  const s = shape.map((d) => constDim(d));
  if (s.every((v) => v !== undefined) && numel(s as number[]) <= 4096) {
    return hostValue(hostTensor(dt, s as number[], new Float64Array(numel(s as number[])).fill(value)));
  }
  return exprValue(em(ctx, op.full(shape, scalar(value, dt), dt)));
}
function constantOfShapeConvert(ctx: NodeContext): OnnxValue {
  const shape = symInts(ctx, 0, 'the shape input');
  const v = ctx.tensorAttr('value');
  return fullOf(ctx, shape, v ? v.data[0] : 0, v ? v.dtype : 'float32');
}

function expandConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const target = symInts(ctx, 1, 'the shape input');
  const d = dims(ctx, x);
  const n = Math.max(d.length, target.length);
  const out: PrimExpr[] = [];
  for (let i = 0; i < n; i++) {
    const a = d[d.length - n + i];
    const b = target[target.length - n + i];
    if (a === undefined) out.push(b);
    else if (b === undefined || constDim(b) === 1) out.push(a);
    else out.push(b);
  }
  if (
    smallHost(x) &&
    out.every((v) => constDim(v) !== undefined) &&
    numel(out.map((v) => constDim(v)!)) <= HOST_FOLD_LIMIT
  ) {
    const zeros = hostTensor(
      x.t.dtype,
      out.map((v) => constDim(v)!),
      new Float64Array(numel(out.map((v) => constDim(v)!))),
    );
    const r = broadcastMap([x.t, zeros], x.t.dtype, (a) => a);
    if (r) return hostValue(r);
  }
  return exprValue(em(ctx, op.broadcastTo(exprOf(ctx, x), out)));
}

function tileConvert(ctx: NodeContext): OnnxValue {
  const reps = constInts(ctx, 1, 'repeats');
  return exprValue(em(ctx, op.tile(exprOf(ctx, ctx.req(0)), reps)));
}

function padConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const r = rank(ctx, x);
  const mode = ctx.str('mode', 'constant');
  if (!['constant', 'edge', 'reflect', 'wrap'].includes(mode)) ctx.unsupported(`pad mode '${mode}'`);
  let pads: number[];
  let value = 0;
  if (ctx.opset < 11) {
    pads = ctx.ints('pads') ?? ctx.ints('paddings') ?? [];
    value = ctx.float('value', 0);
  } else {
    pads = constInts(ctx, 1, 'pads');
    if (ctx.input(2)) value = hostOf(ctx, 2, 'constant_value').data[0] ?? 0;
  }
  const axesIn = ctx.opset >= 18 ? optInts(ctx, 3, 'axes') : undefined;
  const axes = (axesIn ?? Array.from({ length: r }, (_, i) => i)).map((a) => normAxis(ctx, a, r));
  const k = axes.length;
  if (pads.length !== 2 * k)
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `pads needs ${2 * k} values, got ${pads.length}`);
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  axes.forEach((a, i) => {
    before[a] = pads[i];
    after[a] = pads[i + k];
  });
  let e = exprOf(ctx, x);
  // Negative pads crop.
  if ([...before, ...after].some((p) => p < 0)) {
    const d = staticDims(ctx, x);
    const sa: number[] = [];
    const sb: number[] = [];
    const se: number[] = [];
    for (let i = 0; i < r; i++) {
      if (before[i] < 0 || after[i] < 0) {
        sa.push(i);
        sb.push(Math.max(0, -before[i]));
        se.push(d[i] - Math.max(0, -after[i]));
      }
    }
    e = em(ctx, op.stridedSlice(e, sa, sb, se));
  }
  const pw: number[] = [];
  for (let i = 0; i < r; i++) pw.push(Math.max(0, before[i]), Math.max(0, after[i]));
  if (pw.every((p) => p === 0)) return exprValue(e);
  if (mode === 'wrap') {
    // Output index i along an axis reads input (i - before) mod size (pads may exceed the size).
    const d = staticDims(ctx, exprValue(e));
    for (let i = 0; i < r; i++) {
      const [b, a] = [pw[2 * i], pw[2 * i + 1]];
      if (b === 0 && a === 0) continue;
      if (d[i] === 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, `wrap padding of the empty axis ${i}`);
      const idx = Array.from({ length: b + d[i] + a }, (_, k) => (((k - b) % d[i]) + d[i]) % d[i]);
      e = em(ctx, op.take(e, exprOf(ctx, hostValue(hostTensor('int64', [idx.length], idx))), i));
    }
    return exprValue(e);
  }
  // relax.nn.pad takes a finite number: ±infinity becomes the largest finite value of the dtype.
  const big = dtypeOf(x, ctx) === 'float64' ? Number.MAX_VALUE : 3.4028234663852886e38;
  const pv = Number.isFinite(value) ? value : value > 0 ? big : -big;
  return exprValue(em(ctx, op.pad(e, pw, Number.isNaN(value) ? 0 : pv, mode as 'constant')));
}

function rangeConvert(ctx: NodeContext): OnnxValue {
  const [s, l, d] = [0, 1, 2].map((i) => ctx.req(i));
  const dt = dtypeOf(s, ctx);
  if (s.kind === 'host' && l.kind === 'host' && d.kind === 'host') {
    const [a, b, c] = [s.t.data[0], l.t.data[0], d.t.data[0]];
    const n = Math.max(0, Math.ceil((b - a) / c));
    return hostValue(
      hostTensor(
        dt,
        [n],
        Array.from({ length: n }, (_, i) => a + i * c),
      ),
    );
  }
  const sv = knownInts(s);
  const lv = knownInts(l);
  const dv = knownInts(d);
  if (sv && lv && dv) return exprValue(em(ctx, op.arange(sv[0], lv[0], dv[0], dt)));
  return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'start, limit and delta must be known at compile time');
}

function triluConvert(ctx: NodeContext): OnnxValue {
  const k = ctx.input(1) ? hostOf(ctx, 1, 'k').data[0] : 0;
  const x = exprOf(ctx, ctx.req(0));
  return exprValue(em(ctx, ctx.int('upper', 1) ? op.triu(x, k) : op.tril(x, k)));
}

function depthToSpaceConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [n, c, h, w] = staticDims(ctx, x);
  const b = ctx.int('blocksize', 1);
  const crd = ctx.str('mode', 'DCR') === 'CRD';
  const e = exprOf(ctx, x);
  const t1 = em(ctx, op.reshape(e, crd ? [n, c / (b * b), b, b, h, w] : [n, b, b, c / (b * b), h, w]));
  const t2 = em(ctx, op.permuteDims(t1, crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]));
  return exprValue(em(ctx, op.reshape(t2, [n, c / (b * b), h * b, w * b])));
}
function spaceToDepthConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [n, c, h, w] = staticDims(ctx, x);
  const b = ctx.int('blocksize', 1);
  const t1 = em(ctx, op.reshape(exprOf(ctx, x), [n, c, h / b, b, w / b, b]));
  // DCR (the default) puts the block offsets before the channels; CRD after them.
  const crd = ctx.str('mode', 'DCR') === 'CRD';
  const t2 = em(ctx, op.permuteDims(t1, crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]));
  return exprValue(em(ctx, op.reshape(t2, [n, c * b * b, h / b, w / b])));
}

function oneHotConvert(ctx: NodeContext): OnnxValue {
  const depth = hostOf(ctx, 1, 'depth').data[0];
  const vals = hostOf(ctx, 2, 'values');
  const idx = ctx.req(0);
  const idt = dtypeOf(idx, ctx);
  let ie = exprOf(ctx, idx);
  if (isFloatName(idt)) ie = em(ctx, op.astype(ie, 'int64'));
  // (relax.one_hot counts negative indices from the end itself; out-of-range ones, also
  // after that, give a row of off values.)
  return exprValue(
    em(
      ctx,
      op.oneHot(ie, depth, {
        axis: ctx.int('axis', -1),
        offValue: vals.data[0],
        onValue: vals.data[1],
        dtype: vals.dtype,
      }),
    ),
  );
}

function eyeLikeConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const [n, m] = staticDims(ctx, x);
  const k = ctx.int('k', 0);
  const dt = ctx.hasAttr('dtype') ? kilnDType(ctx.int('dtype', 1), ctx.where) : dtypeOf(x, ctx);
  const data = new Float64Array(n * m);
  for (let i = 0; i < n; i++) if (i + k >= 0 && i + k < m) data[i * m + i + k] = 1;
  return hostValue(hostTensor(dt, [n, m], data));
}

function sizeConvert(ctx: NodeContext): OnnxValue {
  return symValue('int64', [], [dimProduct(dims(ctx, ctx.req(0)))]);
}

function identityConvert(ctx: NodeContext): OnnxValue {
  return ctx.req(0);
}
function dropoutConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const x = ctx.req(0);
  const training = ctx.input(2);
  if (training && !(training.kind === 'host' && training.t.data[0] === 0)) {
    // Training mode draws a random mask, except with ratio 0: identity, mask all true.
    const ratio = ctx.input(1);
    if (ratio && ratio.kind !== 'host')
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'in training mode the ratio must be known at compile time');
    if (ratio?.t.data[0] !== 0) ctx.unsupported('training mode with a ratio other than 0 (a random mask)');
  }
  let mask: OnnxValue | undefined;
  if (ctx.wantsOutput(1)) {
    const s = dims(ctx, x);
    mask = exprValue(em(ctx, op.broadcastTo(scalar(1, 'bool'), s)));
  }
  return [x, mask];
}

void dimMul;

export const TENSOR_CONVERTERS: ConverterDef[] = [
  ...many('Shape', V(1, 13, 15, 19, 21, 23), shapeConvert),
  ...many('Size', V(1, 13, 19, 21, 23), sizeConvert),
  ...many('Reshape', V(1, 5, 13, 14, 19, 21, 23), reshapeConvert),
  ...many('Flatten', V(1, 9, 11, 13, 21, 23), flattenConvert),
  ...many('Transpose', V(1, 13, 21, 23), transposeConvert),
  ...many('Concat', V(1, 4, 11, 13), concatConvert),
  ...many('Split', V(2, 11, 13, 18), splitConvert),
  ...many('Slice', V(1, 10, 11, 13), sliceConvert),
  ...many('Squeeze', V(1, 11, 13, 21, 23), squeezeConvert),
  ...many('Unsqueeze', V(1, 11, 13, 21, 23), unsqueezeConvert),
  ...many('Gather', V(1, 11, 13), gatherConvert),
  ...many('GatherElements', V(11, 13), gatherElementsConvert),
  ...many('GatherND', V(11, 12, 13), gatherNdConvert),
  ...many('ScatterElements', V(11, 13, 16, 18), scatterElementsConvert),
  ...many('Scatter', V(9), scatterElementsConvert),
  ...many('Constant', V(1, 9, 11, 12, 13, 19, 21, 23), constantConvert),
  ...many('ConstantOfShape', V(9, 20, 21, 23), constantOfShapeConvert),
  ...many('Expand', V(8, 13), expandConvert),
  ...many('Tile', V(6, 13), tileConvert),
  ...many('Pad', V(2, 11, 13, 18, 19, 21, 23), padConvert),
  ...many('Range', V(11), rangeConvert),
  ...many('Trilu', V(14), triluConvert),
  ...many('DepthToSpace', V(1, 11, 13), depthToSpaceConvert),
  ...many('SpaceToDepth', V(1, 13), spaceToDepthConvert),
  ...many('OneHot', V(9, 11), oneHotConvert),
  ...many('EyeLike', V(9, 22), eyeLikeConvert),
  ...many('Identity', V(1, 13, 14, 16, 19, 21, 23), identityConvert),
  ...many('Dropout', V(1, 6, 7, 10, 12, 13, 22), dropoutConvert),
];
