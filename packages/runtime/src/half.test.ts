// float16/bfloat16 conversion tests (known encodings, exhaustive round trips).
import { describe, expect, it } from 'vitest';
import { bfloat16BitsToFloat, floatToBfloat16Bits, floatToHalfBits, halfBitsToFloat } from './half.js';
import { Tensor } from './tensor.js';

describe('float16', () => {
  it('encodes known values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up to infinity
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie → even (zero)
      [3 * 2 ** -25, 0x0002], // tie → even
      [2 ** -14, 0x0400],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [1 + 2 ** -11, 0x3c00], // tie → even
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [v, bits] of cases) expect(floatToHalfBits(v), String(v)).toBe(bits);
    expect(Number.isNaN(halfBitsToFloat(floatToHalfBits(Number.NaN)))).toBe(true);
  });

  it('every finite half survives a round trip', () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e === 31 && (h & 0x3ff) !== 0) continue; // NaN payloads
      expect(floatToHalfBits(halfBitsToFloat(h))).toBe(h);
    }
  });
});

describe('bfloat16', () => {
  it('rounds to nearest even and round-trips', () => {
    expect(floatToBfloat16Bits(1)).toBe(0x3f80);
    expect(floatToBfloat16Bits(-2.5)).toBe(0xc020);
    expect(bfloat16BitsToFloat(floatToBfloat16Bits(3.140625))).toBe(3.140625);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    for (let h = 0; h < 0x10000; h += 7) {
      if (((h >>> 7) & 0xff) === 0xff && (h & 0x7f) !== 0) continue;
      expect(floatToBfloat16Bits(bfloat16BitsToFloat(h))).toBe(h);
    }
  });
});

describe('half tensors', () => {
  it('Tensor.from and toArray convert values; toTypedArray views raw bits', () => {
    const t = Tensor.from([1, -0.5, 65504, 0.1], [4], 'float16');
    expect(Array.from(t.toTypedArray() as Uint16Array)).toEqual([0x3c00, 0xb800, 0x7bff, 0x2e66]);
    expect(t.toArray()).toEqual([1, -0.5, 65504, halfBitsToFloat(0x2e66)]);
    const b = Tensor.from([1, -2.5], [2], 'bfloat16');
    expect(Array.from(b.toTypedArray() as Uint16Array)).toEqual([0x3f80, 0xc020]);
    expect(b.toArray()).toEqual([1, -2.5]);
    expect(Tensor.from([true, false, 1], [3], 'bool').toArray()).toEqual([1, 0, 1]);
  });
});
