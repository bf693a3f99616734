// Random dataflow graphs (elementwise, broadcast, injective, reductions, matmul; shared
// values, diamonds, values escaping the block): FuseOps and FuseTIR never change the
// results, every module stays well-formed, and fusion never launches more kernels.
import type { IRModule } from '@kiln/ir-core';
import { moduleEntries, sequential } from '@kiln/ir-core';
import type { Expr } from '@kiln/relax';
import {
  BlockBuilder,
  constant,
  LegalizeOps,
  op,
  relaxVar,
  wellFormed as relaxWellFormed,
  tensorSInfo,
  tuple,
} from '@kiln/relax';
import type { PrimFunc } from '@kiln/tensorir';
import { wellFormed as tirWellFormed } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { FuseOps } from './fuse-ops.js';
import { FuseTIR } from './fuse-tir.js';
import { maxRelErr, rand, runOnVM } from './testing/vm.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 7;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** A random graph over [4, 4] float32 values. */
function randomGraph(seed: number): IRModule {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const x = relaxVar('x', tensorSInfo([4, 4], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () => {
    const outs = bb.dataflow(() => {
      const vals: Expr[] = [x];
      const escaped: Expr[] = [];
      const steps = 4 + Math.floor(r() * 8);
      for (let i = 0; i < steps; i++) {
        const a = pick(vals.slice(-4));
        const b = pick(vals);
        const makers: Array<() => Expr> = [
          () => op.tanh(a),
          () => op.negative(a),
          () => op.add(a, constant(rand(4, seed + i), [4])),
          () => op.multiply(a, b),
          () => op.permuteDims(a, [1, 0]),
          () => op.add(a, bb.emit(op.max(b, { axis: [1], keepdims: true }))),
          () => op.matmul(a, constant(rand(16, seed * 3 + i, 0.5), [4, 4])),
          () => op.relu(a),
          () => op.subtract(a, b),
        ];
        const e = pick(makers)();
        const v = r() < 0.15 ? bb.emitOutput(e) : bb.emit(e);
        if (v.kind === 'relax.Var') escaped.push(v);
        vals.push(v);
      }
      return [bb.emitOutput(vals[vals.length - 1]), ...escaped];
    });
    return outs.length === 1 ? outs[0] : bb.emit(tuple(outs));
  });
  return bb.getModule();
}

const prepare = sequential([LegalizeOps, AnnotateTIROpPattern]);

describe('FuseOps + FuseTIR on random graphs', () => {
  it('keep results on 40 random graphs', () => {
    let before = 0;
    let after = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const mod = prepare.run(randomGraph(seed));
      const fused = FuseOps.run(mod);
      const tir = FuseTIR.run(fused);
      expect(relaxWellFormed(fused), `seed ${seed}`).toEqual([]);
      expect(relaxWellFormed(tir), `seed ${seed}`).toEqual([]);
      for (const [n, f] of moduleEntries(tir))
        if (f.kind === 'PrimFunc')
          expect(tirWellFormed(f as unknown as PrimFunc), `seed ${seed} ${n}`).toEqual([]);
      const inp = [{ data: rand(16, 100 + seed), shape: [4, 4] }];
      const ref = runOnVM(mod, inp);
      const mid = runOnVM(fused, inp);
      const got = runOnVM(tir, inp);
      expect(got.outputs.length).toBe(ref.outputs.length);
      ref.outputs.forEach((o, i) => {
        expect(maxRelErr(mid.outputs[i], o), `seed ${seed} output ${i}`).toBeLessThan(1e-5);
        expect(maxRelErr(got.outputs[i], o), `seed ${seed} output ${i}`).toBeLessThan(1e-4);
      });
      expect(got.launches).toBeLessThanOrEqual(ref.launches);
      before += ref.launches;
      after += got.launches;
    }
    expect(after).toBeLessThan(before);
    console.log(`random graphs: ${before} kernel launches → ${after}`);
  });
});
