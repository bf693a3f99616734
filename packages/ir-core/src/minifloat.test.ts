import { describe, expect, it } from 'vitest';
import { bytesOf, DType, dtype, isFloat, isFloat8, isLowPrecision, storageDType } from './dtype.js';
import { MINIFLOAT_FORMATS, minifloatToNumber, numberToMinifloat, wrapSubByteInt } from './minifloat.js';

const FLOATS = [
  DType.float8_e4m3fn,
  DType.float8_e4m3fnuz,
  DType.float8_e5m2,
  DType.float8_e5m2fnuz,
  DType.float4_e2m1fn,
];

/** Independent decode: the value table of each format written out from its definition. */
function referenceValue(code: number, e: number, m: number, bias: number): number {
  const s = code >> (e + m) ? -1 : 1;
  const ex = (code >> m) & ((1 << e) - 1);
  const mt = code & ((1 << m) - 1);
  return ex === 0 ? s * mt * 2 ** (1 - bias - m) : s * (1 + mt / (1 << m)) * 2 ** (ex - bias);
}

describe('low-precision dtypes', () => {
  it('parse, print and describe', () => {
    for (const t of [...FLOATS, DType.float8_e8m0fnu]) {
      expect(dtype(t.str)).toBe(t);
      expect(isFloat(t)).toBe(false);
      expect(isLowPrecision(t)).toBe(true);
      expect(storageDType(t)).toBe(DType.uint8);
      expect(bytesOf(t)).toBe(1);
    }
    expect(DType.float4_e2m1fn.bits).toBe(4);
    expect(dtype('float8_e4m3fnx4').lanes).toBe(4);
    expect(dtype('float8_e4m3fnuzx2').code).toBe('float8_e4m3fnuz');
    expect(bytesOf(dtype('int4x8'))).toBe(8);
    expect(storageDType(DType.int4)).toBe(DType.int8);
    expect(storageDType(DType.uint2)).toBe(DType.uint8);
    expect(isFloat8(DType.float8_e8m0fnu)).toBe(true);
    expect(isFloat8(DType.float4_e2m1fn)).toBe(false);
    expect(() => dtype('float8_e4m3')).toThrow();
  });

  it('decodes every code like the format definition', () => {
    const specs: Record<string, [number, number, number]> = {
      float8_e4m3fn: [4, 3, 7],
      float8_e4m3fnuz: [4, 3, 8],
      float8_e5m2: [5, 2, 15],
      float8_e5m2fnuz: [5, 2, 16],
      float4_e2m1fn: [2, 1, 1],
    };
    for (const t of FLOATS) {
      const [e, m, bias] = specs[t.code];
      for (let c = 0; c < 2 ** t.bits; c++) {
        const v = minifloatToNumber(t, c);
        const special =
          (t.code === 'float8_e4m3fn' && (c & 0x7f) === 0x7f) ||
          (t.code.endsWith('fnuz') && c === 0x80) ||
          (t.code === 'float8_e5m2' && (c & 0x7c) === 0x7c);
        if (!special) expect(v, `${t.str} code ${c}`).toBe(referenceValue(c, e, m, bias));
        else if (t.code === 'float8_e5m2' && (c & 0x7f) === 0x7c) expect(Math.abs(v)).toBe(Infinity);
        else expect(v).toBeNaN();
      }
    }
    expect(MINIFLOAT_FORMATS.float8_e4m3fn.max).toBe(448);
    expect(MINIFLOAT_FORMATS.float8_e4m3fnuz.max).toBe(240);
    expect(MINIFLOAT_FORMATS.float8_e5m2.max).toBe(57344);
    expect(MINIFLOAT_FORMATS.float4_e2m1fn.max).toBe(6);
    expect(minifloatToNumber(DType.float8_e8m0fnu, 127)).toBe(1);
    expect(minifloatToNumber(DType.float8_e8m0fnu, 0)).toBe(2 ** -127);
    expect(minifloatToNumber(DType.float8_e8m0fnu, 255)).toBeNaN();
  });

  it('encodes every value back to its code and rounds midpoints to even', () => {
    for (const t of FLOATS) {
      const f = MINIFLOAT_FORMATS[t.code as keyof typeof MINIFLOAT_FORMATS];
      const finite: Array<[number, number]> = [];
      for (let c = 0; c < 2 ** t.bits; c++) {
        const v = minifloatToNumber(t, c);
        if (!Number.isFinite(v)) continue;
        const back = numberToMinifloat(t, v);
        if (Object.is(v, -0) && f.kind === 'fnuz') expect(back).toBe(0);
        else expect(back, `${t.str} code ${c}`).toBe(c);
        if (c < f.signBit) finite.push([v, c]);
      }
      finite.sort((a, b) => a[0] - b[0]);
      // Brute force: between two neighbours, the nearest wins; the midpoint goes to the even code.
      for (let i = 0; i + 1 < finite.length; i++) {
        const [lo, cl] = finite[i];
        const [hi, ch] = finite[i + 1];
        const mid = (lo + hi) / 2;
        expect(numberToMinifloat(t, mid)).toBe(cl % 2 === 0 ? cl : ch);
        expect(numberToMinifloat(t, lo + (hi - lo) * 0.25)).toBe(cl);
        expect(numberToMinifloat(t, lo + (hi - lo) * 0.75)).toBe(ch);
        const even = cl % 2 === 0 ? cl : ch;
        expect(numberToMinifloat(t, -mid)).toBe(even === 0 && f.kind === 'fnuz' ? 0 : even | f.signBit);
      }
    }
  });

  it('saturates or overflows per variant (values checked against ml_dtypes)', () => {
    const e4 = DType.float8_e4m3fn;
    expect(numberToMinifloat(e4, 464, { saturate: false })).toBe(0x7e);
    expect(numberToMinifloat(e4, 465, { saturate: false })).toBe(0x7f);
    expect(numberToMinifloat(e4, 1e6, { saturate: false })).toBe(0x7f);
    expect(numberToMinifloat(e4, -Infinity, { saturate: false })).toBe(0xff);
    expect(numberToMinifloat(e4, -Infinity)).toBe(0xfe);
    expect(numberToMinifloat(e4, 1e6)).toBe(0x7e);
    expect(numberToMinifloat(e4, Number.NaN)).toBe(0x7f);
    expect(numberToMinifloat(e4, -1e-10)).toBe(0x80);
    const uz = DType.float8_e4m3fnuz;
    expect(numberToMinifloat(uz, 464, { saturate: false })).toBe(0x80);
    expect(numberToMinifloat(uz, -1e-10)).toBe(0);
    expect(numberToMinifloat(uz, -0)).toBe(0);
    expect(numberToMinifloat(uz, Infinity)).toBe(0x7f);
    const e5 = DType.float8_e5m2;
    expect(numberToMinifloat(e5, 61440, { saturate: false })).toBe(0x7c);
    expect(numberToMinifloat(e5, 61440)).toBe(0x7b);
    expect(numberToMinifloat(e5, Number.NaN)).toBe(0x7e);
    expect(numberToMinifloat(e5, -Infinity, { saturate: false })).toBe(0xfc);
    expect(numberToMinifloat(DType.float8_e5m2fnuz, Infinity, { saturate: false })).toBe(0x80);
    const f4 = DType.float4_e2m1fn;
    expect([0, 1, -3, 7, 14, Infinity, -Infinity].map((v) => numberToMinifloat(f4, v))).toEqual([
      0, 2, 13, 7, 7, 7, 15,
    ]);
  });

  it('encodes e8m0 like onnx.numpy_helper.to_float8e8m0', () => {
    const t = DType.float8_e8m0fnu;
    const xs = [0, 0.124, 0.25, 0.5, 1.1, 2, 4, 8];
    expect(xs.map((v) => numberToMinifloat(t, v))).toEqual([0, 124, 125, 126, 128, 128, 129, 130]);
    expect(numberToMinifloat(t, 1.1, { roundMode: 'down' })).toBe(127);
    expect(numberToMinifloat(t, 1.75, { roundMode: 'nearest' })).toBe(128);
    expect(numberToMinifloat(t, 1.25, { roundMode: 'nearest' })).toBe(127);
    expect(numberToMinifloat(t, 3e38)).toBe(254);
    expect(numberToMinifloat(t, 3e38, { saturate: false })).toBe(255);
    expect(numberToMinifloat(t, Infinity)).toBe(255);
  });

  it('wraps sub-byte integers like ml_dtypes', () => {
    expect([-9, -8, 7, 8, 15, 100].map((v) => wrapSubByteInt(DType.int4, v))).toEqual([7, -8, 7, -8, -1, 4]);
    expect([-1, 16, 17].map((v) => wrapSubByteInt(DType.uint4, v))).toEqual([15, 0, 1]);
    expect([-3, 2, 3].map((v) => wrapSubByteInt(DType.int2, v))).toEqual([1, -2, -1]);
    expect([-1, 4, 5.7].map((v) => wrapSubByteInt(DType.uint2, v))).toEqual([3, 0, 1]);
  });
});
