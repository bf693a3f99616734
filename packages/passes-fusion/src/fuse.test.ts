// AnnotateTIROpPattern, FuseOps and FuseTIR: derived patterns, Before/After structure
// (built with the BlockBuilder and compared structurally), well-formedness, and numerical
// equality on the VM with the TIR interpreter before and after each pass.
import type { IRModule, Node, PrimExpr } from '@kiln/ir-core';
import {
  add,
  floatImm,
  getFunction,
  moduleEntries,
  mul,
  primVar,
  sequential,
  structuralEqual,
  sub,
  withFunction,
} from '@kiln/ir-core';
import type { Expr, RelaxFunction, SeqExpr } from '@kiln/relax';
import {
  BlockBuilder,
  constant,
  LegalizeOps,
  op,
  relaxVar,
  wellFormed as relaxWellFormed,
  shapeExpr,
  shapeSInfo,
  tensorSInfo,
  tuple,
  tupleGetItem,
} from '@kiln/relax';
import type { PrimFunc } from '@kiln/tensorir';
import * as te from '@kiln/tensorir';
import { primFunc, wellFormed as tirWellFormed } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern, analyzeOpPattern } from './annotate-tir-op-pattern.js';
import { FuseOps, fuseOps } from './fuse-ops.js';
import { FuseTIR, fuseTIR } from './fuse-tir.js';
import { maxRelErr, rand, runOnVM } from './testing/vm.js';

const prepare = sequential([LegalizeOps, AnnotateTIROpPattern]);

function mainOf(m: IRModule): RelaxFunction {
  return getFunction(m, 'main') as unknown as RelaxFunction;
}
function bindingsOf(f: RelaxFunction) {
  return (f.body as SeqExpr).blocks.flatMap((b) => b.bindings);
}
function kernelPattern(m: IRModule, name: string): unknown {
  return (getFunction(m, name) as unknown as PrimFunc).attrs.op_pattern;
}
/** Names of the functions called from main's bindings (call_tir kernels or Relax functions). */
function calleesOfMain(m: IRModule): string[] {
  return bindingsOf(mainOf(m)).flatMap((b) => {
    const v = b.value;
    if (v.kind === 'relax.Var' || v.kind === 'relax.DataflowVar') return []; // output aliases
    if (v.kind !== 'relax.Call') return [v.kind];
    if (v.op.kind === 'relax.Var') return [v.op.name];
    if (v.op.kind === 'relax.GlobalVar') return [v.op.name];
    const a0 = v.args[0];
    return [a0?.kind === 'relax.GlobalVar' ? a0.name : v.op.kind === 'relax.Op' ? v.op.name : '?'];
  });
}
function expectWellFormed(m: IRModule): void {
  expect(relaxWellFormed(m)).toEqual([]);
  for (const [name, f] of moduleEntries(m)) {
    if (f.kind === 'PrimFunc') expect(tirWellFormed(f as unknown as PrimFunc), name).toEqual([]);
  }
}

function mlp(): IRModule {
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
      return bb.emitOutput(ob);
    }),
  );
  return bb.getModule();
}

describe('relax.AnnotateTIROpPattern', () => {
  it('derives the pattern kinds from the TIR of legalized ops', () => {
    const x = relaxVar('x', tensorSInfo([4, 8], 'float32'));
    const img = relaxVar('img', tensorSInfo([1, 4, 6, 6], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x, img], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x)); // elemwise
        const a = bb.emit(op.add(e, constant(rand(8, 1), [8]))); // broadcast
        const t = bb.emit(op.permuteDims(a, [1, 0])); // injective
        const s = bb.emit(op.sum(t, { axis: 1 })); // comm_reduce
        const m = bb.emit(op.matmul(x, constant(rand(8 * 3, 2), [8, 3]))); // out_elemwise_fusable
        const c = bb.emit(op.conv2d(img, constant(rand(2 * 4 * 3 * 3, 3), [2, 4, 3, 3]), { padding: [1] }));
        const sm = bb.emit(op.softmax(x));
        return bb.emitOutput(
          bb.emit(
            op.add(
              bb.emit(op.sum(m)),
              bb.emit(op.add(bb.emit(op.sum(c)), bb.emit(op.add(bb.emit(op.sum(s)), bb.emit(op.sum(sm)))))),
            ),
          ),
        );
      }),
    );
    const mod = prepare.run(bb.getModule());
    expect(kernelPattern(mod, 'exp')).toBe('elemwise');
    expect(kernelPattern(mod, 'add')).toBe('broadcast');
    expect(kernelPattern(mod, 'transpose')).toBe('injective');
    expect(kernelPattern(mod, 'sum')).toBe('comm_reduce');
    expect(kernelPattern(mod, 'matmul')).toBe('out_elemwise_fusable');
    expect(kernelPattern(mod, 'conv2d')).toBe('out_elemwise_fusable');
    expect(kernelPattern(mod, 'softmax')).toBe('comm_reduce');
  });

  it('is the identity on an annotated module; lowered (block-free) kernels are opaque', () => {
    const mod = prepare.run(mlp());
    expect(AnnotateTIROpPattern.run(mod).funcs).toEqual(mod.funcs);
    const relu = getFunction(mod, 'relu') as unknown as PrimFunc;
    expect(analyzeOpPattern(relu)).toBe('elemwise');
    expect(analyzeOpPattern(te.lowerPrimFunc(relu))).toBe('opaque');
    // a pattern set by hand is kept unless `overwrite`
    const marked = withFunction(
      mod,
      'relu',
      primFunc(relu.params, relu.body, { attrs: { ...relu.attrs, op_pattern: 'opaque' } }) as unknown as Node,
    );
    expect(kernelPattern(AnnotateTIROpPattern.run(marked), 'relu')).toBe('opaque');
    expect(kernelPattern(AnnotateTIROpPattern.withOptions({ overwrite: true }).run(marked), 'relu')).toBe(
      'elemwise',
    );
  });
});

describe('relax.FuseOps', () => {
  it('fuses matmul with its bias/activation epilogue (Before/After)', () => {
    const before = prepare.run(mlp());
    const after = FuseOps.run(before);
    expectWellFormed(after);
    // two groups: matmul+add+relu and matmul+add
    expect(calleesOfMain(after)).toEqual(['fused_matmul_add_relu', 'fused_matmul1_add1']);
    const f1 = getFunction(after, 'fused_matmul_add_relu') as unknown as RelaxFunction;
    expect(f1.attrs.Primitive).toBe(true);
    expect(f1.attrs.global_symbol).toBeUndefined();
    // Expected body: the three call_tir bindings over the params, built by hand.
    const b = bindingsOf(f1);
    const [px, pw, pb] = f1.params;
    const n = (px.structInfo as unknown as { shape: { values: PrimExpr[] } }).shape.values[0];
    const bb = new BlockBuilder(before);
    const want = bb.function(
      'expected',
      [px, pw, pb],
      () =>
        bb.dataflow(() => {
          const lv = bb.emit(
            op.callTIR(bb.globalVarFor('matmul'), [px, pw], tensorSInfo([n, 32], 'float32')),
          );
          const lv1 = bb.emit(op.callTIR(bb.globalVarFor('add'), [lv, pb], tensorSInfo([n, 32], 'float32')));
          return bb.emitOutput(op.callTIR(bb.globalVarFor('relu'), [lv1], tensorSInfo([n, 32], 'float32')));
        }),
      { private: true, attrs: { Primitive: true } },
    );
    expect(b.length).toBe(3);
    const expected = getFunction(bb.getModule(), want.name) as unknown as RelaxFunction;
    const got = { ...f1, body: f1.body } as RelaxFunction;
    expect(structuralEqual(got.body, expected.body, { mapFreeVars: true })).toBe(true);
  });

  it('leaves the module alone when nothing fuses (identity)', () => {
    const x = relaxVar('x', tensorSInfo([4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => bb.dataflow(() => bb.emitOutput(op.exp(x))));
    const mod = prepare.run(bb.getModule());
    expect(fuseOps(mod)).toBe(mod);
  });

  it('fuses a diamond of elementwise ops into one group', () => {
    const x = relaxVar('x', tensorSInfo([3, 5], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const a = bb.emit(op.negative(e));
        const m = bb.emit(op.multiply(e, e));
        return bb.emitOutput(op.add(a, m));
      }),
    );
    const mod = prepare.run(bb.getModule());
    const fused = FuseOps.run(mod);
    expect(calleesOfMain(fused)).toEqual(['fused_exp_negative_multiply_add']);
    const inp = [{ data: rand(15, 5), shape: [3, 5] }];
    const ref = runOnVM(mod, inp);
    const out = runOnVM(fused, inp);
    expect(maxRelErr(out.outputs[0], ref.outputs[0])).toBeLessThan(1e-6);
    const tir = FuseTIR.run(fused);
    expectWellFormed(tir);
    const got = runOnVM(tir, inp);
    expect(got.launches).toBe(1);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('a value that escapes the dataflow block ends its group', () => {
    const x = relaxVar('x', tensorSInfo([8], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => {
      const [mid, out] = bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const mid = bb.emitOutput(op.negative(e)); // used after the block
        const t = bb.emit(op.sqrt(bb.emit(op.abs(mid))));
        return [mid, bb.emitOutput(t)] as const;
      });
      return bb.emit(op.add(mid, out));
    });
    const mod = prepare.run(bb.getModule());
    const fused = FuseOps.run(mod);
    const callees = calleesOfMain(fused);
    expect(callees).toEqual(['fused_exp_negative', 'fused_abs_sqrt', 'add']);
    const inp = [{ data: rand(8, 9), shape: [8] }];
    const ref = runOnVM(mod, inp);
    const tir = FuseTIR.run(fused);
    expectWellFormed(tir);
    const got = runOnVM(tir, inp);
    expect(got.launches).toBe(3);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('a reduction takes its elementwise epilogue; two reductions do not fuse', () => {
    const x = relaxVar('x', tensorSInfo([4, 6], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const s = bb.emit(op.sum(e, { axis: 1 }));
        const d = bb.emit(op.multiply(s, constant([0.5], [])));
        const s2 = bb.emit(op.sum(d));
        return bb.emitOutput(op.sqrt(s2));
      }),
    );
    const mod = prepare.run(bb.getModule());
    const fused = FuseOps.run(mod);
    expect(calleesOfMain(fused)).toEqual(['fused_exp_sum_multiply', 'fused_sum1_sqrt']);
    const inp = [{ data: rand(24, 2), shape: [4, 6] }];
    const ref = runOnVM(mod, inp);
    const tir = FuseTIR.run(fused);
    expectWellFormed(tir);
    const got = runOnVM(tir, inp);
    expect(got.launches).toBe(2);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('fuses in ordinary binding blocks too; a var used later ends its group', () => {
    const x = relaxVar('x', tensorSInfo([6], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => {
      const e = bb.emit(op.exp(x));
      const a = bb.emit(op.negative(e));
      const m = bb.emit(op.sqrt(bb.emit(op.abs(a))));
      const t = bb.emit(op.tanh(m));
      return bb.emit(tuple([t, a]));
    });
    const mod = prepare.run(bb.getModule());
    const fused = FuseOps.run(mod);
    expect((mainOf(fused).body as SeqExpr).blocks[0].kind).toBe('relax.BindingBlock');
    expect(calleesOfMain(fused)).toEqual(['fused_exp_negative', 'fused_abs_sqrt_tanh', 'relax.Tuple']);
    const tir = FuseTIR.run(fused);
    expectWellFormed(tir);
    const inp = [{ data: rand(6, 4), shape: [6] }];
    const ref = runOnVM(mod, inp);
    const got = runOnVM(tir, inp);
    expect(got.launches).toBe(2);
    ref.outputs.forEach((o, i) => expect(maxRelErr(got.outputs[i], o)).toBeLessThan(1e-5));
  });

  it('opaque kernels and non-call_tir bindings stay alone', () => {
    const x = relaxVar('x', tensorSInfo([6], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const t = bb.emit(op.split(e, 2)); // a tuple-valued kernel, then TupleGetItem
        const a = bb.emit(op.negative(bb.emit(tupleGetItem(t, 0))));
        const s = bb.emit(op.sqrt(a));
        return bb.emitOutput(op.abs(s));
      }),
    );
    let mod = prepare.run(bb.getModule());
    // mark sqrt opaque: it must split the abs from the negative
    const sq = getFunction(mod, 'sqrt') as unknown as PrimFunc;
    mod = withFunction(
      mod,
      'sqrt',
      primFunc(sq.params, sq.body, { attrs: { ...sq.attrs, op_pattern: 'opaque' } }) as unknown as Node,
    );
    const fused = fuseOps(mod);
    expect(calleesOfMain(fused)).toEqual(['exp', 'split', 'relax.TupleGetItem', 'negative', 'sqrt', 'abs']);
  });

  it('maxDepth bounds the group size', () => {
    const x = relaxVar('x', tensorSInfo([5], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        let cur: Expr = x;
        for (let i = 0; i < 5; i++) cur = bb.emit(i % 2 ? op.negative(cur) : op.exp(cur));
        return bb.emitOutput(cur);
      }),
    );
    const mod = prepare.run(bb.getModule());
    const all = FuseOps.run(mod);
    expect(calleesOfMain(all).length).toBe(1);
    const two = FuseOps.withOptions({ maxDepth: 2 }).run(mod);
    expect(calleesOfMain(two).length).toBe(3);
    const inp = [{ data: rand(5, 3), shape: [5] }];
    const ref = runOnVM(mod, inp);
    // one kernel called three times inside one group: fresh loop vars and block names
    const one = FuseTIR.run(all);
    expectWellFormed(one);
    const merged = runOnVM(one, inp);
    expect(merged.launches).toBe(1);
    expect(maxRelErr(merged.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
    const got = runOnVM(FuseTIR.run(two), inp);
    expect(got.launches).toBe(3);
    expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-5);
  });

  it('fuses through a reshape whose symbolic dims come from the inputs', () => {
    const n = primVar('n');
    const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const r = bb.emit(op.reshape(e, shapeExpr([mul(n, 4)])));
        return bb.emitOutput(op.negative(r));
      }),
    );
    const mod = prepare.run(bb.getModule());
    const tir = FuseTIR.run(FuseOps.run(mod));
    expectWellFormed(tir);
    expect(calleesOfMain(tir)).toEqual(['fused_exp_reshape_negative']);
    const k = getFunction(tir, 'fused_exp_reshape_negative') as unknown as PrimFunc;
    expect((k.body as unknown as { block: { allocBuffers: unknown[] } }).block.allocBuffers.length).toBe(0);
    for (const rows of [1, 3]) {
      const inp = [{ data: rand(rows * 4, rows), shape: [rows, 4] }];
      const got = runOnVM(tir, inp);
      expect(got.launches).toBe(1);
      expect(maxRelErr(got.outputs[0], runOnVM(mod, inp).outputs[0])).toBeLessThan(1e-5);
    }
  });

  it('does not fuse across a symbolic dim the group inputs do not define', () => {
    const m = primVar('m');
    const n = primVar('n');
    const x = relaxVar('x', tensorSInfo([m], 'float32'));
    const s = relaxVar('s', shapeSInfo([n]));
    const bb = new BlockBuilder();
    bb.function('main', [x, s], () =>
      bb.dataflow(() => {
        const e = bb.emit(op.exp(x));
        const r = bb.emit(op.reshape(e, shapeExpr([n])));
        return bb.emitOutput(op.negative(r));
      }),
    );
    const mod = prepare.run(bb.getModule());
    const fused = fuseOps(mod);
    // The reshape's output dim n is no dim of any input (the kernel gets it as a tir_var),
    // so a fused function could not define it: nothing fuses across the reshape.
    expect(calleesOfMain(fused)).toEqual(['exp', 'reshape', 'negative']);
    expect(fused).toBe(mod);
  });
});

describe('relax.FuseTIR', () => {
  it('merges each group into one PrimFunc and keeps the results (symbolic batch)', () => {
    const mod = prepare.run(mlp());
    const fused = FuseOps.run(mod);
    const tir = FuseTIR.run(fused);
    expectWellFormed(tir);
    expect(calleesOfMain(tir)).toEqual(['fused_matmul_add_relu', 'fused_matmul1_add1']);
    // the Primitive functions and the single kernels are gone
    expect(tir.globals.filter((g) => getFunction(tir, g)?.kind === 'relax.Function')).toEqual(['main']);
    expect(tir.globals).not.toContain('relu');
    const k = getFunction(tir, 'fused_matmul_add_relu') as unknown as PrimFunc;
    expect(k.attrs.op_pattern).toBe('out_elemwise_fusable');
    // matmul result stays a buffer, the bias add is inlined into the relu block
    const root = (k.body as unknown as { block: { allocBuffers: unknown[] } }).block;
    expect(root.allocBuffers.length).toBe(1);
    for (const nb of [1, 4]) {
      const inp = [{ data: rand(nb * 16, 11 + nb), shape: [nb, 16] }];
      const ref = runOnVM(mod, inp);
      const mid = runOnVM(fused, inp);
      const got = runOnVM(tir, inp);
      expect(maxRelErr(mid.outputs[0], ref.outputs[0])).toBeLessThan(1e-6);
      expect(maxRelErr(got.outputs[0], ref.outputs[0])).toBeLessThan(1e-4);
      expect(ref.launches).toBe(5);
      expect(got.launches).toBe(2);
    }
  });

  it('Before/After: a chain of elementwise kernels becomes one block (computeInline)', () => {
    const x = relaxVar('x', tensorSInfo([8], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() =>
        bb.emitOutput(bb.emit(op.negative(bb.emit(op.exp(bb.emit(op.add(x, constant([1], [1])))))))),
      ),
    );
    const before = FuseOps.run(prepare.run(bb.getModule()));
    const after = FuseTIR.run(before);
    expect(after.globals).toEqual(['fused_add_exp_negative', 'main']);
    // Expected: the kernel one would write by hand with te.
    const A = te.placeholder([8], 'float32', 'p_x');
    const C = te.placeholder([1], 'float32', 'p_c1');
    const out = te.compute([8], (i0) => sub(floatImm(0), te.exp(add(A.at(i0), C.at(0)))), 'T_negative');
    const expected = te.createPrimFunc([A, C, out], {
      name: 'fused_add_exp_negative',
      attrs: { op_pattern: 'broadcast' },
    });
    expect(
      structuralEqual(getFunction(after, 'fused_add_exp_negative'), expected, { mapFreeVars: true }),
    ).toBe(true);
    const call = bindingsOf(mainOf(after))[0].value;
    expect(call.kind === 'relax.Call' && call.op.kind === 'relax.Op' && call.op.name).toBe('relax.call_tir');
    expectWellFormed(after);
  });

  it('is the identity without Primitive functions', () => {
    const mod = prepare.run(mlp());
    expect(fuseTIR(mod)).toBe(mod);
  });

  it('without inlining every intermediate becomes an alloc_buffer of the root block', () => {
    const mod = FuseOps.run(prepare.run(mlp()));
    const tir = FuseTIR.withOptions({ inline: false }).run(mod);
    const k = getFunction(tir, 'fused_matmul_add_relu') as unknown as PrimFunc;
    const root = (k.body as unknown as { block: { allocBuffers: unknown[] } }).block;
    expect(root.allocBuffers.length).toBe(2);
    const inp = [{ data: rand(3 * 16, 1), shape: [3, 16] }];
    expect(maxRelErr(runOnVM(tir, inp).outputs[0], runOnVM(mod, inp).outputs[0])).toBeLessThan(1e-5);
  });
});
