import { describe, expect, it } from 'vitest';
import { constant } from './expr.js';

describe('constant', () => {
  it('stores 16-bit float numbers as their bit patterns', () => {
    const h = constant([1, -2, 0.5], [3], 'float16');
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800]);
    const b = constant([1, -2], [2], 'bfloat16');
    expect(Array.from(b.data as Uint16Array)).toEqual([0x3f80, 0xc000]);
  });
});
