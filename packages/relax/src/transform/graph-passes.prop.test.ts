// Property test for the graph passes: random dataflow graphs (repeated subexpressions,
// aliases, constant-only subgraphs, dead bindings) go through FoldConstant,
// EliminateCommonSubexpr, CanonicalizeBindings and DeadCodeElimination, each alone and
// as a pipeline. Every output is well-formed, round-trips through the text format, and
// computes what the input computes (legalized and run in the TIR interpreter on random,
// non-zero inputs).
import { parseModule, printModule, sequential, structuralEqual } from '@kiln/ir-core';
import { allClose, ndarray, randomNDArray } from '@kiln/tensorir';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockBuilder } from '../block-builder.js';
import { evaluateRelax, isNDArray, type RelaxValue } from '../eval.js';
import { relaxVar, tuple } from '../ir/expr.js';
import type { Call, Expr } from '../ir/nodes.js';
import { tensorSInfo } from '../ir/struct-info.js';
import * as op from '../op/index.js';
import '../text/index.js';
import { wellFormed } from '../well-formed.js';
import { CanonicalizeBindings } from './canonicalize-bindings.js';
import { DeadCodeElimination } from './dead-code-elimination.js';
import { EliminateCommonSubexpr } from './eliminate-common-subexpr.js';
import { FoldConstant, ndarrayToConstant } from './fold-constant.js';
import { legalizeModule } from './legalize-ops.js';

const BINARY = [op.add, op.multiply, op.subtract];
const UNARY = [op.tanh, op.relu, op.negative];

function build(xs: readonly number[]) {
  let k = 0;
  const next = (m: number) => Math.abs(xs[k++ % xs.length] ?? 0) % m;
  const bb = new BlockBuilder();
  const x = relaxVar('x', tensorSInfo([3, 4], 'float32'));
  const y = relaxVar('y', tensorSInfo([3, 4], 'float32'));
  bb.function('main', [x, y], () => {
    const out = bb.dataflow(() => {
      const avail: Expr[] = [x, y];
      const consts = [1, 2].map((s) =>
        ndarrayToConstant(randomNDArray('float32', [4], xs.length + s, { low: 0.5, high: 1.5 })),
      );
      const values: Call[] = [];
      const steps = 3 + next(8);
      for (let i = 0; i < steps; i++) {
        const pick = (): Expr => (next(4) === 0 ? consts[next(2)] : avail[next(avail.length)]);
        const r = next(10);
        let e: Expr;
        if (r < 2 && values.length > 0) e = values[next(values.length)];
        else if (r === 2) e = avail[next(avail.length)];
        else if (r === 3) e = op.add(consts[0], op.multiply(consts[1], consts[0]));
        else if (r < 7) e = BINARY[next(3)](pick(), pick());
        else e = UNARY[next(3)](pick());
        if (e.kind === 'relax.Call') values.push(e);
        avail.push(bb.emit(e));
      }
      const outs = [avail[avail.length - 1], avail[2 + next(avail.length - 2)]];
      return bb.emitOutput(tuple(outs));
    });
    return out;
  });
  return bb.getModule();
}

const PIPELINE = sequential([
  FoldConstant,
  EliminateCommonSubexpr,
  CanonicalizeBindings,
  DeadCodeElimination,
]);
const PASSES = [FoldConstant, EliminateCommonSubexpr, CanonicalizeBindings, DeadCodeElimination, PIPELINE];

function flat(v: RelaxValue): number[] {
  if (isNDArray(v)) return Array.from(v.data as Float32Array);
  if (typeof v === 'object' && 'tuple' in v) return v.tuple.flatMap(flat);
  return [];
}

describe('graph passes on random dataflow graphs', () => {
  it('keep the IR well-formed, printable and numerically unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 997 }), { minLength: 4, maxLength: 40 }), (xs) => {
        const mod = build(xs);
        const inputs = [randomNDArray('float32', [3, 4], 7), randomNDArray('float32', [3, 4], 8)];
        const want = flat(evaluateRelax(legalizeModule(mod), 'main', inputs));
        for (const pass of PASSES) {
          const out = pass.run(mod);
          expect(wellFormed(out), pass.name).toEqual([]);
          const back = parseModule(printModule(out));
          expect(structuralEqual(back.funcs[0], out.funcs[0], { mapFreeVars: true })).toBe(true);
          const got = flat(evaluateRelax(legalizeModule(out), 'main', inputs));
          const report = allClose(ndarray('float32', [got.length], got), want, 1e-5, 1e-6);
          expect(report.ok, `${pass.name}: ${report.message}`).toBe(true);
        }
        // The pipeline reaches a fixpoint: running it again changes nothing.
        const once = PIPELINE.run(mod);
        expect(PIPELINE.run(once)).toBe(once);
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});
