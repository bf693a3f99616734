// Elementwise converters: unary math, activations (composed from Relax ops where ONNX
// has parameters Relax does not), broadcasting binary arithmetic / comparison / logic,
// variadic Sum/Mean/Max/Min, Cast/CastLike, Clip, Where. Host values fold at import time.
import type { PrimExpr } from '@kiln/ir-core';
import { DType, intImm, isLowPrecision, dtype as parseDType } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import { call, dimAdd, dimFloorDiv, dimMul, dimSub, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dtypeOf, exprOf, exprValue, isFloatName, symValue } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { castLowPrecision, castValue } from '../host.js';
import { kilnDType } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { conv } from '../registry.js';
import { castTo, em, foldElementwise, scalar } from './common.js';
import { foldSymCompare, foldSymWhere } from './sym_fold.js';

type Un = (x: Expr) => Expr;

function unary(
  opName: string,
  since: number[],
  f: Un,
  hostF?: (v: number) => number,
  requires: string[] = [],
): ConverterDef[] {
  return since.map((s) =>
    conv(
      opName,
      s,
      (ctx) => {
        const x = ctx.req(0);
        if (hostF) {
          const folded = foldElementwise(ctx, [x], dtypeOf(x, ctx), hostF);
          if (folded) return folded;
        }
        return exprValue(em(ctx, f(exprOf(ctx, x))));
      },
      requires,
    ),
  );
}

/** x with a scalar of its dtype. */
const withDT = (ctx: NodeContext, x: Expr, v: number): Expr => scalar(v, dtypeOf(exprValue(x), ctx));

function compose(opName: string, since: number[], f: (ctx: NodeContext, x: Expr) => Expr): ConverterDef[] {
  return since.map((s) => conv(opName, s, (ctx) => exprValue(em(ctx, f(ctx, exprOf(ctx, ctx.req(0)))))));
}

const BINARY: Record<string, [string, (a: number, b: number) => number]> = {
  Add: ['relax.add', (a, b) => a + b],
  Sub: ['relax.subtract', (a, b) => a - b],
  Mul: ['relax.multiply', (a, b) => a * b],
  Div: ['relax.divide', (a, b) => a / b],
  Equal: ['relax.equal', (a, b) => +(a === b)],
  Less: ['relax.less', (a, b) => +(a < b)],
  Greater: ['relax.greater', (a, b) => +(a > b)],
  LessOrEqual: ['relax.less_equal', (a, b) => +(a <= b)],
  GreaterOrEqual: ['relax.greater_equal', (a, b) => +(a >= b)],
  And: ['relax.logical_and', (a, b) => +(a && b)],
  Or: ['relax.logical_or', (a, b) => +(a || b)],
  Xor: ['relax.logical_xor', (a, b) => +(!!a !== !!b)],
  BitwiseAnd: ['relax.bitwise_and', (a, b) => a & b],
  BitwiseOr: ['relax.bitwise_or', (a, b) => a | b],
  BitwiseXor: ['relax.bitwise_xor', (a, b) => a ^ b],
};
const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);

/** Before opset 7, `broadcast=1` with `axis` aligns B's dims at `axis` of A (not at the end). */
function legacyAligned(ctx: NodeContext, a: OnnxValue, b: OnnxValue): OnnxValue {
  if (ctx.opset >= 7 || !ctx.int('broadcast', 0) || !ctx.hasAttr('axis')) return b;
  const ra = rankOfValue(a);
  const rb = rankOfValue(b);
  const axis = ctx.int('axis', 0) < 0 ? ctx.int('axis', 0) + ra : ctx.int('axis', 0);
  const trailing = ra - axis - rb;
  if (trailing <= 0) return b;
  const e = exprOf(ctx, b);
  return exprValue(
    em(
      ctx,
      op.expandDims(
        e,
        Array.from({ length: trailing }, (_, i) => rb + i),
      ),
    ),
  );
}
function rankOfValue(v: OnnxValue): number {
  if (v.kind === 'host') return v.t.shape.length;
  if (v.kind === 'sym') return v.shape.length;
  const s = v.expr.structInfo;
  return s?.kind === 'relax.TensorStructInfo' ? s.ndim : -1;
}

function binary(name: string, versions: number[]): ConverterDef[] {
  const [relaxOp, f] = BINARY[name];
  return versions.map((s) =>
    conv(
      name,
      s,
      (ctx) => {
        const a = ctx.req(0);
        const b = legacyAligned(ctx, a, ctx.req(1));
        const dt = dtypeOf(a, ctx);
        const outDT = COMPARE.has(name) ? 'bool' : dt;
        let hf = f;
        if (name === 'Div' && !isFloatName(dt)) hf = (x, y) => Math.trunc(x / y);
        const folded = foldElementwise(ctx, [a, b], outDT, hf);
        if (folded) return folded;
        if (a.kind === 'sym' || b.kind === 'sym') {
          const s = COMPARE.has(name) ? foldSymCompare(ctx, name, a, b) : symBinary(ctx, name, a, b);
          if (s) return s;
        }
        const bb = dtypeOf(b, ctx) !== dt ? castTo(ctx, b, dt) : exprOf(ctx, b);
        if (name === 'Div' && !isFloatName(dt))
          return exprValue(em(ctx, truncDiv(ctx, exprOf(ctx, a), bb, dt)));
        return exprValue(em(ctx, call(relaxOp, [exprOf(ctx, a), bb])));
      },
      [relaxOp],
    ),
  );
}

/** Integer Div truncates toward zero in ONNX (C semantics). */
function truncDiv(ctx: NodeContext, a: Expr, b: Expr, dt: string): Expr {
  if (dt.startsWith('uint')) return op.floorDivide(a, b);
  // trunc(a/b) = floor_divide(a, b) + ((a % b != 0) & (sign(a) != sign(b)))
  const fd = em(ctx, op.floorDivide(a, b));
  const fm = em(ctx, op.floorMod(a, b));
  const zero = scalar(0, dt);
  const nz = em(ctx, op.notEqual(fm, zero));
  const neg = em(ctx, op.logicalXor(em(ctx, op.less(a, zero)), em(ctx, op.less(b, zero))));
  const adj = em(ctx, op.astype(em(ctx, op.logicalAnd(nz, neg)), dt));
  return op.add(fd, adj);
}

/** Arithmetic on symbolic shape values (Shape(x)[0] * 2 and the like). */
function symBinary(ctx: NodeContext, name: string, a: OnnxValue, b: OnnxValue): OnnxValue | undefined {
  const vals = (v: OnnxValue): PrimExpr[] | undefined =>
    v.kind === 'sym'
      ? [...v.values]
      : v.kind === 'host' && v.t.shape.length <= 1 && !isFloatName(v.t.dtype)
        ? Array.from(v.t.data, (x) => intImm(x, DType.int64))
        : undefined;
  const av = vals(a);
  const bv = vals(b);
  if (!av || !bv) return undefined;
  const n = Math.max(av.length, bv.length);
  if (av.length !== n && av.length !== 1) return undefined;
  if (bv.length !== n && bv.length !== 1) return undefined;
  const f = { Add: dimAdd, Sub: dimSub, Mul: dimMul, Div: dimFloorDiv }[name as 'Add'];
  if (!f) return undefined;
  const rankOf = (v: OnnxValue): number =>
    v.kind === 'sym' ? v.shape.length : v.kind === 'host' ? v.t.shape.length : 1;
  const shape = rankOf(a) || rankOf(b) ? [n] : [];
  return symValue(
    dtypeOf(a, ctx),
    shape,
    Array.from({ length: n }, (_, i) => f(av[av.length === 1 ? 0 : i], bv[bv.length === 1 ? 0 : i])),
  );
}

function variadic(
  name: string,
  versions: number[],
  relaxOp: (a: Expr, b: Expr) => Expr,
  mean = false,
  hostF?: (a: number, b: number) => number,
): ConverterDef[] {
  return versions.map((s) =>
    conv(name, s, (ctx) => {
      const ins = Array.from({ length: ctx.numInputs }, (_, i) => ctx.req(i));
      const dt = dtypeOf(ins[0], ctx);
      if (hostF && !mean) {
        let acc: OnnxValue | undefined = ins[0];
        for (const v of ins.slice(1)) acc = acc ? foldElementwise(ctx, [acc, v], dt, hostF) : undefined;
        if (acc && acc.kind === 'host') return acc;
      }
      let e = exprOf(ctx, ins[0]);
      if (ins.length === 1) e = em(ctx, op.add(e, scalar(0, dt)));
      for (const v of ins.slice(1)) e = em(ctx, relaxOp(e, exprOf(ctx, v)));
      if (mean) e = em(ctx, op.divide(e, scalar(ins.length, dt)));
      return exprValue(e);
    }),
  );
}

function castConvert(ctx: NodeContext, to: string): OnnxValue {
  const x = ctx.req(0);
  const from = dtypeOf(x, ctx);
  // Cast-19+: `saturate` (float8 targets); Cast-24+: `round_mode` (float8e8m0 targets).
  const saturate = ctx.opset >= 19 ? ctx.int('saturate', 1) !== 0 : true;
  const roundMode = ctx.opset >= 24 ? ctx.str('round_mode', 'up') : 'up';
  if (roundMode !== 'up' && roundMode !== 'down' && roundMode !== 'nearest')
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `round_mode '${roundMode}' is not one of up, down, nearest`);
  const low = isLowPrecision(parseDType(to));
  if (x.kind === 'host') {
    const data = Array.from(x.t.data, (v) => {
      const w = isFloatName(from) && !isFloatName(to) && to !== 'bool' ? Math.trunc(v) : v;
      return low ? castLowPrecision(w, to, { saturate, roundMode }) : castValue(w, to);
    });
    return { kind: 'host', t: { dtype: to, shape: x.t.shape, data: Float64Array.from(data) } };
  }
  if (x.kind === 'sym' && !isFloatName(to) && to !== 'bool' && !low) return { ...x, dtype: to };
  if (from === to) return x;
  return exprValue(em(ctx, op.astype(exprOf(ctx, x), to, { saturate, roundMode })));
}

/** BitCast-26: the same bits read as `to`, which must have the input's bit width. */
function bitcastConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const to = kilnDType(ctx.int('to', 0), `${ctx.where} 'to'`);
  const from = dtypeOf(x, ctx);
  const width = (d: string) => {
    const t = parseDType(d);
    return t.code === 'bool' ? 8 : t.bits;
  };
  if (width(from) !== width(to))
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `BitCast from ${from} (${width(from)} bits) to ${to} (${width(to)} bits): the widths must match`,
    );
  if (from === to) return x;
  return exprValue(em(ctx, op.reinterpret(exprOf(ctx, x), to)));
}

function clipConvert(ctx: NodeContext): OnnxValue {
  const x = ctx.req(0);
  const dt = dtypeOf(x, ctx);
  let lo: number | null = null;
  let hi: number | null = null;
  if (ctx.opset < 11) {
    lo = ctx.hasAttr('min') ? ctx.float('min', 0) : null;
    hi = ctx.hasAttr('max') ? ctx.float('max', 0) : null;
  } else {
    const get = (i: number): number | null | 'dyn' => {
      const v = ctx.input(i);
      if (!v) return null;
      if (v.kind === 'host') return v.t.data[0];
      return 'dyn';
    };
    const a = get(1);
    const b = get(2);
    if (a === 'dyn' || b === 'dyn') {
      // Runtime bounds: max(min(x, hi), lo) with broadcasting.
      let e = exprOf(ctx, x);
      if (a !== null) e = em(ctx, op.maximum(e, a === 'dyn' ? exprOf(ctx, ctx.req(1)) : scalar(a, dt)));
      if (b !== null) e = em(ctx, op.minimum(e, b === 'dyn' ? exprOf(ctx, ctx.req(2)) : scalar(b, dt)));
      return exprValue(e);
    }
    lo = a;
    hi = b;
  }
  if (lo !== null && hi !== null && lo > hi) {
    // ONNX: every element becomes max (min(max(x, lo), hi) with lo > hi).
    return exprValue(em(ctx, op.fullLike(exprOf(ctx, x), scalar(hi, dt))));
  }
  if (!isFloatName(dt)) {
    let e = exprOf(ctx, x);
    if (lo !== null) e = em(ctx, op.maximum(e, scalar(lo, dt)));
    if (hi !== null) e = em(ctx, op.minimum(e, scalar(hi, dt)));
    return exprValue(e);
  }
  return exprValue(em(ctx, op.clip(exprOf(ctx, x), lo, hi)));
}

function whereConvert(ctx: NodeContext): OnnxValue {
  const c = ctx.req(0);
  const x = ctx.req(1);
  const y = ctx.req(2);
  const folded = foldElementwise(ctx, [c, x, y], dtypeOf(x, ctx), (cc, a, b) => (cc ? a : b));
  if (folded) return folded;
  const sym = foldSymWhere(ctx, c, x, y);
  if (sym) return sym;
  return exprValue(em(ctx, op.where(exprOf(ctx, c), exprOf(ctx, x), exprOf(ctx, y))));
}

const eluLike = (ctx: NodeContext, x: Expr, alpha: number, scale = 1): Expr => {
  // where(x > 0, x, alpha * expm1(x)) * scale (expm1, not exp - 1: in 16-bit floats the
  // rounded exp would cancel against the 1, as in the reference's np.expm1)
  const neg = em(ctx, op.multiply(em(ctx, op.expm1(x)), withDT(ctx, x, alpha)));
  const r = em(ctx, op.where(em(ctx, op.greater(x, withDT(ctx, x, 0))), x, neg));
  return scale === 1 ? r : op.multiply(r, withDT(ctx, x, scale));
};

const V = (...v: number[]) => v;

/**
 * BitShift (signed types from opset 28). A shift by y in [0, bits) is a multiply or a
 * floor division by 2^y done in the unsigned type of the same width (so 2^(bits-1)
 * fits and the product wraps); a right shift of a negative x shifts ~x and inverts
 * back, which is the arithmetic shift. Amounts outside [0, bits) give 0, or -1 for a
 * right shift of a negative x, as the reference does.
 */
function bitShiftConvert(ctx: NodeContext): OnnxValue {
  const xv = ctx.req(0);
  const dt = dtypeOf(xv, ctx);
  const bits = Number(/\d+$/.exec(dt)?.[0] ?? 0);
  if (!/^u?int\d+$/.test(dt))
    ctx.fail(OnnxErrorCodes.ONNX_INVALID, `BitShift needs integer operands, got ${dt}`);
  const signed = dt.startsWith('int');
  const udt = signed ? `u${dt}` : dt;
  const x = exprOf(ctx, xv);
  const y = castTo(ctx, ctx.req(1), dt);
  const valid = em(
    ctx,
    op.logicalAnd(em(ctx, op.greaterEqual(y, scalar(0, dt))), em(ctx, op.less(y, scalar(bits, dt)))),
  );
  const amount = em(ctx, op.astype(em(ctx, op.where(valid, y, scalar(0, dt))), 'float64'));
  const pow2 = em(ctx, op.astype(em(ctx, op.power(scalar(2, 'float64'), amount)), udt));
  const toU = (e: Expr) => (signed ? em(ctx, op.astype(e, udt)) : e);
  const fromU = (e: Expr) => (signed ? em(ctx, op.astype(e, dt)) : e);
  const zero = scalar(0, dt);
  if (ctx.str('direction', 'LEFT') === 'LEFT') {
    const r = fromU(em(ctx, op.multiply(toU(x), pow2)));
    return exprValue(em(ctx, op.where(valid, r, zero)));
  }
  if (!signed) return exprValue(em(ctx, op.where(valid, em(ctx, op.floorDivide(x, pow2)), zero)));
  const neg = em(ctx, op.less(x, zero));
  const mag = em(ctx, op.where(neg, em(ctx, op.bitwiseNot(x)), x));
  const shifted = fromU(em(ctx, op.floorDivide(toU(mag), pow2)));
  const r = em(ctx, op.where(neg, em(ctx, op.bitwiseNot(shifted)), shifted));
  return exprValue(em(ctx, op.where(valid, r, em(ctx, op.where(neg, scalar(-1, dt), zero)))));
}

export const ELEMENTWISE_CONVERTERS: ConverterDef[] = [
  ...unary('Abs', V(6, 13), op.abs, Math.abs),
  ...unary('Neg', V(6, 13), op.negative, (v) => -v),
  ...unary('Exp', V(6, 13), op.exp, Math.exp),
  ...unary('Log', V(6, 13), op.log, Math.log),
  ...unary('Sqrt', V(6, 13), op.sqrt, Math.sqrt),
  ...unary('Sin', V(7), op.sin),
  ...unary('Cos', V(7), op.cos),
  ...unary('Tan', V(7), op.tan),
  ...unary('Asin', V(7), op.asin),
  ...unary('Acos', V(7), op.acos),
  ...unary('Atan', V(7), op.atan),
  ...unary('Sinh', V(9), op.sinh),
  ...unary('Cosh', V(9), op.cosh),
  ...unary('Tanh', V(6, 13), op.tanh),
  ...unary('Sigmoid', V(6, 13), op.sigmoid),
  ...unary('Erf', V(9, 13), op.erf),
  ...unary('Floor', V(6, 13), op.floor, Math.floor),
  ...unary('Ceil', V(6, 13), op.ceil, Math.ceil),
  ...unary('Round', V(11), op.round),
  ...unary('Sign', V(9, 13), op.sign, Math.sign),
  ...unary('Reciprocal', V(6, 13), op.reciprocal, (v) => 1 / v),
  ...unary('Not', V(1), op.logicalNot, (v) => +!v),
  ...unary('BitwiseNot', V(18), op.bitwiseNot),
  ...unary('IsNaN', V(9, 13, 20), op.isnan),
  ...unary('Relu', V(6, 13, 14), op.relu),
  ...unary('Softplus', V(1), op.softplus),
  ...unary('Mish', V(18), op.mish),
  ...unary('HardSwish', V(14), op.hardSwish),
  ...compose('Asinh', V(9), (ctx, x) =>
    op.log(
      em(ctx, op.add(x, em(ctx, op.sqrt(em(ctx, op.add(em(ctx, op.multiply(x, x)), withDT(ctx, x, 1))))))),
    ),
  ),
  ...compose('Acosh', V(9), (ctx, x) =>
    op.log(
      em(
        ctx,
        op.add(x, em(ctx, op.sqrt(em(ctx, op.subtract(em(ctx, op.multiply(x, x)), withDT(ctx, x, 1)))))),
      ),
    ),
  ),
  ...compose('Atanh', V(9), (ctx, x) =>
    op.multiply(
      withDT(ctx, x, 0.5),
      em(
        ctx,
        op.log(
          em(
            ctx,
            op.divide(em(ctx, op.add(withDT(ctx, x, 1), x)), em(ctx, op.subtract(withDT(ctx, x, 1), x))),
          ),
        ),
      ),
    ),
  ),
  ...compose('Softsign', V(1), (ctx, x) =>
    op.divide(x, em(ctx, op.add(em(ctx, op.abs(x)), withDT(ctx, x, 1)))),
  ),
  ...compose('LeakyRelu', V(6, 16), (ctx, x) => {
    const a = ctx.float('alpha', 0.01);
    return op.where(
      em(ctx, op.greaterEqual(x, withDT(ctx, x, 0))),
      x,
      em(ctx, op.multiply(x, withDT(ctx, x, a))),
    );
  }),
  ...compose('Elu', V(6), (ctx, x) => eluLike(ctx, x, ctx.float('alpha', 1))),
  ...compose('Selu', V(6), (ctx, x) =>
    eluLike(ctx, x, ctx.float('alpha', 1.6732631921768188), ctx.float('gamma', 1.0507010221481323)),
  ),
  ...compose('Celu', V(12), (ctx, x) => {
    const a = ctx.float('alpha', 1);
    // max(0, x) + min(0, alpha * expm1(x / alpha))
    const e = em(ctx, op.expm1(em(ctx, op.divide(x, withDT(ctx, x, a)))));
    return op.add(
      em(ctx, op.maximum(x, withDT(ctx, x, 0))),
      em(ctx, op.minimum(em(ctx, op.multiply(e, withDT(ctx, x, a))), withDT(ctx, x, 0))),
    );
  }),
  ...compose('ThresholdedRelu', V(10), (ctx, x) =>
    op.where(em(ctx, op.greater(x, withDT(ctx, x, ctx.float('alpha', 1)))), x, withDT(ctx, x, 0)),
  ),
  ...compose('HardSigmoid', V(6), (ctx, x) => {
    const y = em(
      ctx,
      op.add(
        em(ctx, op.multiply(x, withDT(ctx, x, ctx.float('alpha', 0.2)))),
        withDT(ctx, x, ctx.float('beta', 0.5)),
      ),
    );
    return op.clip(y, 0, 1);
  }),
  ...compose('Gelu', V(20), (ctx, x) =>
    ctx.str('approximate', 'none') === 'tanh' ? op.geluTanh(x) : op.gelu(x),
  ),
  ...compose('Shrink', V(9), (ctx, x) => {
    const l = ctx.float('lambd', 0.5);
    const b = ctx.float('bias', 0);
    const lo = em(
      ctx,
      op.where(
        em(ctx, op.less(x, withDT(ctx, x, -l))),
        em(ctx, op.add(x, withDT(ctx, x, b))),
        withDT(ctx, x, 0),
      ),
    );
    return op.where(
      em(ctx, op.greater(x, withDT(ctx, x, l))),
      em(ctx, op.subtract(x, withDT(ctx, x, b))),
      lo,
    );
  }),
  ...compose('IsInf', V(10, 20), (ctx, x) => {
    const pos = ctx.int('detect_positive', 1);
    const neg = ctx.int('detect_negative', 1);
    const inf = em(ctx, op.isinf(x));
    if (pos && neg) return inf;
    if (!pos && !neg) return op.logicalAnd(inf, em(ctx, op.logicalNot(inf)));
    return op.logicalAnd(
      inf,
      em(ctx, pos ? op.greater(x, withDT(ctx, x, 0)) : op.less(x, withDT(ctx, x, 0))),
    );
  }),
  ...V(1, 6, 7, 9, 16).map((s) =>
    conv('PRelu', s, (ctx) => {
      const x = exprOf(ctx, ctx.req(0));
      let slope = exprOf(ctx, ctx.req(1));
      // Before opset 7 a 1-D slope is per channel (axis 1), not numpy-broadcast.
      const rx = rankOfValue(ctx.req(0));
      if (ctx.opset < 7 && rankOfValue(ctx.req(1)) === 1 && rx > 2)
        slope = em(
          ctx,
          op.expandDims(
            slope,
            Array.from({ length: rx - 2 }, (_, i) => i + 1),
          ),
        );
      return exprValue(
        em(ctx, op.where(em(ctx, op.less(x, withDT(ctx, x, 0))), em(ctx, op.multiply(x, slope)), x)),
      );
    }),
  ),
  ...binary('Add', V(1, 6, 7, 13, 14)),
  ...binary('Sub', V(1, 6, 7, 13, 14)),
  ...binary('Mul', V(1, 6, 7, 13, 14)),
  ...binary('Div', V(1, 6, 7, 13, 14)),
  ...binary('Equal', V(1, 7, 11, 13, 19)),
  ...binary('Less', V(1, 7, 9, 13)),
  ...binary('Greater', V(1, 7, 9, 13)),
  ...binary('LessOrEqual', V(12, 16)),
  ...binary('GreaterOrEqual', V(12, 16)),
  ...binary('And', V(1, 7)),
  ...binary('Or', V(1, 7)),
  ...binary('Xor', V(1, 7)),
  ...binary('BitwiseAnd', V(18)),
  ...binary('BitwiseOr', V(18)),
  ...binary('BitwiseXor', V(18)),
  ...V(1, 7, 12, 13, 15).map((s) =>
    conv('Pow', s, (ctx) => {
      const a = ctx.req(0);
      const b = ctx.req(1);
      const dt = dtypeOf(a, ctx);
      const folded = foldElementwise(ctx, [a, b], dt, (x, y) => x ** y);
      if (folded) return folded;
      return exprValue(em(ctx, op.power(exprOf(ctx, a), castTo(ctx, b, dt))));
    }),
  ),
  ...V(10, 13).map((s) =>
    conv('Mod', s, (ctx) => {
      const a = ctx.req(0);
      const b = ctx.req(1);
      // fmod=0 is Python's % (sign of the divisor), also for floats since opset 10.
      const fmod = ctx.int('fmod', 0);
      return exprValue(
        em(ctx, fmod ? op.mod(exprOf(ctx, a), exprOf(ctx, b)) : op.floorMod(exprOf(ctx, a), exprOf(ctx, b))),
      );
    }),
  ),
  ...V(11).map((s) => conv('BitShift', s, bitShiftConvert)),
  ...variadic('Sum', V(6, 8, 13), op.add, false, (a, b) => a + b),
  ...variadic('Mean', V(6, 8, 13), op.add, true),
  ...variadic('Max', V(6, 8, 12, 13), op.maximum, false, Math.max),
  ...variadic('Min', V(6, 8, 12, 13), op.minimum, false, Math.min),
  ...V(6, 9, 13, 19, 21, 23).map((s) =>
    conv('Cast', s, (ctx) => castConvert(ctx, kilnDType(ctx.int('to', 0), `${ctx.where} 'to'`))),
  ),
  ...V(15, 19, 21, 23).map((s) => conv('CastLike', s, (ctx) => castConvert(ctx, dtypeOf(ctx.req(1), ctx)))),
  conv('BitCast', 26, bitcastConvert),
  ...V(6, 11, 12, 13).map((s) => conv('Clip', s, clipConvert)),
  ...V(9, 16).map((s) => conv('Where', s, whereConvert)),
];
