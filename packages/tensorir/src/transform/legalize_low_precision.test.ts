// tir.LegalizeLowPrecision: casts to and from the low-precision types, run in the reference
// interpreter after legalization, against the host codec of ir-core (itself checked against
// the format definitions and ml_dtypes values in ir-core's minifloat tests).
import type { DataType, PrimExpr } from '@kiln/ir-core';
import {
  add,
  cast,
  collect,
  DType,
  dtype,
  floatImm,
  gt,
  isLowPrecision,
  minifloatToNumber,
  numberToMinifloat,
  select,
  wrapSubByteInt,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { interpret } from '../interpreter/index.js';
import { reinterpret } from '../intrinsics.js';
import { ndarray } from '../ndarray.js';
import type { PrimFunc } from '../stmt.js';
import { createPrimFunc } from '../te/create_prim_func.js';
import { compute, placeholder } from '../te/tensor.js';
import { parsePrimFunc, printPrimFunc } from '../text/index.js';
import { wellFormed } from '../well_formed.js';
import { lowerPrimFunc } from './index.js';
import { legalizeLowPrecision } from './legalize_low_precision.js';
import { expectIREqual } from './test_util.js';

const FLOAT_FORMATS = [
  DType.float8_e4m3fn,
  DType.float8_e4m3fnuz,
  DType.float8_e5m2,
  DType.float8_e5m2fnuz,
  DType.float8_e8m0fnu,
  DType.float4_e2m1fn,
];
const SUB_BYTE = [DType.int4, DType.uint4, DType.int2, DType.uint2];

/** out[i] = f(in[i]) as a lowered PrimFunc. */
function unary(from: DataType, _to: DataType, f: (x: PrimExpr) => PrimExpr, n: number): PrimFunc {
  const A = placeholder([n], from, 'A');
  const B = compute([n], (i) => f(A.at(i)), 'B');
  return lowerPrimFunc(createPrimFunc([A, B], { name: 'f' }));
}

function noLowPrecision(fn: PrimFunc): boolean {
  const low = collect(
    fn,
    (x) => 'dtype' in x && typeof x.dtype === 'object' && isLowPrecision(x.dtype as DataType),
  );
  return low.length === 0;
}

function store(t: DataType): DataType {
  return t.code === 'int' ? DType.int8 : DType.uint8;
}

/** Run `fn` on `input` (storage values) and return the output storage values. */
function run(fn: PrimFunc, inT: DataType, outT: DataType, input: readonly number[]): number[] {
  const a = ndarray(isLowPrecision(inT) ? store(inT) : inT, [input.length], input);
  const b = ndarray(isLowPrecision(outT) ? store(outT) : outT, [input.length]);
  interpret(fn, [a, b]);
  return Array.from(b.data as ArrayLike<number>);
}

/** Values around every representable value: the values, midpoints, quarter points, specials. */
function probeValues(t: DataType): number[] {
  const vals: number[] = [];
  for (let c = 0; c < 2 ** t.bits; c++) {
    const v = minifloatToNumber(t, c);
    if (Number.isFinite(v)) vals.push(v);
  }
  vals.sort((a, b) => a - b);
  const out = [...vals, Infinity, -Infinity, Number.NaN, 1e6, -1e6, 1e-7, -1e-7, 3e38, -0];
  for (let i = 0; i + 1 < vals.length; i++) {
    const [lo, hi] = [vals[i], vals[i + 1]];
    out.push((lo + hi) / 2, lo + (hi - lo) / 4, lo + ((hi - lo) * 3) / 4);
  }
  const max = vals[vals.length - 1];
  out.push(max * 1.03, max * 1.0625, max * 1.07, max * 2, -max * 1.0625);
  return out;
}

describe('tir.LegalizeLowPrecision', () => {
  it('decodes all codes of every float format exactly (float32 and float16 results)', () => {
    for (const t of FLOAT_FORMATS) {
      const codes = Array.from({ length: 2 ** t.bits }, (_, c) => c);
      for (const to of [DType.float32, DType.float16]) {
        const fn = unary(t, to, (x) => cast(to, x), codes.length);
        expect(noLowPrecision(fn)).toBe(true);
        const got = run(fn, t, to, codes);
        const want = codes.map((c) => ndarray(to, [1], [minifloatToNumber(t, c)]).data[0] as number);
        for (let c = 0; c < codes.length; c++) expect(got[c], `${t.str} code ${c} → ${to.str}`).toBe(want[c]);
      }
    }
  });

  it('encodes float32, float16 and float64 like the host codec (round to even, saturating)', () => {
    for (const t of FLOAT_FORMATS) {
      const probe = probeValues(t);
      for (const from of [DType.float32, DType.float16, DType.float64]) {
        const fn = unary(from, t, (x) => cast(t, x), probe.length);
        expect(noLowPrecision(fn)).toBe(true);
        const inputs = Array.from(ndarray(from, [probe.length], probe).data as ArrayLike<number>);
        // e8m0 is defined on the float32 value (ONNX's to_float8e8m0).
        const want = inputs.map((v) =>
          numberToMinifloat(t, t.code === 'float8_e8m0fnu' ? Math.fround(v) : v),
        );
        const got = run(fn, from, t, inputs);
        for (let i = 0; i < inputs.length; i++)
          expect(got[i], `${from.str} ${inputs[i]} → ${t.str}`).toBe(want[i]);
      }
    }
  });

  it('rounds float64 exactly where float32 would double-round', () => {
    const t = DType.float8_e4m3fn;
    // Just above the midpoint of 1 and 1.125: float32 rounds it to the midpoint itself.
    const xs = [1.0625 + 2 ** -40, 1.0625 - 2 ** -40, 1.1875 + 2 ** -40, -(1.0625 + 2 ** -40)];
    const fn = unary(DType.float64, t, (x) => cast(t, x), xs.length);
    expect(run(fn, DType.float64, t, xs)).toEqual(xs.map((v) => numberToMinifloat(t, v)));
    expect(run(fn, DType.float64, t, xs)).toEqual([0x39, 0x38, 0x3a, 0xb9]);
  });

  it('casts between float formats through the exact value', () => {
    for (const from of FLOAT_FORMATS)
      for (const to of [DType.float8_e5m2, DType.float8_e4m3fn, DType.float4_e2m1fn]) {
        if (from === to) continue;
        const codes = Array.from({ length: 2 ** from.bits }, (_, c) => c);
        const fn = unary(from, to, (x) => cast(to, x), codes.length);
        const want = codes.map((c) => numberToMinifloat(to, minifloatToNumber(from, c)));
        const got = run(fn, from, to, codes);
        for (const c of codes) {
          // NaN keeps its sign where the target has a signed NaN; compare NaN-ness only.
          if (Number.isNaN(minifloatToNumber(from, c))) {
            if (to === DType.float4_e2m1fn) expect(got[c]).toBe(0);
            else expect(minifloatToNumber(to, got[c])).toBeNaN();
          } else expect(got[c], `${from.str} ${c} → ${to.str}`).toBe(want[c]);
        }
      }
  });

  it('casts sub-byte integers like C (truncate, wrap) in both directions', () => {
    const xs = Array.from({ length: 25 }, (_, i) => i - 9).concat([2.7, -2.7, 100.5, Number.NaN, Infinity]);
    for (const t of SUB_BYTE) {
      const enc = unary(DType.float32, t, (x) => cast(t, x), xs.length);
      expect(noLowPrecision(enc)).toBe(true);
      const want = xs.map((v) => wrapSubByteInt(t, v));
      expect(run(enc, DType.float32, t, xs), `float32 → ${t.str}`).toEqual(want);
      const ints = xs.slice(0, 25);
      const fromInt = unary(DType.int32, t, (x) => cast(t, x), ints.length);
      expect(run(fromInt, DType.int32, t, ints)).toEqual(ints.map((v) => wrapSubByteInt(t, v)));
      const dec = unary(t, DType.float32, (x) => cast(DType.float32, x), want.length);
      expect(run(dec, t, DType.float32, want)).toEqual(want);
      const toF8 = unary(t, DType.float8_e4m3fn, (x) => cast(DType.float8_e4m3fn, x), want.length);
      expect(run(toF8, t, DType.float8_e4m3fn, want)).toEqual(
        want.map((v) => numberToMinifloat(DType.float8_e4m3fn, v)),
      );
    }
  });

  it('moves storage unchanged (NaN payloads and signs included)', () => {
    const t = DType.float8_e4m3fn;
    const codes = Array.from({ length: 256 }, (_, c) => c);
    const fn = unary(t, t, (x) => x, 256);
    expect(run(fn, t, t, codes)).toEqual(codes);
  });

  it('reinterprets bits between low-precision and storage types', () => {
    const codes = Array.from({ length: 16 }, (_, c) => c);
    const asInt4 = unary(DType.float4_e2m1fn, DType.int4, (x) => reinterpret(DType.int4, x), 16);
    expect(run(asInt4, DType.float4_e2m1fn, DType.int4, codes)).toEqual(
      codes.map((c) => (c >= 8 ? c - 16 : c)),
    );
    const signed = codes.map((c) => (c >= 8 ? c - 16 : c));
    const asUint4 = unary(DType.int4, DType.uint4, (x) => reinterpret(DType.uint4, x), 16);
    expect(run(asUint4, DType.int4, DType.uint4, signed)).toEqual(codes);
    const bytes = Array.from({ length: 256 }, (_, c) => c);
    const asU8 = unary(DType.float8_e5m2, DType.uint8, (x) => reinterpret(DType.uint8, x), 256);
    expect(run(asU8, DType.float8_e5m2, DType.uint8, bytes)).toEqual(bytes);
    const fromI8 = unary(DType.int8, DType.float8_e4m3fn, (x) => reinterpret(DType.float8_e4m3fn, x), 256);
    expect(
      run(
        fromI8,
        DType.int8,
        DType.float8_e4m3fn,
        bytes.map((b) => (b >= 128 ? b - 256 : b)),
      ),
    ).toEqual(bytes);
  });

  it('computes arithmetic in float32 and rounds the result back', () => {
    const t = DType.float8_e5m2;
    const A = placeholder([64], t, 'A');
    const B = placeholder([64], t, 'B');
    const C = compute([64], (i) => add(A.at(i), B.at(i)), 'C');
    const fn = lowerPrimFunc(createPrimFunc([A, B, C], { name: 'add' }));
    expect(noLowPrecision(fn)).toBe(true);
    const a = Array.from({ length: 64 }, (_, i) => (i * 37) % 120);
    const b = Array.from({ length: 64 }, (_, i) => (i * 11 + 5) % 120);
    const out = ndarray('uint8', [64]);
    interpret(fn, [ndarray('uint8', [64], a), ndarray('uint8', [64], b), out]);
    const want = a.map((x, i) =>
      numberToMinifloat(t, Math.fround(minifloatToNumber(t, x) + minifloatToNumber(t, b[i]))),
    );
    expect(Array.from(out.data as ArrayLike<number>)).toEqual(want);
  });

  it('leaves functions without low-precision types alone', () => {
    const A = placeholder([8], 'float32', 'A');
    const B = compute([8], (i) => cast('float16', A.at(i)), 'B');
    const fn = lowerPrimFunc(createPrimFunc([A, B]));
    expect(legalizeLowPrecision(fn)).toBe(fn);
    expect(dtype('float8_e4m3fn').bits).toBe(8);
  });

  it('Before/Expected: buffers become storage, immediates codes, sub-byte casts wrap', () => {
    const before = parsePrimFunc(`
prim_func(A: float8_e4m3fn[4], B: float8_e4m3fn[4], C: int8[4], D: int4[4]) {
  for i in 0 +: 4 {
    B[i] = select(C[i] > 0i8, A[i], imm(float8_e4m3fn, 0.5))
    D[i] = cast(int4, C[i])
  }
}`);
    const expected = parsePrimFunc(`
prim_func(A: uint8[4], B: uint8[4], C: int8[4], D: int8[4]) {
  for i in 0 +: 4 {
    B[i] = select(C[i] > 0i8, A[i], 48u8)
    D[i] = cast(int8, tir.shift_right(tir.shift_left(cast(int32, C[i]), 28i32), 28i32))
  }
}`);
    const out = legalizeLowPrecision(before);
    expect(printPrimFunc(out)).toBe(printPrimFunc(expected));
    expectIREqual(out, expected);
    expect(wellFormed(out)).toEqual([]);
  });

  it('prints and parses TIR with low-precision dtypes, before and after legalization', () => {
    const A = placeholder([4], 'float8_e4m3fn', 'A');
    const B = compute(
      [4],
      (i) => select(gt(cast('float32', A.at(i)), 1), A.at(i), floatImm(0.5, 'float8_e4m3fn')),
      'B',
    );
    const C = compute([4], (i) => cast('int4', A.at(i)), 'C');
    const fn = createPrimFunc([A, B, C]);
    for (const f of [fn, lowerPrimFunc(fn)]) {
      const text = printPrimFunc(f);
      expectIREqual(parsePrimFunc(text), f);
      expect(wellFormed(f)).toEqual([]);
    }
  });

  it('refuses interpreter arrays of a low-precision dtype', () => {
    expect(() => ndarray('float8_e4m3fn', [2])).toThrow(/LegalizeLowPrecision/);
  });
});
