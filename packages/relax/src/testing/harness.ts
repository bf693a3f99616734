// Test helpers (not part of the public API): build a one-op function, legalize it, run it
// through the reference evaluator, plus small NumPy-like reference routines in TS.
import type { IRModule } from '@kiln/ir-core';
import { isKilnError, postOrderVisit } from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { getFlat, ndarray, randomNDArray } from '@kiln/tensorir';
import { expect } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import type { RelaxValue } from '../eval.js';
import { evaluateRelax, isNDArray } from '../eval.js';
import { relaxVar } from '../ir/expr.js';
import type { Call, Expr, RelaxFunction, StructInfo, Var } from '../ir/nodes.js';
import { sinfoToString, tensorSInfo } from '../ir/struct-info.js';
import { legalizeModule } from '../transform/legalize-ops.js';
import { recordNativeCase } from './native.js';

export interface OpRun {
  readonly mod: IRModule;
  readonly out: RelaxValue;
  /** The function before legalization. */
  readonly before: IRModule;
}

/**
 * Build `main(params) { return build(params) }`, legalize it, check nothing but call_tir
 * remains, and evaluate it on `inputs`. `sinfo` overrides a param's StructInfo (for
 * symbolic shapes); by default params take the inputs' static shapes.
 */
export function runOp(
  build: (...ps: Var[]) => Expr,
  inputs: readonly NDArray[],
  sinfo: readonly (StructInfo | undefined)[] = [],
): OpRun {
  const params = inputs.map((a, i) => relaxVar(`p${i}`, sinfo[i] ?? tensorSInfo(a.shape, a.dtype)));
  const bb = new BlockBuilder();
  bb.function('main', params, (...ps) => bb.emit(build(...ps)));
  const before = bb.getModule();
  const mod = legalizeModule(before);
  const main = mod.funcs[mod.globals.indexOf('main')] as RelaxFunction;
  postOrderVisit(main, (n) => {
    if (n.kind === 'relax.Call') {
      const c = n as Call;
      if (c.op.kind === 'relax.Op' && c.op.name !== 'relax.call_tir' && c.op.name !== 'relax.shape_of')
        throw new Error(`not legalized: ${c.op.name}`);
    }
  });
  const out = evaluateRelax(mod, 'main', inputs);
  // The same kernels are checked on the native CPU backend after the file's tests (native.ts).
  recordNativeCase({ label: expect.getState().currentTestName ?? 'op test', mod, inputs, out });
  return { mod, out, before };
}

export function tensorOut(r: OpRun): NDArray {
  if (!isNDArray(r.out)) throw new Error('expected a tensor result');
  return r.out;
}

export const rand = (dt: string, shape: readonly number[], seed = 1, low?: number, high?: number): NDArray =>
  randomNDArray(dt, shape, seed, low === undefined ? {} : { low, high });

// ---------------------------------------------------------------- references

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}
export function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let r = 0;
  for (let d = 0; d < shape.length; d++) r = r * shape[d] + idx[d];
  return r;
}
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
export function at(a: NDArray, idx: readonly number[]): number {
  return getFlat(a, ravel(idx, a.shape));
}
/** Build an array of `shape` from f(multi-index). */
export function fromFn(dt: string, shape: readonly number[], f: (idx: number[]) => number): NDArray {
  const n = size(shape);
  const data: number[] = [];
  for (let i = 0; i < n; i++) data.push(f(unravel(i, shape)));
  return ndarray(dt, shape, data);
}
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}
/** Read `a` at an output index of a broadcast result. */
export function atB(a: NDArray, outIdx: readonly number[]): number {
  const off = outIdx.length - a.shape.length;
  return at(
    a,
    a.shape.map((d, i) => (d === 1 ? 0 : outIdx[off + i])),
  );
}
export function binaryRef(dt: string, a: NDArray, b: NDArray, f: (x: number, y: number) => number): NDArray {
  return fromFn(dt, broadcastShape(a.shape, b.shape), (i) => f(atB(a, i), atB(b, i)));
}
export function unaryRef(dt: string, a: NDArray, f: (x: number) => number): NDArray {
  return fromFn(dt, a.shape, (i) => f(at(a, i)));
}

/** Infer the StructInfo of `build(params)` with params of the given StructInfo. */
export function infer(sinfos: readonly StructInfo[], build: (...ps: Expr[]) => Expr): string {
  const ps = sinfos.map((s, i) => relaxVar(`p${i}`, s));
  const bb = new BlockBuilder();
  let out = '';
  bb.function('f', ps, (...vs) => {
    const v = bb.emit(build(...vs));
    out = sinfoToString(v.structInfo);
    return v;
  });
  return out;
}
export function inferError(sinfos: readonly StructInfo[], build: (...ps: Expr[]) => Expr): string {
  try {
    infer(sinfos, build);
  } catch (e) {
    if (isKilnError(e)) return e.code;
    throw e;
  }
  return 'no error';
}
