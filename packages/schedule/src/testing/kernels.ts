// Test kernels built with the te DSL, and the numerical check every schedule test uses:
// run the original and the scheduled function on the same random inputs and compare.
import type { Buffer, PrimExpr } from '@kiln/ir-core';
import { add, div, max as maxE, mul, sub } from '@kiln/ir-core';
import type { NDArray, PrimFunc } from '@kiln/tensorir';
import {
  allClose,
  compute,
  createPrimFunc,
  exp,
  fullNDArray,
  interpret,
  pad,
  placeholder,
  randomNDArray,
  reduceAxis,
  reduceMax,
  sqrt,
  sum,
} from '@kiln/tensorir';
import { allBlocks } from '../tree.js';

export function matmul(n = 16, m = 16, k = 16): PrimFunc {
  const A = placeholder([n, k], 'float32', 'A');
  const B = placeholder([k, m], 'float32', 'B');
  const r = reduceAxis([0, k], 'k');
  const C = compute([n, m], (i, j) => sum(mul(A.at(i, r), B.at(r, j)), r), 'C');
  return createPrimFunc([A, B, C], { name: 'matmul' });
}

/** Matmul followed by a bias-add + ReLU epilogue (two consumers to fuse). */
export function matmulRelu(n = 16, m = 16, k = 16): PrimFunc {
  const A = placeholder([n, k], 'float32', 'A');
  const B = placeholder([k, m], 'float32', 'B');
  const bias = placeholder([m], 'float32', 'bias');
  const r = reduceAxis([0, k], 'k');
  const C = compute([n, m], (i, j) => sum(mul(A.at(i, r), B.at(r, j)), r), 'C');
  const D = compute([n, m], (i, j) => add(C.at(i, j), bias.at(j)), 'D');
  const E = compute([n, m], (i, j) => maxE(D.at(i, j), 0), 'E');
  return createPrimFunc([A, B, bias, E], { name: 'matmul_relu' });
}

export function conv2d(n = 1, c = 3, h = 8, w = 8, kOut = 4, r = 3, s = 3, padding = 1): PrimFunc {
  const data = placeholder([n, c, h, w], 'float32', 'data');
  const weight = placeholder([kOut, c, r, s], 'float32', 'weight');
  const Apad = pad(data, [0, 0, padding, padding], [0, 0, padding, padding], 0, 'pad');
  const oh = h + 2 * padding - r + 1;
  const ow = w + 2 * padding - s + 1;
  const rc = reduceAxis([0, c], 'rc');
  const ry = reduceAxis([0, r], 'ry');
  const rx = reduceAxis([0, s], 'rx');
  const out = compute(
    [n, kOut, oh, ow],
    (nn, ff, yy, xx) =>
      sum(mul(Apad.at(nn, rc, add(yy, ry), add(xx, rx)), weight.at(ff, rc, ry, rx)), [rc, ry, rx]),
    'conv',
  );
  return createPrimFunc([data, weight, out], { name: 'conv2d' });
}

export function softmax(n = 8, m = 16): PrimFunc {
  const A = placeholder([n, m], 'float32', 'A');
  const k1 = reduceAxis([0, m], 'k');
  const mx = compute([n], (i) => reduceMax(A.at(i, k1), k1), 'maxelem');
  const ex = compute([n, m], (i, j) => exp(sub(A.at(i, j), mx.at(i))), 'exp');
  const k2 = reduceAxis([0, m], 'k2');
  const sm = compute([n], (i) => sum(ex.at(i, k2), k2), 'expsum');
  const out = compute([n, m], (i, j) => div(ex.at(i, j), sm.at(i)), 'norm');
  return createPrimFunc([A, out], { name: 'softmax' });
}

export function layerNorm(n = 8, m = 16, eps = 1e-5): PrimFunc {
  const A = placeholder([n, m], 'float32', 'A');
  const gamma = placeholder([m], 'float32', 'gamma');
  const beta = placeholder([m], 'float32', 'beta');
  const k1 = reduceAxis([0, m], 'k');
  const s = compute([n], (i) => sum(A.at(i, k1), k1), 'sum');
  const mean = compute([n], (i) => div(s.at(i), m), 'mean');
  const k2 = reduceAxis([0, m], 'k2');
  const sq = compute(
    [n],
    (i) => sum(mul(sub(A.at(i, k2), mean.at(i)), sub(A.at(i, k2), mean.at(i))), k2),
    'sqsum',
  );
  const out = compute(
    [n, m],
    (i, j) =>
      add(mul(div(sub(A.at(i, j), mean.at(i)), sqrt(add(div(sq.at(i), m), eps))), gamma.at(j)), beta.at(j)),
    'norm',
  );
  return createPrimFunc([A, gamma, beta, out], { name: 'layer_norm' });
}

/** B = A * 2; C = B + 1; D = max(C, 0): an injective chain. */
export function elementwise(n = 8, m = 12): PrimFunc {
  const A = placeholder([n, m], 'float32', 'A');
  const B = compute([n, m], (i, j) => mul(A.at(i, j), 2), 'B');
  const C = compute([n, m], (i, j) => add(B.at(i, j), 1), 'C');
  const D = compute([n, m], (i, j) => maxE(C.at(i, j), 0), 'D');
  return createPrimFunc([A, D], { name: 'elementwise' });
}

/** A 1-D stencil: B = A * 3; C[i] = B[i] + B[i + 1] + B[i + 2] (computeAt needs a halo). */
export function stencil(n = 20): PrimFunc {
  const A = placeholder([n + 2], 'float32', 'A');
  const B = compute([n + 2], (i) => mul(A.at(i), 3), 'B');
  const C = compute(
    [n],
    (i) => add(add(B.at(i), B.at(add(i, 1) as PrimExpr)), B.at(add(i, 2) as PrimExpr)),
    'C',
  );
  return createPrimFunc([A, C], { name: 'stencil' });
}

function shapeOf(b: Buffer): number[] {
  return b.shape.map((s) => {
    if (s.kind !== 'IntImm') throw new Error(`buffer ${b.name} has a symbolic shape`);
    return s.value;
  });
}

/** Parameters written by some block (the outputs). */
function outputParams(fn: PrimFunc): Set<Buffer> {
  const out = new Set<Buffer>();
  for (const r of allBlocks(fn.body)) for (const w of r.block.writes) out.add(w.buffer);
  return out;
}

/** Run `fn` on seeded random inputs; outputs start as NaN so that unwritten elements show. */
export function run(fn: PrimFunc, seed = 7): NDArray[] {
  const outs = outputParams(fn);
  const args = fn.params.map((p, i) => {
    if (p.kind !== 'Buffer') throw new Error('scalar params are not used by the test kernels');
    return outs.has(p)
      ? fullNDArray(p.dtype, shapeOf(p), Number.NaN)
      : randomNDArray(p.dtype, shapeOf(p), seed + i);
  });
  interpret(fn, args);
  return args.filter((_, i) => outs.has(fn.params[i] as Buffer));
}

/** Do `a` and `b` compute the same outputs (relative error ≤ rtol) on random inputs? */
export function sameResults(
  a: PrimFunc,
  b: PrimFunc,
  seed = 7,
  rtol = 1e-5,
): { ok: boolean; message: string } {
  const x = run(a, seed);
  const y = run(b, seed);
  for (let i = 0; i < x.length; i++) {
    const r = allClose(y[i], x[i], rtol, 1e-5);
    if (!r.ok) return { ok: false, message: r.message };
  }
  return { ok: true, message: '' };
}

export { printPrimFunc, wellFormed } from '@kiln/tensorir';
