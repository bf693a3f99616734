// Legalization of elementwise operators to te compute stages (one kernel per call).
import type { DataType, ExprLike, PrimExpr } from '@kiln/ir-core';
import * as P from '@kiln/ir-core';
import { DType, dtype as parseDType } from '@kiln/ir-core';
import type { Tensor } from '@kiln/tensorir';
import * as T from '@kiln/tensorir';
import type { BinaryOpName, UnaryOpName } from '../op/elemwise.js';
import type { LegalizeTable } from './common.js';
import { emitTE } from './te-call.js';

const isF = (t: DataType) => t.code === 'float' || t.code === 'bfloat';
const c = (v: number, t: DataType): PrimExpr => P.toExpr(v, t);

/** Scalar formula of each unary op. */
export const UNARY_FORMULAS: Record<UnaryOpName, (x: PrimExpr) => PrimExpr> = {
  'relax.abs': (x) =>
    isF(x.dtype)
      ? T.fabs(x)
      : x.dtype.code === 'uint'
        ? x
        : P.select(P.lt(x, c(0, x.dtype)), P.sub(c(0, x.dtype), x), x),
  'relax.negative': (x) => P.sub(c(0, x.dtype), x),
  'relax.exp': T.exp,
  'relax.expm1': T.expm1,
  'relax.log': T.log,
  'relax.log2': T.log2,
  'relax.log10': T.log10,
  'relax.sqrt': T.sqrt,
  'relax.rsqrt': T.rsqrt,
  'relax.sin': T.sin,
  'relax.cos': T.cos,
  'relax.tan': T.tan,
  'relax.asin': T.asin,
  'relax.acos': T.acos,
  'relax.atan': T.atan,
  'relax.sinh': T.sinh,
  'relax.cosh': T.cosh,
  'relax.tanh': T.tanh,
  'relax.sigmoid': T.sigmoid,
  'relax.erf': T.erf,
  'relax.floor': (x) => (isF(x.dtype) ? T.floor(x) : x),
  'relax.ceil': (x) => (isF(x.dtype) ? T.ceil(x) : x),
  // Ties to even, as ONNX Round and torch.round.
  'relax.round': (x) => (isF(x.dtype) ? T.nearbyint(x) : x),
  'relax.trunc': (x) => (isF(x.dtype) ? T.trunc(x) : x),
  'relax.sign': (x) =>
    P.select(
      P.gt(x, c(0, x.dtype)),
      c(1, x.dtype),
      P.select(P.lt(x, c(0, x.dtype)), c(-1, x.dtype), c(0, x.dtype)),
    ),
  'relax.square': (x) => P.mul(x, x),
  'relax.reciprocal': (x) => P.div(c(1, x.dtype), x),
  'relax.logical_not': (x) => P.not(x),
  'relax.bitwise_not': (x) => (x.dtype.code === 'bool' ? P.not(x) : T.bitwiseNot(x)),
  'relax.isnan': T.isnan,
  'relax.isinf': T.isinf,
  'relax.isfinite': T.isfinite,
  'relax.nn.relu': (x) => P.max(x, c(0, x.dtype)),
  'relax.nn.gelu': (x) =>
    P.mul(P.mul(x, c(0.5, x.dtype)), P.add(c(1, x.dtype), T.erf(P.mul(x, c(Math.SQRT1_2, x.dtype))))),
  'relax.nn.gelu_tanh': (x) => {
    const inner = P.mul(
      c(Math.sqrt(2 / Math.PI), x.dtype),
      P.add(x, P.mul(c(0.044715, x.dtype), P.mul(x, P.mul(x, x)))),
    );
    return P.mul(P.mul(x, c(0.5, x.dtype)), P.add(c(1, x.dtype), T.tanh(inner)));
  },
  'relax.nn.silu': (x) => P.mul(x, T.sigmoid(x)),
  'relax.nn.softplus': (x) => softplus(x),
  'relax.nn.mish': (x) => P.mul(x, T.tanh(softplus(x))),
  // PyTorch definitions: relu6(x + 3) / 6 and x * relu6(x + 3) / 6.
  'relax.nn.hard_sigmoid': (x) => P.div(relu6(P.add(x, c(3, x.dtype))), c(6, x.dtype)),
  'relax.nn.hard_swish': (x) => P.mul(x, P.div(relu6(P.add(x, c(3, x.dtype))), c(6, x.dtype))),
};
/** log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)). */
function softplus(x: PrimExpr): PrimExpr {
  return P.add(P.max(x, c(0, x.dtype)), T.log1p(T.exp(P.sub(c(0, x.dtype), T.fabs(x)))));
}
function relu6(x: PrimExpr): PrimExpr {
  return P.min(P.max(x, c(0, x.dtype)), c(6, x.dtype));
}

/** Scalar formula of each binary op (operands already of the common dtype). */
export const BINARY_FORMULAS: Record<BinaryOpName, (a: PrimExpr, b: PrimExpr) => PrimExpr> = {
  'relax.add': P.add,
  'relax.subtract': P.sub,
  'relax.multiply': P.mul,
  'relax.divide': P.div,
  'relax.floor_divide': (a, b) => (isF(a.dtype) ? T.floor(P.div(a, b)) : P.floordiv(a, b)),
  'relax.power': (a, b) =>
    isF(a.dtype) ? T.pow(a, b) : P.cast(a.dtype, T.pow(P.cast(DType.float64, a), P.cast(DType.float64, b))),
  'relax.maximum': P.max,
  'relax.minimum': P.min,
  'relax.mod': (a, b) => (isF(a.dtype) ? T.fmod(a, b) : P.truncmod(a, b)),
  'relax.floor_mod': (a, b) => (isF(a.dtype) ? floatFloorMod(a, b) : P.floormod(a, b)),
  'relax.equal': P.eq,
  'relax.not_equal': P.ne,
  'relax.less': P.lt,
  'relax.less_equal': P.le,
  'relax.greater': P.gt,
  'relax.greater_equal': P.ge,
  'relax.logical_and': P.and,
  'relax.logical_or': P.or,
  'relax.logical_xor': P.ne,
  'relax.bitwise_and': (a, b) => (a.dtype.code === 'bool' ? P.and(a, b) : T.bitwiseAnd(a, b)),
  'relax.bitwise_or': (a, b) => (a.dtype.code === 'bool' ? P.or(a, b) : T.bitwiseOr(a, b)),
  'relax.bitwise_xor': (a, b) => (a.dtype.code === 'bool' ? P.ne(a, b) : T.bitwiseXor(a, b)),
};

/**
 * Python's float %, as numpy computes it: fmod, moved into the divisor's sign when the
 * signs differ, and a zero takes the divisor's sign. (a - floor(a/b)*b gives NaN for
 * an infinite divisor: 1 % -inf is -inf.)
 */
function floatFloorMod(a: PrimExpr, b: PrimExpr): PrimExpr {
  const zero = P.toExpr(0, a.dtype);
  const r = T.fmod(a, b);
  const differ = P.and(P.ne(r, zero), P.ne(P.lt(b, zero), P.lt(r, zero)));
  return P.select(P.eq(r, zero), T.copysign(zero, b), P.select(differ, P.add(r, b), r));
}

const shortName = (op: string) => op.slice(op.lastIndexOf('.') + 1);

/** Elementwise map over one tensor. */
export function mapTensor(x: Tensor, f: (v: PrimExpr, idx: PrimExpr[]) => ExprLike, name: string): Tensor {
  return T.compute(x.shape, (...i) => f(x.at(...i), i), name, { axisNames: x.shape.map((_, k) => `i${k}`) });
}

export const ELEMWISE_LEGALIZE: LegalizeTable = {};
for (const [name, f] of Object.entries(UNARY_FORMULAS)) {
  ELEMWISE_LEGALIZE[name] = (call, bb) =>
    emitTE(bb, call, shortName(name), (x) => mapTensor(x, (v) => f(v), `T_${shortName(name)}`));
}
for (const [name, f] of Object.entries(BINARY_FORMULAS)) {
  ELEMWISE_LEGALIZE[name] = (call, bb) =>
    emitTE(bb, call, shortName(name), (a, b) =>
      T.broadcastCompute([a, b], ([x, y]) => f(x, y), `T_${shortName(name)}`),
    );
}
ELEMWISE_LEGALIZE['relax.where'] = (call, bb) =>
  emitTE(bb, call, 'where', (cnd, a, b) =>
    T.broadcastCompute([cnd, a, b], ([k, x, y]) => P.select(k, x, y), 'T_where'),
  );
ELEMWISE_LEGALIZE['relax.astype'] = (call, bb, ctx) => {
  const a = ctx.attrs as { dtype: string; saturate?: boolean; round_mode?: 'up' | 'down' | 'nearest' };
  const dt = parseDType(a.dtype);
  const saturate = a.saturate ?? true;
  const roundMode = a.round_mode ?? 'up';
  return emitTE(bb, call, 'astype', (x) =>
    mapTensor(
      x,
      (v) =>
        dt === DType.float8_e8m0fnu && (roundMode !== 'up' || !saturate)
          ? castE8M0(v, roundMode, saturate)
          : P.isFloat8(dt) && !saturate
            ? castFloat8NoSaturate(v, dt)
            : castValue(v, dt),
      'T_cast',
    ),
  );
};

/**
 * Non-saturating cast to a float8 format: values that round beyond the largest finite value
 * (and ±Inf) become Inf (e5m2) or NaN; the rest is the plain (saturating) Cast.
 */
function castFloat8NoSaturate(v: PrimExpr, dt: DataType): PrimExpr {
  const f = P.minifloatFormat(dt);
  const src = isF(v.dtype) ? v : P.cast(P.isLowPrecisionFloat(v.dtype) ? DType.float32 : DType.float64, v);
  // The first magnitude that rounds past max: the midpoint to the next binade step, which
  // rounds up (overflows) when max's mantissa is odd (ties to even).
  const ulp = 2 ** (Math.floor(Math.log2(f.max)) - f.mantBits);
  const threshold = c(f.max + ulp / 2, src.dtype);
  const over = f.maxCode % 2 === 1 ? P.ge(T.fabs(src), threshold) : P.gt(T.fabs(src), threshold);
  const code = (neg: boolean): PrimExpr => {
    const sign = neg && f.kind !== 'fnuz' ? f.signBit : 0;
    return c(sign | (f.kind === 'ieee' ? f.infCode : f.nanCode), DType.uint8);
  };
  const special = T.reinterpret(dt, P.select(P.lt(src, c(0, src.dtype)), code(true), code(false)));
  return P.select(over, special, P.cast(dt, v));
}

/**
 * Cast to float8_e8m0fnu with ONNX's round_mode / saturate (to_float8e8m0): keep the float32
 * exponent, plus one when rounding up; the plain Cast rounds up and saturates.
 */
function castE8M0(v: PrimExpr, mode: 'up' | 'down' | 'nearest', saturate: boolean): PrimExpr {
  const x = v.dtype === DType.float32 ? v : P.cast(DType.float32, v);
  const u = T.reinterpret(DType.uint32, x);
  const u32 = (n: number) => c(n, DType.uint32);
  const ex = T.bitwiseAnd(T.shiftRight(u, u32(23)), u32(0xff));
  const nonzero = (mask: number) => P.ne(T.bitwiseAnd(u, u32(mask)), u32(0));
  const up =
    mode === 'up'
      ? nonzero(0x7fffff)
      : mode === 'down'
        ? P.boolImm(false)
        : P.and(nonzero(0x400000), P.or(nonzero(0x3fffff), P.gt(ex, u32(0))));
  // The exponent alone, with a nonzero fraction bit exactly when rounding up.
  const y = T.reinterpret(
    DType.float32,
    T.bitwiseOr(T.bitwiseAnd(u, u32(0x7f800000)), P.select(up, u32(1), u32(0))),
  );
  const out = P.cast(DType.float8_e8m0fnu, y);
  if (saturate) return out;
  const nan = T.reinterpret(DType.float8_e8m0fnu, c(0xff, DType.uint8));
  return P.select(P.and(P.eq(ex, u32(0xfe)), up), nan, out);
}
ELEMWISE_LEGALIZE['relax.reinterpret'] = (call, bb, ctx) => {
  const dt = parseDType((ctx.attrs as { dtype: string }).dtype);
  return emitTE(bb, call, 'reinterpret', (x) =>
    mapTensor(x, (v) => reinterpretValue(v, dt), 'T_reinterpret'),
  );
};

/** Bitwise reinterpretation; bool goes through its 0/1 byte, same-width integers are a wrapping cast. */
function reinterpretValue(v: PrimExpr, dt: DataType): PrimExpr {
  if (v.dtype === dt) return v;
  if (v.dtype.code === 'bool') return reinterpretValue(P.select(v, c(1, DType.uint8), c(0, DType.uint8)), dt);
  if (dt.code === 'bool') return P.ne(reinterpretValue(v, DType.uint8), c(0, DType.uint8));
  const plainInt = (t: DataType) => (t.code === 'int' || t.code === 'uint') && t.bits >= 8;
  if (plainInt(v.dtype) && plainInt(dt)) return P.cast(dt, v);
  return T.reinterpret(dt, v);
}
ELEMWISE_LEGALIZE['relax.clip'] = (call, bb, ctx) => {
  const { min, max } = ctx.attrs as { min: number | null; max: number | null };
  return emitTE(bb, call, 'clip', (x) =>
    mapTensor(
      x,
      (v) => {
        let r = v;
        if (max !== null) r = P.min(r, clampConst(max, v.dtype));
        if (min !== null) r = P.max(r, clampConst(min, v.dtype));
        return r;
      },
      'T_clip',
    ),
  );
};
ELEMWISE_LEGALIZE['relax.nn.leaky_relu'] = (call, bb, ctx) => {
  const { alpha } = ctx.attrs as { alpha: number };
  return emitTE(bb, call, 'leaky_relu', (x) =>
    mapTensor(x, (v) => P.select(P.gt(v, c(0, v.dtype)), v, P.mul(v, c(alpha, v.dtype))), 'T_leaky_relu'),
  );
};
ELEMWISE_LEGALIZE['relax.nn.dropout'] = (call, bb) =>
  emitTE(bb, call, 'dropout', (x) => mapTensor(x, (v) => v, 'T_identity'));

/** Cast with the semantics of astype: float→int truncates, anything→bool is `!= 0`. */
export function castValue(v: PrimExpr, dt: DataType): PrimExpr {
  if (v.dtype === dt) return v;
  if (dt.code === 'bool') return P.ne(v, c(0, v.dtype));
  if (v.dtype.code === 'bool') return P.select(v, c(1, dt), c(0, dt));
  return P.cast(dt, v);
}
function clampConst(v: number, t: DataType): PrimExpr {
  if (isF(t)) return c(v, t);
  const [lo, hi] = P.intRange(t);
  return c(Math.max(lo, Math.min(hi, v < 0 ? Math.ceil(v) : Math.floor(v))), t);
}
