// Before/Expected tests in the TIR text format, on hand-written TIR (no te involved).
import { structuralEqual } from '@kiln/ir-core';
import { parsePrimFunc, printPrimFunc } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { createSchedule } from './index.js';
import { expectSame } from './testing/expect.js';

const before = `prim_func(A: float32[16], B: float32[16]) attrs {global_symbol: "scale"} {
  block root() {
    alloc_buffer T: float32[16]
    for i in 0 +: 16 {
      block T(vi = spatial(0 +: 16, i)) {
        reads(A[vi])
        writes(T[vi])
        T[vi] = A[vi] * 2.0
      }
    }
    for i in 0 +: 16 {
      block B(vi = spatial(0 +: 16, i)) {
        reads(T[vi])
        writes(B[vi])
        B[vi] = T[vi] + 1.0
      }
    }
  }
}`;

describe('text Before/Expected', () => {
  it('split', () => {
    const fn = parsePrimFunc(before);
    const sch = createSchedule(fn);
    sch.split(sch.getLoops(sch.getBlock('B'))[0], [undefined, 4]);
    const expected = parsePrimFunc(`prim_func(A: float32[16], B: float32[16]) attrs {global_symbol: "scale"} {
  block root() {
    alloc_buffer T: float32[16]
    for i in 0 +: 16 {
      block T(vi = spatial(0 +: 16, i)) {
        reads(A[vi])
        writes(T[vi])
        T[vi] = A[vi] * 2.0
      }
    }
    for i_0 in 0 +: 4 {
      for i_1 in 0 +: 4 {
        block B(vi = spatial(0 +: 16, i_0 * 4 + i_1)) {
          reads(T[vi])
          writes(B[vi])
          B[vi] = T[vi] + 1.0
        }
      }
    }
  }
}`);
    expect(structuralEqual(sch.func, expected, { mapFreeVars: true }), printPrimFunc(sch.func)).toBe(true);
    expectSame(fn, sch.func);
  });

  it('computeInline', () => {
    const fn = parsePrimFunc(before);
    const sch = createSchedule(fn);
    sch.computeInline(sch.getBlock('T'));
    const expected = parsePrimFunc(`prim_func(A: float32[16], B: float32[16]) attrs {global_symbol: "scale"} {
  block root() {
    for i in 0 +: 16 {
      block B(vi = spatial(0 +: 16, i)) {
        reads(A[vi])
        writes(B[vi])
        B[vi] = A[vi] * 2.0 + 1.0
      }
    }
  }
}`);
    expect(structuralEqual(sch.func, expected, { mapFreeVars: true }), printPrimFunc(sch.func)).toBe(true);
    expectSame(fn, sch.func);
  });

  it('computeAt', () => {
    const fn = parsePrimFunc(before);
    const sch = createSchedule(fn);
    const [i] = sch.getLoops(sch.getBlock('B'));
    const [io] = sch.split(i, [4, 4]);
    sch.computeAt(sch.getBlock('T'), io);
    const expected = parsePrimFunc(`prim_func(A: float32[16], B: float32[16]) attrs {global_symbol: "scale"} {
  block root() {
    alloc_buffer T: float32[16]
    for i_0 in 0 +: 4 {
      for ax0 in 0 +: 4 {
        block T(vi = spatial(0 +: 16, i_0 * 4 + ax0)) {
          reads(A[vi])
          writes(T[vi])
          T[vi] = A[vi] * 2.0
        }
      }
      for i_1 in 0 +: 4 {
        block B(vi = spatial(0 +: 16, i_0 * 4 + i_1)) {
          reads(T[vi])
          writes(B[vi])
          B[vi] = T[vi] + 1.0
        }
      }
    }
  }
}`);
    expect(structuralEqual(sch.func, expected, { mapFreeVars: true }), printPrimFunc(sch.func)).toBe(true);
    expectSame(fn, sch.func);
  });
});
