// Accuracy of the inline float32 exp / erf / tanh / sigmoid through the real LLVM path
// (codegen → opt → llc → shared library), as scalars and as vectors, on dense sweeps,
// random bit patterns (every magnitude) and the special values, against double-precision
// references. Errors are counted in ulp of the float32 result.
import { buffer, bufferLoad, call, floordiv, hostTarget, mul, ramp } from '@kiln/ir-core';
import { bufferStore, forLoop, loopVar, primFunc } from '@kiln/tensorir';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCPU } from './build.js';
import type { LLVMTargetInfo } from './codegen.js';
import { loadLibrary } from './test_util.js';
import type { VectorMathFunction } from './vector_math.js';

const hostOk = process.arch === 'x64';

/** erf in double precision: Taylor series near 0, continued fraction for erfc beyond. */
function erfRef(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a < 2.5) {
    let sum = 0;
    let term = x;
    for (let k = 0; k < 80; k++) {
      const t = term / (2 * k + 1);
      sum += t;
      if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
      term *= (-x * x) / (k + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (a > 7) return Math.sign(x);
  // erfc(a) = exp(-a²)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...))))), backwards.
  let f = a;
  for (let k = 120; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const REFERENCE: Record<VectorMathFunction, (x: number) => number> = {
  exp: Math.exp,
  erf: erfRef,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

/** Distance of `got` from the exact `want` in ulp of float32 at `want` (subnormal ulp at least). */
function ulpError(got: number, want: number): number {
  if (Number.isNaN(want)) return Number.isNaN(got) ? 0 : Number.POSITIVE_INFINITY;
  if (!Number.isFinite(want) || !Number.isFinite(got)) {
    if (got === want) return 0;
    // A finite reference beyond FLT_MAX rounds to infinity.
    return Math.fround(want) === got ? 0 : Number.POSITIVE_INFINITY;
  }
  const w = Math.abs(Math.fround(want));
  const exp = w === 0 ? -149 : Math.max(Math.floor(Math.log2(w)) - 23, -149);
  return Math.abs(got - want) / 2 ** exp;
}

function inputs(): Float32Array {
  const xs: number[] = [];
  // Dense sweeps over the interesting ranges.
  for (let x = -110; x <= 95; x += 1 / 512) xs.push(x);
  for (let x = -4; x <= 4; x += 1 / 8192) xs.push(x);
  // Around 0: tiny magnitudes down to the subnormals.
  for (let e = -149; e <= 0; e += 0.25) xs.push(2 ** e, -(2 ** e));
  // Random bit patterns: every exponent, both signs.
  let s = 12345;
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < 100000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    bits[0] = s;
    if (!Number.isNaN(f[0])) xs.push(f[0]);
  }
  const specials = [
    0,
    -0,
    Infinity,
    -Infinity,
    NaN,
    3.4028234663852886e38,
    -3.4028234663852886e38,
    1.401298464324817e-45,
  ];
  // exp: around overflow and the subnormal range; erf/tanh: around the branch points.
  specials.push(88.72283935546875, 88.7228317, 88.72284, 89, -87.33654, -103.97208, -103.28, -104, -150);
  specials.push(0.99999994, 1, 1.0000001, 3.92, 4, 4.0000005, 9, -1, -0.99999994);
  xs.push(...specials);
  const lanes = 16;
  while (xs.length % lanes !== 0) xs.push(0.5);
  return Float32Array.from(xs);
}

const FNS: VectorMathFunction[] = ['exp', 'erf', 'tanh', 'sigmoid'];
/** Largest error accepted, in ulp. */
const MAX_ULP: Record<VectorMathFunction, number> = { exp: 2, erf: 3, tanh: 3, sigmoid: 3 };

describe.runIf(hostOk)('inline float32 exp / erf / tanh / sigmoid', () => {
  const closers: Array<() => void> = [];
  afterAll(() => closers.forEach((c) => c()));
  const xs = inputs();
  const n = xs.length;

  /** One kernel per function and width: Y = f(X) over n elements, `lanes` at a time. */
  function kernelFor(fn: VectorMathFunction, lanes: number) {
    const X = buffer('X', 'float32', [n]);
    const Y = buffer('Y', 'float32', [n]);
    const i = loopVar('i');
    const idx = lanes > 1 ? ramp(mul(i, lanes), 1, lanes) : i;
    const dt = lanes > 1 ? `float32x${lanes}` : 'float32';
    const body = bufferStore(Y, call(dt, fn, [bufferLoad(X, [idx])]), [idx]);
    return { symbol: `${fn}_x${lanes}`, fn: primFunc([X, Y], forLoop(i, 0, floordiv(n, lanes), body)) };
  }

  const targets: Array<{ name: string; target: LLVMTargetInfo; lanes: number[] }> = [
    {
      name: 'AVX2 + FMA (x86-64-v3)',
      target: { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64-v3', features: [] },
      lanes: [1, 8],
    },
    {
      name: 'SSE2 only, no FMA (x86-64)',
      target: { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64', features: [] },
      lanes: [1, 4],
    },
  ];
  const host = hostTarget();
  if (host.features.includes('+avx512f'))
    targets.push({
      name: 'AVX-512 (host)',
      target: { mtriple: host.mtriple, mcpu: host.mcpu ?? '', features: [...host.features] },
      lanes: [16],
    });

  for (const { name, target, lanes } of targets) {
    it(`stays within a few ulp of the reference: ${name}`, () => {
      const funcs = FNS.flatMap((fn) => lanes.map((l) => kernelFor(fn, l)));
      const lib = buildCPU(funcs, target);
      // No libm call is left for these functions.
      const { kernels, close } = loadLibrary(lib);
      closers.push(close);
      for (const fn of FNS) {
        for (const l of lanes) {
          const ys = new Float32Array(n);
          kernels[`${fn}_x${l}`](xs, ys);
          let worst = 0;
          let worstAt = 0;
          for (let k = 0; k < n; k++) {
            const err = ulpError(ys[k], REFERENCE[fn](xs[k]));
            if (err > worst) {
              worst = err;
              worstAt = xs[k];
            }
          }
          if (process.env.KILN_ULP_REPORT)
            console.log(`${name} ${fn} x${l}: ${worst.toFixed(2)} ulp at ${worstAt}`);
          expect(worst, `${fn} x${l}: ${worst.toFixed(2)} ulp at x = ${worstAt}`).toBeLessThanOrEqual(
            MAX_ULP[fn],
          );
        }
      }
    });
  }

  it('handles the special values exactly', () => {
    const target = { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64-v3', features: [] as string[] };
    const specials = Float32Array.from([
      NaN,
      Infinity,
      -Infinity,
      0,
      -0,
      200,
      -200,
      1e-30,
      -1e-30,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    const m = specials.length;
    const funcs = FNS.flatMap((fn) =>
      [1, 8].map((lanes) => {
        const X = buffer('X', 'float32', [m]);
        const Y = buffer('Y', 'float32', [m]);
        const i = loopVar('i');
        const idx = lanes > 1 ? ramp(mul(i, lanes), 1, lanes) : i;
        const dt = lanes > 1 ? `float32x${lanes}` : 'float32';
        return {
          symbol: `${fn}_s${lanes}`,
          fn: primFunc(
            [X, Y],
            forLoop(i, 0, m / lanes, bufferStore(Y, call(dt, fn, [bufferLoad(X, [idx])]), [idx])),
          ),
        };
      }),
    );
    const { kernels, close } = loadLibrary(buildCPU(funcs, target, { dump: ['llvm-opt'] }));
    closers.push(close);
    const expected: Record<VectorMathFunction, number[]> = {
      exp: [NaN, Infinity, 0, 1, 1, Infinity, 0, 1, 1],
      erf: [
        NaN,
        1,
        -1,
        0,
        -0,
        1,
        -1,
        Math.fround(1e-30 * (2 / Math.sqrt(Math.PI))),
        -Math.fround(1e-30 * (2 / Math.sqrt(Math.PI))),
      ],
      tanh: [NaN, 1, -1, 0, -0, 1, -1, Math.fround(1e-30), -Math.fround(1e-30)],
      sigmoid: [NaN, 1, 0, 0.5, 0.5, 1, 0, 0.5, 0.5],
    };
    for (const fn of FNS)
      for (const lanes of [1, 8]) {
        const ys = new Float32Array(m);
        kernels[`${fn}_s${lanes}`](specials, ys);
        expected[fn].forEach((want, k) => {
          if (Number.isNaN(want)) expect(Number.isNaN(ys[k]), `${fn} x${lanes} of ${specials[k]}`).toBe(true);
          else
            expect(Object.is(ys[k], want), `${fn} x${lanes} of ${specials[k]}: ${ys[k]} (want ${want})`).toBe(
              true,
            );
        });
      }
  });

  it('leaves no libm call and vectorizes a scalar loop of exp', () => {
    const target = { mtriple: 'x86_64-linux-gnu', mcpu: 'x86-64-v3', features: [] as string[] };
    const lib = buildCPU([kernelFor('exp', 1), kernelFor('erf', 1), kernelFor('tanh', 1)], target, {
      dump: ['llvm-opt'],
    });
    const ir = lib.dumps['llvm-opt'] ?? '';
    expect(ir).not.toMatch(/@(expf|erff|tanhf|llvm\.exp\.)/);
    // The loop vectorizer turned the scalar bodies into vector code.
    expect(ir).toMatch(/<8 x float>/);
  });
});
