// tir.LegalizeLowPrecision
// Does:        rewrites every value of a low-precision element type (float8_e4m3fn/e4m3fnuz/
//              e5m2/e5m2fnuz/e8m0fnu, float4_e2m1fn, int2/int4/uint2/uint4) into its storage
//              integer (`storageDType`: uint8, int8 for int2/int4; one element per byte).
//              Buffers change dtype; loads and stores move bit codes; a Cast to or from such a
//              type becomes integer bit arithmetic on the storage type (with `reinterpret` to
//              and from float32); any other arithmetic on them is done in float32 (int32 for the
//              sub-byte integers) and cast back. It is TVM's FP8ComputeLegalize +
//              FP8StorageLegalize in one pass.
// Requires:    block-free TIR (it runs after ConvertBlocksToLoops in lowerPrimFunc).
// Establishes: no expression, buffer or variable of a low-precision dtype remains, so code
//              generators and the interpreter only see ordinary integer and float types.
//
// What `Cast(T, x)` means for a low-precision T (the ONNX Cast defaults, as ml_dtypes does it):
//  - float8/float4 from a float: round to nearest even; values beyond the largest finite value
//    and infinities saturate to ±max; NaN becomes the format's NaN (float4 has none: +0);
//    fnuz formats have no -0 (a negative result that rounds to zero is +0). float64 inputs are
//    first rounded to float32 with round-to-odd, which keeps the final rounding exact.
//  - float8_e8m0fnu: the float32 exponent, rounded up when the value is not a power of two
//    (saturating at 2^127); NaN/Inf give 0xFF; the sign is ignored.
//  - int2/int4/uint2/uint4: like a C cast: floats truncate toward zero (NaN/Inf give 0), then
//    the value wraps to the width (two's complement).
//  - from a low-precision type: the exact value (float32 for the float formats), then a
//    normal cast to the target.
// Non-saturating float8 casts and the other e8m0 rounding modes are built from this Cast plus
// `select` and `reinterpret` by the Relax legalization of `astype`.
import type { Buffer, DataType, MinifloatFormat, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  and,
  BINARY_KINDS,
  binary,
  broadcast,
  bufferLoad,
  call,
  cast,
  DType,
  ErrorCodes,
  eq,
  gt,
  intImm,
  isFloat,
  isLowPrecision,
  isSubByteInt,
  KilnError,
  letExpr,
  lt,
  buffer as makeBuffer,
  mapChildren,
  minifloatFormat,
  mul,
  ne,
  numberToMinifloat,
  primVar,
  select,
  storageDType,
  sub,
  toExpr,
  withLanes,
  wrapSubByteInt,
} from '@kiln/ir-core';
import {
  bitwiseAnd,
  bitwiseOr,
  canonicalIntrinsicName,
  fabs,
  isfinite,
  nearbyint,
  reinterpret,
  shiftLeft,
  shiftRight,
} from '../intrinsics.js';
import type { PrimFunc, PrimFuncParam, Stmt } from '../stmt.js';
import { allocate, bufferStore, declBuffer, isStmt, letStmt, primFunc } from '../stmt.js';
import { mapStmtChildren, mapStmtExprs } from './util.js';

const lanesOf = (e: PrimExpr): number => e.dtype.lanes;
const k = (v: number, t: DataType, lanes: number): PrimExpr => toExpr(v, withLanes(t, lanes));

// ------------------------------------------------------------------ bit codecs as TIR

/** float32 value of a float8/float4 code held in a uint8 expression (exact). */
export function decodeMinifloatExpr(f: MinifloatFormat, code: PrimExpr): PrimExpr {
  const n = lanesOf(code);
  const U = withLanes(DType.uint32, n);
  const F = withLanes(DType.float32, n);
  const u = (v: number) => k(v, DType.uint32, n);
  const c = cast(U, code);
  if (f.kind === 'e8m0') {
    // 2^(c-127): the float32 exponent field is c itself; c = 0 is the subnormal 2^-127.
    const bits = select(eq(c, u(0xff)), u(0x7fc00000), select(eq(c, u(0)), u(0x400000), shiftLeft(c, u(23))));
    return reinterpret(F, bits);
  }
  const width = f.expBits + f.mantBits;
  const sign = shiftLeft(bitwiseAnd(c, u(f.signBit)), u(31 - width));
  const mag = bitwiseAnd(c, u(f.signBit - 1));
  const ex = shiftRight(mag, u(f.mantBits));
  const mant = bitwiseAnd(mag, u((1 << f.mantBits) - 1));
  const normal = bitwiseOr(shiftLeft(add(ex, u(127 - f.bias)), u(23)), shiftLeft(mant, u(23 - f.mantBits)));
  // Subnormal: mant · 2^(1 - bias - M), exact in float32.
  const subnormal = reinterpret(U, mul(cast(F, mant), k(2 ** (1 - f.bias - f.mantBits), DType.float32, n)));
  let magBits = select(eq(ex, u(0)), subnormal, normal);
  if (f.kind === 'ieee') {
    const special = bitwiseOr(u(0x7f800000), shiftLeft(mant, u(23 - f.mantBits)));
    magBits = select(eq(ex, u((1 << f.expBits) - 1)), special, magBits);
  }
  let out = bitwiseOr(sign, magBits);
  if (f.kind === 'fn') out = select(eq(mag, u(f.signBit - 1)), bitwiseOr(sign, u(0x7fc00000)), out);
  if (f.kind === 'fnuz') out = select(eq(c, u(f.signBit)), u(0x7fc00000), out);
  return reinterpret(F, out);
}

/** uint8 code of a float32 expression: round to nearest even, saturating (e8m0: round up). */
export function encodeMinifloatExpr(f: MinifloatFormat, x: PrimExpr): PrimExpr {
  const n = lanesOf(x);
  const I = withLanes(DType.int32, n);
  const F = withLanes(DType.float32, n);
  const i = (v: number) => k(v, DType.int32, n);
  const U8 = withLanes(DType.uint8, n);
  const u = reinterpret(I, x);
  if (f.kind === 'e8m0') {
    const ex = bitwiseAnd(shiftRight(u, i(23)), i(0xff));
    const up = and(ne(bitwiseAnd(u, i(0x7fffff)), i(0)), ne(ex, i(0xfe)));
    return cast(U8, select(eq(ex, i(0xff)), i(0xff), add(ex, select(up, i(1), i(0)))));
  }
  const M = f.mantBits;
  const width = f.expBits + M;
  const sign = shiftLeft(bitwiseAnd(shiftRight(u, i(31)), i(1)), i(width));
  const a = bitwiseAnd(u, i(0x7fffffff));
  const shift = 23 - M;
  // Normal range: round the magnitude bits to M mantissa bits (ties to even; a carry moves
  // into the exponent), then rebias the exponent.
  const rounded = shiftRight(
    add(add(a, i((1 << (shift - 1)) - 1)), bitwiseAnd(shiftRight(a, i(shift)), i(1))),
    i(shift),
  );
  const normalMag = sub(rounded, i((127 - f.bias) << M));
  // Below the smallest normal: a count of subnormal quanta, rounded to even (exact scaling).
  const subMag = cast(I, nearbyint(mul(reinterpret(F, a), k(2 ** (f.bias + M - 1), DType.float32, n))));
  let mag = select(lt(a, i((128 - f.bias) << 23)), subMag, normalMag);
  mag = select(gt(mag, i(f.maxCode)), i(f.maxCode), mag);
  let out = bitwiseOr(sign, mag);
  if (f.kind === 'fnuz') out = select(eq(mag, i(0)), i(0), out);
  const nan = f.kind === 'fnuz' || f.kind === 'finite' ? i(f.nanCode) : bitwiseOr(sign, i(f.nanCode));
  out = select(gt(a, i(0x7f800000)), nan, out);
  return cast(U8, out);
}

/**
 * `x` (any float or integer type) as a float32 from which one more rounding to a minifloat is
 * exact: float64 goes through round-to-odd, wide integers through float64.
 */
function toFloat32ForRounding(x: PrimExpr): PrimExpr {
  const n = lanesOf(x);
  const F = withLanes(DType.float32, n);
  const t = x.dtype;
  if (t.code === 'float' && t.bits === 32) return x;
  if ((isFloat(t) && t.bits <= 16) || t.code === 'bool' || (t.bits <= 16 && t.code !== 'float'))
    return cast(F, x);
  const d = t.code === 'float' && t.bits === 64 ? x : cast(withLanes(DType.float64, n), x);
  const I = withLanes(DType.int32, n);
  const i = (v: number) => k(v, DType.int32, n);
  const y = cast(F, d);
  const yb = reinterpret(I, y);
  const mag = bitwiseAnd(yb, i(0x7fffffff));
  const back = cast(d.dtype, y);
  // Round to odd: truncate toward zero, then set the last bit when inexact.
  const towardZero = select(gt(fabs(back), fabs(d)), sub(mag, i(1)), mag);
  const odd = select(ne(back, d), bitwiseOr(towardZero, i(1)), towardZero);
  return reinterpret(F, bitwiseOr(bitwiseAnd(yb, i(-0x80000000)), odd));
}

/** Storage code of sub-byte integer type `t` for a value `x` of an ordinary type (C-cast semantics). */
function encodeSubByteInt(t: DataType, x: PrimExpr): PrimExpr {
  const n = lanesOf(x);
  const I = withLanes(DType.int32, n);
  const i = (v: number) => k(v, DType.int32, n);
  let v: PrimExpr;
  if (isFloat(x.dtype)) {
    const finite = select(isfinite(x), x, k(0, x.dtype, n));
    v = cast(I, cast(withLanes(DType.int64, n), finite));
  } else v = cast(I, x);
  const wrapped =
    t.code === 'int'
      ? shiftRight(shiftLeft(v, i(32 - t.bits)), i(32 - t.bits))
      : bitwiseAnd(v, i(2 ** t.bits - 1));
  return cast(storageDType(withLanes(t, n)), wrapped);
}

/**
 * The canonical storage of a sub-byte type from a byte holding its bits in the low end:
 * sign-extended for int2/int4, masked for uint2/uint4 and float4 (after a reinterpret).
 */
function narrowStorage(t: DataType, byte: PrimExpr): PrimExpr {
  const n = lanesOf(byte);
  const i = (v: number) => k(v, DType.int32, n);
  const v = cast(withLanes(DType.int32, n), byte);
  const fixed =
    t.code === 'int'
      ? shiftRight(shiftLeft(v, i(32 - t.bits)), i(32 - t.bits))
      : bitwiseAnd(v, i(2 ** t.bits - 1));
  return cast(storageDType(withLanes(t, n)), fixed);
}

// ------------------------------------------------------------------ the rewrite

class Legalizer {
  private readonly bufs = new Map<Buffer, Buffer>();
  private readonly vars = new Map<Var, Var>();

  buffer(b: Buffer): Buffer {
    if (!isLowPrecision(b.dtype)) return b;
    let nb = this.bufs.get(b);
    if (!nb) {
      nb = makeBuffer(b.name, storageDType(b.dtype), b.shape, {
        data: b.data,
        strides: b.strides,
        elemOffset: b.elemOffset,
        scope: b.scope,
        align: b.align,
        span: b.span,
      });
      this.bufs.set(b, nb);
    }
    return nb;
  }

  variable(v: Var): Var {
    if (!isLowPrecision(v.dtype)) return v;
    let nv = this.vars.get(v);
    if (!nv) {
      nv = primVar(v.name, storageDType(v.dtype), v.span);
      this.vars.set(v, nv);
    }
    return nv;
  }

  stmt(s: Stmt): Stmt {
    switch (s.kind) {
      case 'BufferStore': {
        const nb = this.buffer(s.buffer);
        const value = isLowPrecision(s.value.dtype) ? this.bits(s.value) : this.val(s.value);
        const idx = s.indices.map((e) => this.val(e));
        if (nb === s.buffer && value === s.value && idx.every((e, j) => e === s.indices[j])) return s;
        return bufferStore(nb, value, idx, s.span);
      }
      case 'LetStmt': {
        if (!isLowPrecision(s.var.dtype)) break;
        return letStmt(this.variable(s.var), this.bits(s.value), this.stmt(s.body), s.span);
      }
      case 'Allocate':
      case 'DeclBuffer': {
        const nb = this.buffer(s.buffer);
        const body = this.stmt(s.body);
        if (nb === s.buffer && body === s.body) return s;
        return s.kind === 'Allocate' ? allocate(nb, body, s.span) : declBuffer(nb, body, s.span);
      }
      case 'Block':
      case 'BlockRealize':
        throw new KilnError(
          ErrorCodes.WELL_FORMED,
          'tir.LegalizeLowPrecision needs block-free TIR (run tir.ConvertBlocksToLoops first)',
        );
      default:
        break;
    }
    const withKids = mapStmtChildren(s, (c) => this.stmt(c));
    return mapStmtExprs(withKids, (e) => this.val(e));
  }

  /** Float32 (float formats) or storage-integer (sub-byte ints) value of a low-precision expression. */
  private decode(e: PrimExpr): PrimExpr {
    const b = this.bits(e);
    if (isSubByteInt(e.dtype)) return cast(withLanes(DType.int32, lanesOf(e)), b);
    return decodeMinifloatExpr(minifloatFormat(e.dtype), b);
  }

  /** Storage code of `x` (an expression of any non-low-precision dtype, already legalized) as `t`. */
  private encode(t: DataType, x: PrimExpr): PrimExpr {
    if (isSubByteInt(t)) return encodeSubByteInt(t, x);
    const f = minifloatFormat(t);
    // e8m0 is defined on the float32 value (ONNX rounds to float32 first).
    if (f.kind === 'e8m0')
      return encodeMinifloatExpr(
        f,
        x.dtype === DType.float32 ? x : cast(withLanes(DType.float32, lanesOf(x)), x),
      );
    return encodeMinifloatExpr(f, toFloat32ForRounding(x));
  }

  /** The storage expression (bit code) of an expression of low-precision dtype. */
  bits(e: PrimExpr): PrimExpr {
    const t = e.dtype;
    const st = storageDType(t);
    switch (e.kind) {
      case 'BufferLoad':
        return bufferLoad(
          this.buffer(e.buffer),
          e.indices.map((x) => this.val(x)),
          e.span,
        );
      case 'IntImm':
      case 'FloatImm': {
        const code = isSubByteInt(t) ? wrapSubByteInt(t, e.value) : numberToMinifloat(t, e.value);
        return intImm(code, st);
      }
      case 'Var':
        return this.variable(e);
      case 'Broadcast':
        return broadcast(this.bits(e.value), e.lanes, e.span);
      case 'Select':
        return select(this.val(e.cond), this.bits(e.t), this.bits(e.f), e.span);
      case 'Let': {
        const v = this.variable(e.var);
        const value = isLowPrecision(e.var.dtype) ? this.bits(e.value) : this.val(e.value);
        return letExpr(v, value, this.bits(e.body), e.span);
      }
      case 'Cast': {
        const x = e.value;
        if (x.dtype === t) return this.bits(x);
        if (isLowPrecision(x.dtype)) return this.encode(t, this.decode(x));
        return this.encode(t, this.val(x));
      }
      case 'Call': {
        const op = canonicalIntrinsicName(e.op);
        if (op === 'tir.reinterpret') {
          const x = e.args[0];
          const src = isLowPrecision(x.dtype) ? this.bits(x) : this.val(x);
          if (src.dtype.bits * src.dtype.lanes !== st.bits * st.lanes)
            throw new KilnError(
              ErrorCodes.DTYPE_MISMATCH,
              `cannot reinterpret ${x.dtype.str} as ${t.str}: storage widths differ`,
            );
          const same = src.dtype === st ? src : reinterpret(st, src);
          return t.bits < 8 ? narrowStorage(t, same) : same;
        }
        if (op === 'tir.if_then_else')
          return call(st, e.op, [this.val(e.args[0]), this.bits(e.args[1]), this.bits(e.args[2])], e.span);
        return this.encode(t, this.compute(e));
      }
      default:
        if (BINARY_KINDS.has(e.kind)) return this.encode(t, this.compute(e));
        throw new KilnError(
          ErrorCodes.UNSUPPORTED,
          `tir.LegalizeLowPrecision: cannot legalize a ${e.kind} of dtype ${t.str}`,
        );
    }
  }

  /** Arithmetic whose result is low-precision: recompute in float32 / int32 from decoded operands. */
  private compute(e: PrimExpr): PrimExpr {
    const arg = (x: PrimExpr) => (isLowPrecision(x.dtype) ? this.decode(x) : this.val(x));
    if (e.kind === 'Call') {
      const args = e.args.map(arg);
      return call(args[0]?.dtype ?? withLanes(DType.float32, lanesOf(e)), e.op, args, e.span);
    }
    const b = e as PrimExpr & { a: PrimExpr; b: PrimExpr };
    return binary(e.kind as Parameters<typeof binary>[0], arg(b.a), arg(b.b));
  }

  /** An expression of an ordinary dtype, with every low-precision operand legalized. */
  val(e: PrimExpr): PrimExpr {
    if (isLowPrecision(e.dtype))
      throw new KilnError(
        ErrorCodes.INTERNAL,
        `internal: low-precision ${e.dtype.str} value in a plain position`,
      );
    switch (e.kind) {
      case 'Cast': {
        const x = e.value;
        if (!isLowPrecision(x.dtype)) break;
        const d = this.decode(x);
        return d.dtype === e.dtype ? d : cast(e.dtype, d, e.span);
      }
      case 'Call': {
        if (!e.args.some((a) => isLowPrecision(a.dtype))) break;
        if (canonicalIntrinsicName(e.op) === 'tir.reinterpret') {
          const src = this.bits(e.args[0]);
          return src.dtype === e.dtype ? src : reinterpret(e.dtype, src);
        }
        // isnan / isinf / isfinite and friends on the decoded value.
        return call(
          e.dtype,
          e.op,
          e.args.map((a) => (isLowPrecision(a.dtype) ? this.decode(a) : this.val(a))),
          e.span,
        );
      }
      case 'Let':
        if (!isLowPrecision(e.var.dtype)) break;
        return letExpr(this.variable(e.var), this.bits(e.value), this.val(e.body), e.span);
      default:
        if (BINARY_KINDS.has(e.kind)) {
          const b = e as PrimExpr & { a: PrimExpr; b: PrimExpr };
          // Comparisons of low-precision operands compare the decoded values.
          if (isLowPrecision(b.a.dtype))
            return binary(e.kind as Parameters<typeof binary>[0], this.decode(b.a), this.decode(b.b));
        }
        break;
    }
    return mapChildren(e, (c) => {
      if (isStmt(c) || c.kind === 'Buffer') return c;
      return this.val(c as PrimExpr);
    });
  }
}

/** Rewrite a block-free PrimFunc so that no low-precision dtype remains (identity if none occurs). */
export function legalizeLowPrecision(fn: PrimFunc): PrimFunc {
  const L = new Legalizer();
  const body = L.stmt(fn.body);
  const params: PrimFuncParam[] = fn.params.map((p) => (p.kind === 'Buffer' ? L.buffer(p) : L.variable(p)));
  if (body === fn.body && params.every((p, j) => p === fn.params[j])) return fn;
  return primFunc(params, body, { attrs: fn.attrs, retType: fn.retType, span: fn.span });
}
