// relax.ConvertLayout: run 2-d convolutions in the blocked layout NCHW[x]c (option
// `layout`, e.g. 'NCHW8c'), the layout CPU schedules vectorize over. Each
// `relax.nn.conv2d` (NCHW/OIHW, groups 1, output channels divisible by x) becomes a
// call_tir of a blocked-layout kernel: data NCHW[x]c (input channels blocked by x when
// they divide, else as one block), weights OIHW[i]i[x]o, output NCHW[x]c. Constant weights
// are transformed here, at compile time, into a new constant; other weights get a
// transform kernel. The blocked layout then flows through what does not care about it —
// elementwise ops, binary ops whose other operand is blocked too, a per-channel constant
// (C,1,1)/(1,C,1,1) (rewritten at compile time) or a scalar, batch norm with constant
// statistics (folded into a per-channel scale and shift), max_pool2d — and into the next
// convolution. A layout transform back to NCHW is inserted only where a value is used in
// its original layout (any other op, or a value leaving the dataflow block), so the
// transforms sit at the boundaries of conv regions. Results are unchanged (the blocked
// convolution sums in a different order: float rounding differs at the 1e-6 level).
// Requires: operator calls (run before relax.LegalizeOps), normalized input.
// Establishes: 'layout_converted'.
import type { DataType, IRModule, Node, PassContext, PrimExpr, Var as PrimVar } from '@kiln/ir-core';
import {
  add,
  and,
  DType,
  definePass,
  floordiv,
  floormod,
  ge,
  lt,
  moduleEntries,
  mul,
  sub,
  toExpr,
} from '@kiln/ir-core';
import type { AnyVar, Binding, Block, Call, Constant, Expr, RelaxFunction, TypedArray } from '@kiln/relax';
import {
  BlockBuilder,
  call,
  constant,
  createOpRegistry,
  dataflowVar,
  placeholderFor,
  relaxVar,
  op as rop,
  tensorShape,
  tensorSInfo,
  varBinding,
} from '@kiln/relax';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import { z } from 'zod';
import { knownTensor, mapFunctionBlocks, relaxVarsUsed } from './util.js';

const layoutOptions = z.object({
  /** The blocked layout for conv2d data and outputs: NCHW<x>c. */
  layout: z
    .string()
    .regex(/^NCHW[1-9][0-9]*c$/, 'a layout NCHW<x>c such as NCHW8c')
    .default('NCHW8c'),
});
export type ConvertLayoutOptions = z.output<typeof layoutOptions>;

const BROADCAST_BINARY = new Set([
  'relax.add',
  'relax.subtract',
  'relax.multiply',
  'relax.divide',
  'relax.maximum',
  'relax.minimum',
]);

interface Packed {
  readonly v: AnyVar;
  readonly factor: number;
  /** Channels of the NCHW value. */
  readonly channels: number;
}

const i64 = (v: number): PrimExpr => toExpr(v, DType.int64);

function staticInt(e: PrimExpr | undefined): number | undefined {
  return e?.kind === 'IntImm' ? e.value : undefined;
}

interface LayoutResult {
  readonly value: Expr;
  readonly factor: number;
  readonly channels: number;
  /** Bindings the value needs first. */
  readonly pre: Binding[];
}

interface ConvAttrs {
  strides: number[];
  padding: number[];
  dilation: number[];
  groups: number;
  outDtype: string | null;
}

class LayoutRewriter {
  private readonly ops = createOpRegistry();
  constructor(
    readonly bb: BlockBuilder,
    readonly factor: number,
  ) {}

  /** Call a te-built kernel: inputs are Relax values, `build` makes the output stage. */
  private kernel(name: string, args: readonly Expr[], build: (...ins: Tensor[]) => Tensor): Call {
    const ins = args.map((a, i) => placeholderFor(a, String.fromCharCode(97 + i), name));
    const out = build(...ins);
    const fn = T.createPrimFunc([...ins, out], { name });
    const gv = this.bb.addFunc(fn, name);
    const tirVars = fn.params.filter((p): p is PrimVar => p.kind === 'Var');
    return rop.callTIR(gv, args, tensorSInfo(out.shape, out.dtype), tirVars.length ? tirVars : undefined);
  }

  pack(x: Expr, f: number): Call {
    return this.kernel(`layout_transform_NCHW_NCHW${f}c`, [x], (a) => {
      const [n, c, h, w] = a.shape;
      return T.compute(
        [n, floordiv(c, i64(f)), h, w, i64(f)],
        (b, co, y, xx, ci) => a.at(b, add(mul(co, i64(f)), ci), y, xx),
        `T_NCHW${f}c`,
      );
    });
  }

  unpack(y: Expr, f: number, channels: number): Call {
    return this.kernel(`layout_transform_NCHW${f}c_NCHW`, [y], (a) => {
      const [n, , h, w] = a.shape;
      return T.compute(
        [n, i64(channels), h, w],
        (b, c, yy, xx) => a.at(b, floordiv(c, i64(f)), yy, xx, floormod(c, i64(f))),
        'T_NCHW',
      );
    });
  }

  /** OIHW → OIHW[fi]i[fo]o, folded when the weight is a constant. */
  packWeight(w: Expr, fi: number, fo: number): Expr {
    const t = knownTensor(w.structInfo)!;
    const [o, i, kh, kw] = tensorShape(t)!.map(staticInt) as number[];
    if (w.kind === 'relax.Constant') {
      const src = w.data;
      const dst = new (src.constructor as new (n: number) => TypedArray)(src.length);
      const shape = [o / fo, i / fi, kh, kw, fi, fo];
      let k = 0;
      for (let oo = 0; oo < o / fo; oo++)
        for (let io = 0; io < i / fi; io++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++)
              for (let ii = 0; ii < fi; ii++)
                for (let oi = 0; oi < fo; oi++) {
                  const from = (((oo * fo + oi) * i + io * fi + ii) * kh + y) * kw + x;
                  (dst as Float32Array)[k++] = (src as Float32Array)[from];
                }
      return constant(dst, shape, w.dtype);
    }
    return this.kernel(`layout_transform_OIHW_OIHW${fi}i${fo}o`, [w], (a) =>
      T.compute(
        [i64(o / fo), i64(i / fi), i64(kh), i64(kw), i64(fi), i64(fo)],
        (oo, io, y, x, ii, oi) => a.at(add(mul(oo, i64(fo)), oi), add(mul(io, i64(fi)), ii), y, x),
        `T_OIHW${fi}i${fo}o`,
      ),
    );
  }

  /** A per-channel constant (C,1,1) / (1,C,1,1) as (1, C/f, 1, 1, f); scalars as they are. */
  packChannelConstant(c: Constant, channels: number, f: number): Constant | undefined {
    const size = c.shape.reduce((a, b) => a * b, 1);
    if (size === 1 && c.shape.length <= 1) return c;
    const ok =
      (c.shape.length === 3 && c.shape[0] === channels && c.shape[1] === 1 && c.shape[2] === 1) ||
      (c.shape.length === 4 &&
        c.shape[0] === 1 &&
        c.shape[1] === channels &&
        c.shape[2] === 1 &&
        c.shape[3] === 1);
    if (!ok) return undefined;
    // Row-major (1, C/f, 1, 1, f) has the same element order as (C,): only the shape changes.
    return constant(c.data, [1, channels / f, 1, 1, f], c.dtype);
  }

  conv(call: Call, x: Expr, xPacked: Packed | undefined, w: Expr): LayoutResult | undefined {
    const a = call.attrs as unknown as ConvAttrs;
    const xs = knownTensor(x.structInfo);
    const ws = knownTensor(w.structInfo);
    const os = knownTensor(call.structInfo);
    if (!xs || !ws || !os || xs.dtype !== ws.dtype || xs.dtype !== os.dtype) return undefined;
    if (a.groups !== 1) return this.depthwise(call, xPacked, w);
    const xShape = tensorShape(xs)!;
    const wShape = tensorShape(ws)!.map(staticInt);
    const oShape = tensorShape(os)!;
    const c = staticInt(xShape[1]);
    if (xShape.length !== 4 || c === undefined || wShape.some((d) => d === undefined)) return undefined;
    const [o, , kh, kw] = wShape as number[];
    const f = this.factorFor(o, xPacked);
    if (f === undefined) return undefined;
    const fi = xPacked && c % xPacked.factor === 0 ? xPacked.factor : c % f === 0 ? f : c;
    const pre: Binding[] = [];
    let xp: Expr;
    if (xPacked && xPacked.factor === fi) xp = xPacked.v;
    else {
      const v = this.fresh(`${nameOf(x)}_${'NCHW'}${fi}c`, this.bb.normalize(this.pack(x, fi)));
      pre.push(v.binding);
      xp = v.var;
    }
    const wp = this.packWeight(w, fi, f);
    let wArg = wp;
    if (wp.kind !== 'relax.Constant') {
      const v = this.fresh('w_packed', this.bb.normalize(wp));
      pre.push(v.binding);
      wArg = v.var;
    }
    const geom = convGeometry(a);
    const value = this.kernel(`conv2d_NCHW${f}c`, [xp, wArg], (xt, wt) => {
      return T.compute(
        [oShape[0], i64(o / f), oShape[2], oShape[3], i64(f)],
        (n, oo, oh, ow, oi) => {
          const io = T.reduceAxis(i64(c / fi), 'ic_o');
          const ry = T.reduceAxis(i64(kh), 'ry');
          const rx = T.reduceAxis(i64(kw), 'rx');
          const ii = T.reduceAxis(i64(fi), 'ic_i');
          const xv = windowRead(xt, geom, xs.dtype!, n, io, oh, ow, ry, rx, ii);
          return T.sum(mul(xv, wt.at(oo, io, ry, rx, ii, oi)), [io, ry, rx, ii]);
        },
        `T_conv2d_NCHW${f}c`,
      );
    });
    return { value, pre, factor: f, channels: o };
  }

  /**
   * The channel block of a conv output with `channels` channels: the layout's factor, or
   * half of it (not below 8 lanes) when only that divides the channels (24 channels in
   * NCHW16c run as NCHW8c); an input blocked with a factor that divides is kept.
   */
  factorFor(channels: number, xPacked?: Packed): number | undefined {
    if (channels % this.factor === 0) return this.factor;
    const half = this.factor / 2;
    if (Number.isInteger(half) && half >= 8 && channels % half === 0) return half;
    if (xPacked && xPacked.factor >= 8 && channels % xPacked.factor === 0) return xPacked.factor;
    return undefined;
  }

  /**
   * Depthwise conv2d (groups = input channels = output channels): channel block by
   * channel block, data NCHW[x]c, weights (C/x, KH, KW, x) — transformed at compile time
   * when constant — output NCHW[x]c. Each output vector of x channels is a sum of
   * KH·KW products of an input vector and a weight vector.
   */
  private depthwise(call: Call, xPacked: Packed | undefined, w: Expr): LayoutResult | undefined {
    const a = call.attrs as unknown as ConvAttrs;
    const x = call.args[0];
    const xs = knownTensor(x.structInfo)!;
    const os = knownTensor(call.structInfo)!;
    const xShape = tensorShape(xs)!;
    const wShape = tensorShape(knownTensor(w.structInfo)!)!.map(staticInt);
    const oShape = tensorShape(os)!;
    const c = staticInt(xShape[1]);
    if (xShape.length !== 4 || c === undefined || wShape.some((d) => d === undefined)) return undefined;
    const [o, one, kh, kw] = wShape as number[];
    if (a.groups !== c || o !== c || one !== 1) return undefined;
    const f = xPacked && c % xPacked.factor === 0 ? xPacked.factor : this.factorFor(c);
    if (f === undefined) return undefined;
    const pre: Binding[] = [];
    let xp: Expr;
    if (xPacked && xPacked.factor === f) xp = xPacked.v;
    else {
      const v = this.fresh(`${nameOf(x)}_NCHW${f}c`, this.bb.normalize(this.pack(x, f)));
      pre.push(v.binding);
      xp = v.var;
    }
    let wArg: Expr;
    if (w.kind === 'relax.Constant') {
      // (C, 1, KH, KW) → (C/f, KH, KW, f)
      const src = w.data as Float32Array;
      const dst = new (src.constructor as new (n: number) => Float32Array)(src.length);
      let k = 0;
      for (let co = 0; co < c / f; co++)
        for (let y = 0; y < kh; y++)
          for (let xx = 0; xx < kw; xx++)
            for (let ci = 0; ci < f; ci++) dst[k++] = src[((co * f + ci) * kh + y) * kw + xx];
      wArg = constant(dst, [c / f, kh, kw, f], w.dtype);
    } else {
      const v = this.fresh(
        'w_packed',
        this.bb.normalize(
          this.kernel(`layout_transform_OIHW_OHW${f}o`, [w], (t) =>
            T.compute(
              [i64(c / f), i64(kh), i64(kw), i64(f)],
              (co, y, xx, ci) => t.at(add(mul(co, i64(f)), ci), i64(0), y, xx),
              `T_OHW${f}o`,
            ),
          ),
        ),
      );
      pre.push(v.binding);
      wArg = v.var;
    }
    const geom = convGeometry(a);
    const value = this.kernel(`depthwise_conv2d_NCHW${f}c`, [xp, wArg], (xt, wt) => {
      return T.compute(
        [oShape[0], i64(c / f), oShape[2], oShape[3], i64(f)],
        (n, co, oh, ow, ci) => {
          const ry = T.reduceAxis(i64(kh), 'ry');
          const rx = T.reduceAxis(i64(kw), 'rx');
          const xv = windowRead(xt, geom, xs.dtype!, n, co, oh, ow, ry, rx, ci);
          return T.sum(mul(xv, wt.at(co, ry, rx, ci)), [ry, rx]);
        },
        `T_depthwise_conv2d_NCHW${f}c`,
      );
    });
    return { value, pre, factor: f, channels: c };
  }

  /** A mean over H and W keeping the dims reduces the blocked layout as it is. */
  private mean(v: Call, p: Packed): LayoutResult | undefined {
    const a = v.attrs as { axis?: number[] | null; keepdims?: boolean };
    const xs = knownTensor(v.args[0].structInfo);
    if (xs?.ndim !== 4 || !a.keepdims || !a.axis) return undefined;
    const axes = a.axis.map((x) => (x < 0 ? x + 4 : x)).sort();
    if (axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) return undefined;
    return {
      value: this.bb.normalize(call(v.op, [p.v], { attrs: v.attrs })),
      factor: p.factor,
      channels: p.channels,
      pre: [],
    };
  }

  private fresh(name: string, value: Expr): { var: AnyVar; binding: Binding } {
    const v = this.dataflow ? dataflowVar(name, value.structInfo!) : relaxVar(name, value.structInfo!);
    return { var: v, binding: varBinding(v, value) };
  }

  dataflow = true;
  /** Vars of the function used outside the block that binds them (set per function). */
  usedOutside: ReadonlySet<Node> = new Set();

  block(blk: Block): Block {
    this.dataflow = blk.kind === 'relax.DataflowBlock';
    const packed = new Map<Node, Packed>();
    const unmaterialized = new Set<Node>();
    const out: Binding[] = [];
    let changed = false;
    const materialize = (v: Node): void => {
      if (!unmaterialized.has(v)) return;
      const p = packed.get(v)!;
      const orig = v as unknown as AnyVar;
      out.push(varBinding(orig, this.bb.normalize(this.unpack(p.v, p.factor, p.channels))));
      unmaterialized.delete(v);
    };
    for (const b of blk.bindings) {
      const v = b.value;
      let done = false;
      if (b.kind === 'relax.VarBinding' && v.kind === 'relax.Call' && v.op.kind === 'relax.Op') {
        const name = v.op.name;
        const argPacked = (i: number) => packed.get(v.args[i]);
        let result: { value: Expr; factor: number; channels: number; pre: Binding[] } | undefined;
        if (name === 'relax.nn.conv2d') {
          const r = this.conv(v, v.args[0], argPacked(0), v.args[1]);
          if (r) result = r;
        } else if (
          v.args.length === 1 &&
          argPacked(0) &&
          this.ops.tryGet(name)?.pattern === 'elemwise' &&
          this.ops.tryGet(name)?.numArgs === 1
        ) {
          const p = argPacked(0)!;
          result = {
            value: this.bb.normalize(call(v.op, [p.v], { attrs: v.attrs })),
            factor: p.factor,
            channels: p.channels,
            pre: [],
          };
        } else if (BROADCAST_BINARY.has(name) && v.args.length === 2) {
          result = this.binary(v, packed);
        } else if (name === 'relax.nn.batch_norm' && argPacked(0)) {
          result = this.batchNorm(v, argPacked(0)!);
        } else if (name === 'relax.nn.max_pool2d' && argPacked(0)) {
          result = this.maxPool(v, argPacked(0)!);
        } else if (name === 'relax.mean' && argPacked(0)) {
          result = this.mean(v, argPacked(0)!);
        }
        if (result) {
          const nv = this.fresh(`${b.var.name}_NCHW${result.factor}c`, this.bb.normalize(result.value));
          out.push(...result.pre, nv.binding);
          packed.set(b.var, { v: nv.var, factor: result.factor, channels: result.channels });
          unmaterialized.add(b.var);
          // A value used after the block needs its original layout right away.
          if (this.usedOutside.has(b.var)) materialize(b.var);
          changed = true;
          done = true;
        }
      }
      if (!done) {
        for (const u of relaxVarsUsed(v)) materialize(u);
        out.push(b);
      }
    }
    if (!changed) return blk;
    return Object.freeze({ ...blk, bindings: Object.freeze(out) }) as Block;
  }

  /**
   * Inference batch norm over channels with constant statistics is `x * scale + shift`
   * per channel: both folded now, as blocked per-channel constants.
   */
  private batchNorm(v: Call, p: Packed): LayoutResult | undefined {
    const a = v.attrs as { axis?: number; epsilon?: number; center?: boolean; scale?: boolean };
    const xs = knownTensor(v.args[0].structInfo);
    if (xs?.ndim !== 4 || ((a.axis ?? 1) !== 1 && a.axis !== -3)) return undefined;
    // Folding computes on the stored values: 16-bit floats are stored as bits.
    if (xs.dtype?.code !== 'float' || xs.dtype.bits < 32) return undefined;
    const params = v.args.slice(1);
    if (
      !params.every(
        (c): c is Constant =>
          c.kind === 'relax.Constant' &&
          c.shape.length === 1 &&
          c.shape[0] === p.channels &&
          c.dtype === xs.dtype,
      )
    )
      return undefined;
    const [gamma, beta, mean, variance] = params.map((c) => c.data as Float32Array);
    const eps = a.epsilon ?? 1e-5;
    const scale = new (gamma.constructor as new (n: number) => Float32Array)(p.channels);
    const shift = new (gamma.constructor as new (n: number) => Float32Array)(p.channels);
    for (let c = 0; c < p.channels; c++) {
      const s = ((a.scale ?? true) ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
      scale[c] = s;
      shift[c] = ((a.center ?? true) ? beta[c] : 0) - mean[c] * s;
    }
    const shape = [1, p.channels / p.factor, 1, 1, p.factor];
    const scaled = this.fresh(
      'bn_scaled',
      this.bb.normalize(call('relax.multiply', [p.v, constant(scale, shape, xs.dtype)])),
    );
    return {
      value: this.bb.normalize(call('relax.add', [scaled.var, constant(shift, shape, xs.dtype)])),
      factor: p.factor,
      channels: p.channels,
      pre: [scaled.binding],
    };
  }

  /** max_pool2d works channel by channel, so it runs on the blocked layout as it is. */
  private maxPool(v: Call, p: Packed): LayoutResult | undefined {
    const a = v.attrs as { poolSize: number[]; strides?: number[]; padding?: number[]; dilation?: number[] };
    const os = knownTensor(v.structInfo);
    if (os?.ndim !== 4) return undefined;
    const o = tensorShape(os)!;
    const k = expand(a.poolSize, 2);
    const st = expand(a.strides ?? [1], 2);
    const dl = expand(a.dilation ?? [1], 2);
    const pd = a.padding ?? [0];
    const before = pd.length === 1 ? [pd[0], pd[0]] : pd.slice(0, 2);
    const f = p.factor;
    const value = this.kernel(`max_pool2d_NCHW${f}c`, [p.v], (xt) =>
      T.compute(
        [o[0], i64(p.channels / f), o[2], o[3], i64(f)],
        (n, co, oh, ow, ci) => {
          const r0 = T.reduceAxis(i64(k[0]), 'r0');
          const r1 = T.reduceAxis(i64(k[1]), 'r1');
          const y = sub(add(mul(oh, i64(st[0])), mul(r0, i64(dl[0]))), i64(before[0]));
          const x = sub(add(mul(ow, i64(st[1])), mul(r1, i64(dl[1]))), i64(before[1]));
          const valid = and(and(ge(y, i64(0)), lt(y, xt.shape[2])), and(ge(x, i64(0)), lt(x, xt.shape[3])));
          return T.reduceMax(T.ifThenElseExpr(valid, xt.at(n, co, y, x, ci), T.minValue(xt.dtype)), [r0, r1]);
        },
        `T_pool_max_NCHW${f}c`,
      ),
    );
    return { value, factor: f, channels: p.channels, pre: [] };
  }

  private binary(
    v: Call,
    packed: ReadonlyMap<Node, Packed>,
  ): { value: Expr; factor: number; channels: number; pre: Binding[] } | undefined {
    const [a, b] = v.args;
    const pa = packed.get(a);
    const pb = packed.get(b);
    const outShape = tensorShape(
      knownTensor(v.structInfo) ?? { kind: 'relax.TensorStructInfo', ndim: -1 },
    )?.map(staticInt);
    const pick = (p: Packed, other: Expr, packedFirst: boolean) => {
      const src = tensorShape(knownTensor((packedFirst ? a : b).structInfo)!)!;
      // The blocked operand must already have the output's shape (no broadcasting of it).
      if (!outShape || src.length !== 4 || outShape.length !== 4 || staticInt(src[1]) !== outShape[1])
        return undefined;
      let o: Expr | undefined;
      const po = packed.get(other);
      if (po) o = po.factor === p.factor ? po.v : undefined;
      else if (other.kind === 'relax.Constant') o = this.packChannelConstant(other, p.channels, p.factor);
      if (!o) return undefined;
      const args = packedFirst ? [p.v, o] : [o, p.v];
      return {
        value: this.bb.normalize(call(v.op, args, { attrs: v.attrs })),
        factor: p.factor,
        channels: p.channels,
        pre: [],
      };
    };
    if (pa) return pick(pa, b, true);
    if (pb) return pick(pb, a, false);
    return undefined;
  }
}

function expand(v: readonly number[], n: number): number[] {
  return v.length === 1 ? Array(n).fill(v[0]) : [...v];
}

interface ConvGeometry {
  strides: number[];
  dil: number[];
  /** Leading (top, left) padding. */
  pad: number[];
  padded: boolean;
}

/** A 2-D convolution's strides, dilation, leading padding and whether it pads. */
function convGeometry(a: {
  strides: readonly number[];
  dilation: readonly number[];
  padding: readonly number[];
}): ConvGeometry {
  return {
    strides: expand(a.strides, 2),
    dil: expand(a.dilation, 2),
    pad: a.padding.length === 1 ? [a.padding[0], a.padding[0]] : a.padding.slice(0, 2),
    padded: a.padding.some((p) => p !== 0),
  };
}

/**
 * The input element under kernel tap (ry, rx) of output pixel (oh, ow) in a blocked
 * NCHW[x]c input `xt` (channel block `cb`, lane `ci`); zero in the padding.
 */
function windowRead(
  xt: Tensor,
  g: ConvGeometry,
  dtype: DataType,
  n: PrimExpr,
  cb: PrimExpr,
  oh: PrimExpr,
  ow: PrimExpr,
  ry: PrimExpr,
  rx: PrimExpr,
  ci: PrimExpr,
): PrimExpr {
  const y = sub(add(mul(oh, i64(g.strides[0])), mul(ry, i64(g.dil[0]))), i64(g.pad[0]));
  const x = sub(add(mul(ow, i64(g.strides[1])), mul(rx, i64(g.dil[1]))), i64(g.pad[1]));
  const v = xt.at(n, cb, y, x, ci);
  if (!g.padded) return v;
  const inside = and(and(ge(y, i64(0)), lt(y, xt.shape[2])), and(ge(x, i64(0)), lt(x, xt.shape[3])));
  return T.ifThenElseExpr(inside, v, toExpr(0, dtype));
}

function nameOf(e: Expr): string {
  return e.kind === 'relax.Var' || e.kind === 'relax.DataflowVar' ? e.name : 'x';
}

/**
 * The vars bound in a block of `body` (nested scopes included) that something outside
 * that block uses: a later block, the body's result, a nested scope's result.
 */
function varsUsedOutsideTheirBlock(body: Expr): Set<Node> {
  const out = new Set<Node>();
  const visit = (e: Expr): void => {
    if (e.kind === 'relax.SeqExpr') {
      const blockOf = new Map<Node, number>();
      e.blocks.forEach((blk, i) => {
        for (const b of blk.bindings) {
          for (const u of relaxVarsUsed(b.value)) {
            const at = blockOf.get(u);
            if (at !== undefined && at !== i) out.add(u);
          }
          blockOf.set(b.var, i);
          if (b.value.kind === 'relax.SeqExpr' || b.value.kind === 'relax.If') visit(b.value);
        }
      });
      for (const u of relaxVarsUsed(e.body)) out.add(u);
      visit(e.body);
    } else if (e.kind === 'relax.If') {
      visit(e.trueBranch);
      visit(e.falseBranch);
    }
  };
  visit(body);
  return out;
}

export function convertLayout(mod: IRModule, opts: Partial<ConvertLayoutOptions> = {}): IRModule {
  const o = layoutOptions.parse(opts);
  const factor = Number(/^NCHW([0-9]+)c$/.exec(o.layout)![1]);
  const bb = new BlockBuilder(mod);
  const rw = new LayoutRewriter(bb, factor);
  let changed = false;
  for (const [g, f] of moduleEntries(mod)) {
    if (f.kind !== 'relax.Function') continue;
    const rf = f as unknown as RelaxFunction;
    if (rf.attrs.Primitive !== undefined || rf.attrs.Composite !== undefined) continue;
    rw.usedOutside = varsUsedOutsideTheirBlock(rf.body);
    const nf = mapFunctionBlocks(rf, (blk) => rw.block(blk));
    if (nf !== rf) {
      changed = true;
      bb.updateFunction(g, nf as unknown as Node);
    }
  }
  return changed ? bb.getModule() : mod;
}

export const ConvertLayout = definePass<ConvertLayoutOptions, z.input<typeof layoutOptions>>({
  name: 'relax.ConvertLayout',
  kind: 'module',
  optLevel: 2,
  establishes: ['layout_converted'],
  options: layoutOptions,
  run(mod: IRModule, _ctx: PassContext, o) {
    return convertLayout(mod, o);
  },
});
