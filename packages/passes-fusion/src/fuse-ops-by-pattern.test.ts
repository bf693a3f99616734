// relax.FuseOpsByPattern: the pattern language (text and builders), Composite functions
// for matmul+add+relu, refusals (intermediate used elsewhere, check veto), and the
// results before/after on the VM (composites legalized and called as Relax functions).
import type { IRModule } from '@kiln/ir-core';
import { getFunction, isKilnError, primVar, sequential } from '@kiln/ir-core';
import type { RelaxFunction, SeqExpr } from '@kiln/relax';
import { BlockBuilder, constant, LegalizeOps, op, relaxVar, tensorSInfo, wellFormed } from '@kiln/relax';
import { describe, expect, it } from 'vitest';
import {
  createFuseOpsByPattern,
  FuseOpsByPattern,
  fuseOpsByPattern,
  isOp,
  optional,
  parsePattern,
  wildcard,
} from './fuse-ops-by-pattern.js';
import { FuseTIR } from './fuse-tir.js';
import { maxRelErr, rand, runOnVM } from './testing/vm.js';

function mlp(shareHidden = false): IRModule {
  const n = primVar('n');
  const x = relaxVar('x', tensorSInfo([n, 16], 'float32'));
  const bb = new BlockBuilder();
  bb.function('main', [x], () =>
    bb.dataflow(() => {
      const h = bb.emit(op.matmul(x, constant(rand(16 * 32, 1), [16, 32])));
      const hb = bb.emit(op.add(h, constant(rand(32, 2), [32])));
      const r = bb.emit(op.relu(hb));
      const o = bb.emit(op.matmul(r, constant(rand(32 * 10, 3), [32, 10])));
      const ob = bb.emit(op.add(o, constant(rand(10, 4), [10])));
      // optionally reuse the pre-activation value: then add can't be inside a composite
      return bb.emitOutput(shareHidden ? bb.emit(op.add(ob, bb.emit(op.sum(hb)))) : ob);
    }),
  );
  return bb.getModule();
}

const mainCallees = (m: IRModule) =>
  ((getFunction(m, 'main') as unknown as RelaxFunction).body as SeqExpr).blocks
    .flatMap((b) => b.bindings)
    .map((b) =>
      b.value.kind === 'relax.Call'
        ? b.value.op.kind === 'relax.GlobalVar'
          ? b.value.op.name
          : b.value.op.kind === 'relax.Op'
            ? b.value.op.name
            : '?'
        : b.value.kind,
    );

describe('the pattern language', () => {
  it('parses ops, wildcards, constants, alternatives and optional epilogues', () => {
    const p = parsePattern('relu?(add?(matmul(*, *), const))');
    const mm = isOp('relax.matmul', [wildcard(), wildcard()]);
    const manual = optional(
      optional(mm, (q) => isOp('relax.add', [q, { kind: 'const' }])),
      (q) => isOp('relax.nn.relu', [q]),
    );
    expect(p).toEqual(manual);
    expect(parsePattern('exp(*) | relax.nn.relu(*)')).toEqual({
      kind: 'or',
      alts: [isOp('relax.exp', [wildcard()]), isOp('relax.nn.relu', [wildcard()])],
    });
  });

  it('rejects bad patterns with PATTERN_SYNTAX', () => {
    for (const bad of ['matmul(*', 'nosuchop(*)', 'add(*, *) )', '']) {
      try {
        parsePattern(bad);
        expect.unreachable(bad);
      } catch (e) {
        expect(isKilnError(e, 'PATTERN_SYNTAX'), bad).toBe(true);
      }
    }
  });
});

describe('relax.FuseOpsByPattern', () => {
  const pattern = { name: 'dnnl.matmul_bias_relu', pattern: 'relu?(add?(matmul(*, *), *))' };

  it('groups matmul+add+relu (and matmul+add) into Composite functions', () => {
    const mod = mlp();
    const out = FuseOpsByPattern.withOptions({ patterns: [pattern] }).run(mod);
    expect(wellFormed(out)).toEqual([]);
    expect(mainCallees(out)).toEqual([
      'fused_dnnl_matmul_bias_relu',
      'fused_dnnl_matmul_bias_relu1',
      'relax.DataflowVar',
    ]);
    const f = getFunction(out, 'fused_dnnl_matmul_bias_relu1') as unknown as RelaxFunction;
    expect(f.attrs.Composite).toBe('dnnl.matmul_bias_relu');
    expect(f.params.map((p) => p.name)).toEqual(['lv2']);
    const ops = (f.body as SeqExpr).blocks[0].bindings.map(
      (b) => (b.value as { op: { name: string } }).op.name,
    );
    expect(ops).toEqual(['relax.matmul', 'relax.add']);
    const g = getFunction(out, 'fused_dnnl_matmul_bias_relu') as unknown as RelaxFunction;
    expect(g.params.map((p) => p.name)).toEqual(['x']);
    expect(
      (g.body as SeqExpr).blocks[0].bindings.map((b) => (b.value as { op: { name: string } }).op.name),
    ).toEqual(['relax.matmul', 'relax.add', 'relax.nn.relu']);
    // same results once legalized (the composites run as Relax functions on the VM);
    // FuseTIR leaves Composite functions alone
    const inp = [{ data: rand(3 * 16, 7), shape: [3, 16] }];
    const ref = runOnVM(LegalizeOps.run(mod), inp);
    const legal = sequential([LegalizeOps, FuseTIR]).run(out);
    expect(getFunction(legal, 'fused_dnnl_matmul_bias_relu')?.kind).toBe('relax.Function');
    const got = runOnVM(legal, inp);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('does not take an intermediate that is used outside the match', () => {
    const out = fuseOpsByPattern(mlp(true), [pattern]);
    const first = getFunction(out, 'fused_dnnl_matmul_bias_relu') as unknown as RelaxFunction;
    // hb feeds relu and sum: the match rooted at relu would hide it, so the relu is left
    // out and matmul+add form the composite
    const ops = (first.body as SeqExpr).blocks[0].bindings.map(
      (b) => (b.value as { op: { name: string } }).op.name,
    );
    expect(ops).toEqual(['relax.matmul', 'relax.add']);
    expect(mainCallees(out)).toContain('relax.nn.relu');
  });

  it('a check callback can veto matches; no patterns is an error', () => {
    const p = createFuseOpsByPattern([
      { name: 'mm', pattern: 'matmul(*, *)', check: (m) => m.inputs.length === 3 },
    ]);
    const mod = mlp();
    expect(fuseOpsByPattern(mod, [{ name: 'mm', pattern: 'matmul(*, *)', check: () => false }])).toBe(mod);
    expect(p.run(mod).funcs.length).toBe(mod.funcs.length);
    expect(() => FuseOpsByPattern.run(mod)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
