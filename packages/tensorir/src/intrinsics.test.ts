// Intrinsic table tests: dtype rules, evaluator accuracy (erf, rounding, narrow floats),
// integer bit operations, and that the factories build calls the interpreter runs.

import type { DataType, PrimExpr } from '@kiln/ir-core';
import { cast, DType, ErrorCodes, isKilnError, toExpr } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { interpret } from './interpreter/index.js';
import {
  abs,
  bitwiseAnd,
  bitwiseNot,
  bitwiseOr,
  bitwiseXor,
  builtinIntrinsics,
  callIntrinsic,
  canonicalIntrinsicName,
  clz,
  copysign,
  createIntrinsicTable,
  erf,
  erfImpl,
  exp,
  fmod,
  getIntrinsic,
  ifThenElseExpr,
  isfinite,
  isinf,
  isnan,
  lookupIntrinsic,
  nearbyint,
  popcount,
  pow,
  reinterpret,
  reinterpretBits,
  round,
  shiftLeft,
  shiftRight,
  sigmoid,
  sqrt,
} from './intrinsics.js';
import { ndarray, roundHalfEven, roundToBFloat16, roundToFloat16, toNumbers } from './ndarray.js';
import { compute, createPrimFunc, placeholder } from './te/index.js';

/** Run `f(x)` elementwise over `xs` through the interpreter. */
function run1(dt: string, xs: number[], f: (x: PrimExpr) => PrimExpr, outDt?: string): number[] {
  const A = placeholder([xs.length], dt, 'A');
  const B = compute([xs.length], (i) => f(A.at(i)), 'B');
  const fn = createPrimFunc([A, B]);
  const b = ndarray(outDt ?? B.dtype, [xs.length]);
  interpret(fn, [ndarray(dt, [xs.length], xs), b]);
  return toNumbers(b);
}

describe('intrinsic table', () => {
  it('resolves bare and canonical names', () => {
    expect(canonicalIntrinsicName('exp')).toBe('tir.exp');
    expect(lookupIntrinsic('exp')).toBe(getIntrinsic('tir.exp'));
    expect(lookupIntrinsic('tir.tvm_storage_sync')?.name).toBe('tir.thread_sync');
    expect(lookupIntrinsic('nope')).toBeUndefined();
    try {
      getIntrinsic('nope');
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, ErrorCodes.UNKNOWN_NAME)).toBe(true);
    }
    for (const n of [
      'exp',
      'exp2',
      'log',
      'log2',
      'log1p',
      'sqrt',
      'rsqrt',
      'sin',
      'cos',
      'tan',
      'tanh',
      'sigmoid',
      'erf',
      'fabs',
      'abs',
      'floor',
      'ceil',
      'round',
      'trunc',
      'pow',
      'fmod',
      'isnan',
      'isinf',
      'isfinite',
      'popcount',
      'clz',
      'reinterpret',
      'if_then_else',
      'likely',
      'bitwise_and',
      'bitwise_or',
      'bitwise_xor',
      'bitwise_not',
      'shift_left',
      'shift_right',
      'thread_sync',
      'nearbyint',
      'copysign',
    ]) {
      expect(builtinIntrinsics.has(`tir.${n}`), n).toBe(true);
    }
  });

  it('extra tables add intrinsics without touching the builtins', () => {
    const t = createIntrinsicTable([
      {
        name: 'my.square',
        arity: 1,
        evalKind: 'pure',
        doc: 'x*x',
        resultType: (a) => a[0].dtype,
        evaluate: (a) => a[0] * a[0],
      },
    ]);
    expect(t.get('my.square')).toBeDefined();
    expect(builtinIntrinsics.get('my.square')).toBeUndefined();
  });

  it('dtype rules', () => {
    const f = toExpr(1.5, DType.float16);
    expect(exp(f).dtype.str).toBe('float16');
    expect(isnan(f).dtype.str).toBe('bool');
    expect(pow(f, 2).dtype.str).toBe('float16');
    expect(popcount(toExpr(3, DType.int32)).dtype.str).toBe('int32');
    expect(reinterpret('int32', toExpr(1, DType.float32)).dtype.str).toBe('int32');
    expect(ifThenElseExpr(true, 1.5, toExpr(2, DType.float64)).dtype.str).toBe('float64');
    const bad = [
      () => exp(toExpr(1, DType.int32)),
      () => reinterpret('int64', toExpr(1, DType.float32)),
      () => callIntrinsic('tir.exp', []),
    ];
    for (const b of bad) {
      try {
        b();
        expect.unreachable();
      } catch (e) {
        expect(isKilnError(e)).toBe(true);
      }
    }
  });
});

describe('intrinsic evaluators', () => {
  it('erf is accurate to float32 precision', () => {
    const known: Array<[number, number]> = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
      [-0.7, -0.6778011938374184],
    ];
    for (const [x, want] of known) expect(Math.abs(erfImpl(x) - want), `erf(${x})`).toBeLessThan(1e-12);
    // Dense sweep against a symmetric-difference check of the derivative 2/sqrt(pi) e^{-x^2}.
    for (let x = -5; x <= 5; x += 0.01) {
      const h = 1e-5;
      const d = (erfImpl(x + h) - erfImpl(x - h)) / (2 * h);
      expect(Math.abs(d - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x))).toBeLessThan(1e-6);
    }
    expect(run1('float32', [0.5, -1], erf)).toEqual([
      Math.fround(0.5204998778130465),
      Math.fround(-0.8427007929497149),
    ]);
  });

  it('round and nearbyint go half to even; floor-family basics', () => {
    const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6];
    const want = [0, 2, 2, -0, -2, -2, 2, -3];
    expect(Object.is(roundHalfEven(-0.4), -0)).toBe(true);
    expect(run1('float32', xs, round)).toEqual(want);
    expect(run1('float32', xs, nearbyint)).toEqual(want);
    expect(roundHalfEven(3.5)).toBe(4);
  });

  it('float math matches Math and rounds to float32', () => {
    const xs = [0.3, 1.7, 2.2];
    expect(run1('float32', xs, sqrt)).toEqual(xs.map((x) => Math.fround(Math.sqrt(Math.fround(x)))));
    expect(run1('float32', xs, sigmoid)).toEqual(
      xs.map((x) => Math.fround(1 / (1 + Math.exp(-Math.fround(x))))),
    );
    expect(run1('float32', [-1e4], sigmoid)).toEqual([0]);
    expect(run1('float32', [5.5, -5.5], (x) => fmod(x, 2))).toEqual([1.5, -1.5]);
    expect(run1('float32', [3, -3], (x) => copysign(x, -0))).toEqual([-3, -3]);
    expect(run1('float32', [NaN, Infinity, 1], (x) => isnan(x))).toEqual([1, 0, 0]);
    expect(run1('float32', [NaN, -Infinity, 1], (x) => isinf(x))).toEqual([0, 1, 0]);
    expect(run1('float32', [NaN, -Infinity, 1], (x) => isfinite(x))).toEqual([0, 0, 1]);
  });

  it('float16 and bfloat16 round to their grids', () => {
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // tie → even
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToFloat16(70000)).toBe(Infinity);
    expect(roundToFloat16(2 ** -25)).toBe(0);
    expect(roundToFloat16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToBFloat16(1 + 2 ** -8)).toBe(1);
    expect(roundToBFloat16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(run1('float16', [1000.2, 1000.3], (x) => cast('float16', x))).toEqual([1000, 1000.5]);
    expect(run1('float16', [100], (x) => exp(x))).toEqual([Infinity]);
  });

  it('integer bit operations', () => {
    const i32 = (v: number): PrimExpr => toExpr(v, DType.int32);
    const x = [5, -1, 0x7fffffff, 12];
    expect(run1('int32', x, (e) => popcount(e))).toEqual([2, 32, 31, 2]);
    expect(run1('int32', x, (e) => clz(e))).toEqual([29, 0, 1, 28]);
    expect(run1('int32', x, (e) => bitwiseAnd(e, i32(6)))).toEqual([4, 6, 6, 4]);
    expect(run1('int32', x, (e) => bitwiseOr(e, i32(2)))).toEqual([7, -1, 0x7fffffff, 14]);
    expect(run1('int32', x, (e) => bitwiseXor(e, i32(1)))).toEqual([4, -2, 0x7ffffffe, 13]);
    expect(run1('int32', x, (e) => bitwiseNot(e))).toEqual([-6, 0, -0x80000000, -13]);
    expect(run1('int32', x, (e) => shiftLeft(e, i32(1)))).toEqual([10, -2, -2, 24]);
    expect(run1('int32', [-8, 8], (e) => shiftRight(e, i32(1)))).toEqual([-4, 4]);
    expect(run1('uint8', [200, 3], (e) => shiftLeft(e, toExpr(1, DType.uint8)))).toEqual([144, 6]);
    expect(run1('int64', [2 ** 40 + 3, -1], (e) => bitwiseAnd(e, toExpr(2 ** 40 + 1, DType.int64)))).toEqual([
      2 ** 40 + 1,
      2 ** 40 + 1,
    ]);
    expect(run1('int64', [-1, 1], (e) => popcount(e))).toEqual([64, 1]);
    expect(run1('int32', [-7, 7], abs)).toEqual([7, 7]);
  });

  it('reinterpret round-trips bit patterns', () => {
    const t = (s: string): DataType =>
      ({
        float32: DType.float32,
        int32: DType.int32,
        uint32: DType.uint32,
        float16: DType.float16,
        int16: DType.int16,
        float64: DType.float64,
        int64: DType.int64,
      })[s]!;
    expect(reinterpretBits(1, t('float32'), t('int32'))).toBe(0x3f800000);
    expect(reinterpretBits(0x3f800000, t('int32'), t('float32'))).toBe(1);
    expect(reinterpretBits(-1, t('int32'), t('uint32'))).toBe(0xffffffff);
    expect(reinterpretBits(1, t('float16'), t('int16'))).toBe(0x3c00);
    expect(reinterpretBits(0x3c00, t('int16'), t('float16'))).toBe(1);
    expect(reinterpretBits(-2, t('float16'), t('int16'))).toBe(-16384);
    expect(reinterpretBits(2, t('float64'), t('int64'))).toBe(0x4000000000000000);
    expect(run1('float32', [1, -2], (e) => reinterpret('int32', e))).toEqual([0x3f800000, -1073741824]);
  });
});
