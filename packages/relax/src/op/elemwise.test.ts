import { primVar } from '@kiln/ir-core';
import { allClose, ndarray } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { relaxVar } from '../ir/expr.js';
import type { Expr } from '../ir/nodes.js';
import { tensorSInfo } from '../ir/struct-info.js';
import {
  at,
  binaryRef,
  fromFn,
  infer,
  inferError,
  rand,
  runOp,
  tensorOut,
  unaryRef,
} from '../testing/harness.js';
import { BINARY_OPS, UNARY_OPS } from './elemwise.js';
import * as op from './index.js';

const f32 = (shape: readonly (number | ReturnType<typeof primVar>)[] | undefined, ndim?: number) =>
  tensorSInfo(shape, 'float32', { ndim });
const n = primVar('n');
const m = primVar('m');

describe('elementwise inference', () => {
  it('unary keeps shape and dtype, symbolic too', () => {
    expect(infer([f32([n, 4])], (x) => op.exp(x))).toBe('R.Tensor((n, 4), "float32")');
    expect(infer([f32(undefined, 3)], (x) => op.relu(x))).toBe('R.Tensor("float32", ndim=3)');
    expect(infer([f32([n])], (x) => op.isnan(x))).toBe('R.Tensor((n,), "bool")');
  });
  it('unary float ops reject ints', () => {
    expect(inferError([tensorSInfo([2], 'int32')], (x) => op.exp(x))).toBe('DTYPE_MISMATCH');
    expect(inferError([tensorSInfo([2], 'float32')], (x) => op.logicalNot(x))).toBe('DTYPE_MISMATCH');
  });
  it('binary broadcasts symbolic shapes', () => {
    expect(infer([f32([n, 1, 4]), f32([3, 1])], (a, b) => op.add(a, b))).toBe(
      'R.Tensor((n, 3, 4), "float32")',
    );
    expect(infer([f32([n, 4]), f32([n, 4])], (a, b) => op.multiply(a, b))).toBe(
      'R.Tensor((n, 4), "float32")',
    );
    // n vs m cannot be related statically: rank only.
    expect(infer([f32([n]), f32([m])], (a, b) => op.add(a, b))).toBe('R.Tensor("float32", ndim=1)');
    expect(infer([f32([n, 4]), f32([4])], (a, b) => op.less(a, b))).toBe('R.Tensor((n, 4), "bool")');
  });
  it('binary errors', () => {
    expect(inferError([f32([2, 3]), f32([4, 3])], (a, b) => op.add(a, b))).toBe('SHAPE_MISMATCH');
    expect(inferError([f32([2]), tensorSInfo([2], 'int32')], (a, b) => op.add(a, b))).toBe('DTYPE_MISMATCH');
    expect(inferError([f32([2])], (a) => op.add(a, relaxVar('s', tensorSInfo([], 'float32'))))).not.toBe(
      'SHAPE_MISMATCH',
    );
    expect(inferError([f32([2]), f32([2])], (a, b) => op.logicalAnd(a, b))).toBe('DTYPE_MISMATCH');
  });
  it('where, astype, clip', () => {
    expect(infer([tensorSInfo([n, 1], 'bool'), f32([4]), f32([1])], (c, a, b) => op.where(c, a, b))).toBe(
      'R.Tensor((n, 4), "float32")',
    );
    expect(inferError([tensorSInfo([2], 'int32'), f32([2]), f32([2])], (c, a, b) => op.where(c, a, b))).toBe(
      'DTYPE_MISMATCH',
    );
    expect(infer([f32([n])], (x) => op.astype(x, 'int8'))).toBe('R.Tensor((n,), "int8")');
    expect(inferError([f32([n])], (x) => op.astype(x, 'complex7'))).toBe('INVALID_ARGUMENT');
    expect(inferError([f32([n])], (x) => op.clip(x, 2, 1))).toBe('INVALID_ARGUMENT');
  });
  it('arity and argument kinds are checked', () => {
    const x = relaxVar('x', f32([2]));
    const bb = new BlockBuilder();
    expect(() => bb.function('f', [x], () => bb.emit({ ...op.exp(x), args: [x, x] }))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

// Reference formulas in plain TS (float64; the kernels compute in float32).
const erf = (x: number) => {
  // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction via Math functions.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t *
                    (0.09678418 +
                      t *
                        (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log1p(Math.exp(x));
const roundEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const UNARY_REF: Record<keyof typeof UNARY_OPS, (x: number) => number> = {
  'relax.abs': Math.abs,
  'relax.negative': (x) => -x,
  'relax.exp': Math.exp,
  'relax.expm1': Math.expm1,
  'relax.log': Math.log,
  'relax.log2': Math.log2,
  'relax.log10': Math.log10,
  'relax.sqrt': Math.sqrt,
  'relax.rsqrt': (x) => 1 / Math.sqrt(x),
  'relax.sin': Math.sin,
  'relax.cos': Math.cos,
  'relax.tan': Math.tan,
  'relax.asin': Math.asin,
  'relax.acos': Math.acos,
  'relax.atan': Math.atan,
  'relax.sinh': Math.sinh,
  'relax.cosh': Math.cosh,
  'relax.tanh': Math.tanh,
  'relax.sigmoid': sigmoid,
  'relax.erf': erf,
  'relax.floor': Math.floor,
  'relax.ceil': Math.ceil,
  'relax.round': roundEven,
  'relax.trunc': Math.trunc,
  'relax.sign': Math.sign,
  'relax.square': (x) => x * x,
  'relax.reciprocal': (x) => 1 / x,
  'relax.logical_not': (x) => (x ? 0 : 1),
  'relax.bitwise_not': (x) => ~x,
  'relax.isnan': (x) => (Number.isNaN(x) ? 1 : 0),
  'relax.isinf': (x) => (Number.isFinite(x) || Number.isNaN(x) ? 0 : 1),
  'relax.isfinite': (x) => (Number.isFinite(x) ? 1 : 0),
  'relax.nn.relu': (x) => Math.max(x, 0),
  'relax.nn.gelu': (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  'relax.nn.gelu_tanh': (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  'relax.nn.silu': (x) => x * sigmoid(x),
  'relax.nn.softplus': softplus,
  'relax.nn.mish': (x) => x * Math.tanh(softplus(x)),
  'relax.nn.hard_sigmoid': (x) => Math.min(Math.max(x + 3, 0), 6) / 6,
  'relax.nn.hard_swish': (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
};
const POSITIVE = new Set([
  'relax.log',
  'relax.log2',
  'relax.log10',
  'relax.sqrt',
  'relax.rsqrt',
  'relax.reciprocal',
]);

describe('elementwise legalization (TIR interpreter vs TS reference)', () => {
  for (const name of Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]) {
    it(name, () => {
      const kind = UNARY_OPS[name];
      const dt = kind === 'bool' ? 'bool' : kind === 'int' ? 'int32' : 'float32';
      let x = POSITIVE.has(name)
        ? rand(dt, [3, 5], 7, 0.1, 3)
        : rand(
            dt,
            [3, 5],
            7,
            kind === 'float' || kind === 'predicate' ? -3 : undefined,
            kind === 'float' || kind === 'predicate' ? 3 : undefined,
          );
      if (name === 'relax.asin' || name === 'relax.acos') x = rand(dt, [3, 5], 7, -0.99, 0.99);
      if (kind === 'predicate') x = ndarray('float32', [4], [1, Number.NaN, Number.POSITIVE_INFINITY, -2]);
      const opFn = (e: Expr) =>
        ({ ...op.exp(e), op: { kind: 'relax.Op', name } }) as ReturnType<typeof op.exp>;
      const r = runOp((p) => opFn(p), [x]);
      const outDt = kind === 'predicate' ? 'bool' : dt;
      const ref = unaryRef(outDt, x, UNARY_REF[name]);
      const rep = allClose(tensorOut(r), ref, 1e-4, 1e-5);
      expect(rep.ok, rep.message).toBe(true);
    });
  }
  const BINARY_REF: Record<keyof typeof BINARY_OPS, (a: number, b: number) => number> = {
    'relax.add': (a, b) => a + b,
    'relax.subtract': (a, b) => a - b,
    'relax.multiply': (a, b) => a * b,
    'relax.divide': (a, b) => a / b,
    'relax.floor_divide': (a, b) => Math.floor(a / b),
    'relax.power': (a, b) => a ** b,
    'relax.maximum': Math.max,
    'relax.minimum': Math.min,
    'relax.mod': (a, b) => a % b,
    'relax.floor_mod': (a, b) => a - Math.floor(a / b) * b,
    'relax.equal': (a, b) => +(a === b),
    'relax.not_equal': (a, b) => +(a !== b),
    'relax.less': (a, b) => +(a < b),
    'relax.less_equal': (a, b) => +(a <= b),
    'relax.greater': (a, b) => +(a > b),
    'relax.greater_equal': (a, b) => +(a >= b),
    'relax.logical_and': (a, b) => +(a && b),
    'relax.logical_or': (a, b) => +(a || b),
    'relax.logical_xor': (a, b) => +(!!a !== !!b),
    'relax.bitwise_and': (a, b) => a & b,
    'relax.bitwise_or': (a, b) => a | b,
    'relax.bitwise_xor': (a, b) => a ^ b,
  };
  for (const name of Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]) {
    it(name, () => {
      const kind = BINARY_OPS[name];
      const dt = kind === 'logical' ? 'bool' : kind === 'bitwise' ? 'int32' : 'float32';
      const a = name === 'relax.power' ? rand(dt, [2, 3, 4], 3, 0.5, 2) : rand(dt, [2, 3, 4], 3);
      let b = rand(dt, [3, 1], 4);
      if (name.includes('div') || name.includes('mod')) b = rand(dt, [3, 1], 4, 0.5, 2);
      const opFn = (x: Expr, y: Expr) =>
        ({ ...op.add(x, y), op: { kind: 'relax.Op', name } }) as ReturnType<typeof op.add>;
      const r = runOp((x, y) => opFn(x, y), [a, b]);
      const outDt = kind === 'compare' ? 'bool' : dt;
      const rep = allClose(tensorOut(r), binaryRef(outDt, a, b, BINARY_REF[name]), 1e-4, 1e-5);
      expect(rep.ok, rep.message).toBe(true);
    });
  }
  it('integer floor_divide / floor_mod / mod follow their rounding', () => {
    const a = ndarray('int32', [4], [7, -7, 7, -7]);
    const b = ndarray('int32', [4], [2, 2, -2, -2]);
    expect(Array.from(tensorOut(runOp((x, y) => op.floorDivide(x, y), [a, b])).data, Number)).toEqual([
      3, -4, -4, 3,
    ]);
    expect(Array.from(tensorOut(runOp((x, y) => op.floorMod(x, y), [a, b])).data, Number)).toEqual([
      1, 1, -1, -1,
    ]);
    expect(Array.from(tensorOut(runOp((x, y) => op.mod(x, y), [a, b])).data, Number)).toEqual([1, -1, 1, -1]);
  });
  it('float floor_mod is Python %: infinite divisors, signed zeros, NaN', () => {
    const a = ndarray('float32', [10], [0, -0, -3, 3, -1, 1, Infinity, 1, 5.5, -5.5]);
    const b = ndarray('float32', [10], [-2, 2, Infinity, Infinity, -Infinity, -Infinity, 2, 0, -2, 2]);
    const got = Array.from(tensorOut(runOp((x, y) => op.floorMod(x, y), [a, b])).data, Number);
    expect(got).toEqual([-0, 0, Infinity, 3, -1, -Infinity, Number.NaN, Number.NaN, -0.5, 0.5]);
  });
  it('where / astype / clip / leaky_relu', () => {
    const c = rand('bool', [2, 3], 5);
    const x = rand('float32', [2, 3], 6, -3, 3);
    const y = rand('float32', [3], 7);
    const w = tensorOut(runOp((a, b, d) => op.where(a, b, d), [c, x, y]));
    const wRef = fromFn('float32', [2, 3], ([i, j]) => (at(c, [i, j]) ? at(x, [i, j]) : at(y, [j])));
    expect(allClose(w, wRef).ok).toBe(true);
    const cast = tensorOut(runOp((a) => op.astype(a, 'int32'), [x]));
    expect(Array.from(cast.data, Number)).toEqual(Array.from(x.data as Float32Array, (v) => Math.trunc(v)));
    const cl = tensorOut(runOp((a) => op.clip(a, -1, 0.5), [x]));
    expect(
      allClose(
        cl,
        unaryRef('float32', x, (v) => Math.min(Math.max(v, -1), 0.5)),
      ).ok,
    ).toBe(true);
    const lr = tensorOut(runOp((a) => op.leakyRelu(a, 0.2), [x]));
    expect(
      allClose(
        lr,
        unaryRef('float32', x, (v) => (v > 0 ? v : 0.2 * v)),
      ).ok,
    ).toBe(true);
  });
  it('runs one kernel for every value of a symbolic dim', () => {
    const sinfo = [tensorSInfo([n, 4], 'float32'), tensorSInfo([4], 'float32')];
    for (const rows of [1, 3]) {
      const a = rand('float32', [rows, 4], rows);
      const b = rand('float32', [4], 9);
      const r = runOp((x, y) => op.multiply(x, y), [a, b], sinfo);
      expect(
        allClose(
          tensorOut(r),
          binaryRef('float32', a, b, (u, v) => u * v),
        ).ok,
      ).toBe(true);
      expect(r.mod.globals).toEqual(['main', 'multiply']);
    }
  });
});
