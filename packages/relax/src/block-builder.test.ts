import type { Node } from '@kiln/ir-core';
import {
  checkWellFormed,
  createPassContext,
  createRegistry,
  definePlugin,
  isKilnError,
  primVar,
  structuralEqual,
  wellFormedInstrument,
} from '@kiln/ir-core';
import type { NDArray } from '@kiln/tensorir';
import { allClose, ndarray, randomNDArray } from '@kiln/tensorir';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BlockBuilder } from './block-builder.js';
import { evaluateRelax, isNDArray } from './eval.js';
import {
  bindingBlock,
  call,
  constant,
  dataflowBlock,
  dataflowVar,
  ifExpr,
  relaxFunction,
  relaxVar,
  seqExpr,
  varBinding,
  withStructInfo,
} from './ir/expr.js';
import type { Expr, RelaxFunction } from './ir/nodes.js';
import { primSInfo, shapeSInfo, sinfoToString, tensorSInfo } from './ir/struct-info.js';
import { createOpRegistry } from './op/builtin.js';
import * as op from './op/index.js';
import { defineOp } from './op/registry.js';
import { at, fromFn, rand } from './testing/harness.js';
import { createLegalizeOps, LegalizeOps, legalizeModule } from './transform/legalize-ops.js';
import { wellFormed } from './well-formed.js';

const n = primVar('n');
const fn = (mod: ReturnType<BlockBuilder['getModule']>, name = 'main') =>
  mod.funcs[mod.globals.indexOf(name)] as RelaxFunction;
const tensorResult = (v: ReturnType<typeof evaluateRelax>): NDArray => {
  if (!isNDArray(v)) throw new Error('not a tensor');
  return v;
};

/** A 2-layer MLP over a symbolic batch: relu(x W1ᵀ + b1) W2ᵀ + b2, then softmax. */
function buildMLP(w1: NDArray, b1: NDArray, w2: NDArray, b2: NDArray) {
  const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
  const bb = new BlockBuilder();
  const c = (a: NDArray) => constant(a.data as Float32Array, a.shape, 'float32');
  bb.function('main', [x], () => {
    const out = bb.dataflow(() => {
      const h = bb.emit(op.linear(x, c(w1), c(b1)), 'h');
      const r = bb.emit(op.relu(h), 'r');
      const o = bb.emit(op.linear(r, c(w2), c(b2)), 'o');
      return bb.emitOutput(op.softmax(o), 'probs');
    });
    bb.emitFuncOutput(out);
  });
  return bb.getModule();
}

describe('BlockBuilder', () => {
  it('builds, legalizes and runs a small MLP over a symbolic batch', () => {
    const w1 = randomNDArray('float32', [8, 4], 1);
    const b1 = randomNDArray('float32', [8], 2);
    const w2 = randomNDArray('float32', [3, 8], 3);
    const b2 = randomNDArray('float32', [3], 4);
    const mod = buildMLP(w1, b1, w2, b2);
    expect(wellFormed(mod)).toEqual([]);
    const main = fn(mod);
    expect(sinfoToString(main.retStructInfo)).toBe('R.Tensor((n, 3), "float32")');
    expect(main.body.kind).toBe('relax.SeqExpr');
    const legal = legalizeModule(mod);
    expect(wellFormed(legal)).toEqual([]);
    expect(legal.globals).toEqual(expect.arrayContaining(['main', 'linear', 'relu', 'softmax']));
    for (const batch of [1, 5]) {
      const x = randomNDArray('float32', [batch, 4], 10 + batch);
      const ref = fromFn('float32', [batch, 3], ([i, j]) => {
        const hid = Array.from({ length: 8 }, (_, k) =>
          Math.max(0, at(b1, [k]) + [0, 1, 2, 3].reduce((s, t) => s + at(x, [i, t]) * at(w1, [k, t]), 0)),
        );
        const logits = [0, 1, 2].map(
          (o) => at(b2, [o]) + hid.reduce((s, hv, k) => s + hv * at(w2, [o, k]), 0),
        );
        const mx = Math.max(...logits);
        const e = logits.map((l) => Math.exp(l - mx));
        return e[j] / e.reduce((a, b) => a + b, 0);
      });
      const got = tensorResult(evaluateRelax(legal, 'main', [x]));
      const rep = allClose(got, ref, 1e-4, 1e-5);
      expect(rep.ok, rep.message).toBe(true);
    }
  });

  it('builds, legalizes and runs a small CNN', () => {
    const x = relaxVar('x', tensorSInfo([n, 1, 8, 8], 'float32'));
    const w = randomNDArray('float32', [4, 1, 3, 3], 5);
    const wc = constant(w.data as Float32Array, w.shape, 'float32');
    const fcW = randomNDArray('float32', [2, 16], 6);
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const c1 = bb.emit(op.conv2d(x, wc, { padding: [1] }));
        const r = bb.emit(op.relu(c1));
        const p = bb.emit(op.maxPool2d(r, [2, 2], { strides: [2] }));
        const g = bb.emit(op.adaptiveAvgPool2d(p, [2, 2]));
        const f = bb.emit(op.flatten(g, 1));
        return bb.emitOutput(
          op.matmul(f, op.permuteDims(constant(fcW.data as Float32Array, fcW.shape, 'float32'))),
        );
      }),
    );
    const mod = bb.getModule();
    expect(wellFormed(mod)).toEqual([]);
    expect(sinfoToString(fn(mod).retStructInfo)).toBe('R.Tensor((n, 2), "float32")');
    const legal = LegalizeOps.run(mod);
    expect(wellFormed(legal)).toEqual([]);
    const xin = rand('float32', [2, 1, 8, 8], 7);
    // reference
    const conv = fromFn('float32', [2, 4, 8, 8], ([b, o, i, j]) => {
      let s = 0;
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++) {
          const y = i + ky - 1;
          const z = j + kx - 1;
          if (y >= 0 && y < 8 && z >= 0 && z < 8) s += at(xin, [b, 0, y, z]) * at(w, [o, 0, ky, kx]);
        }
      return Math.max(s, 0);
    });
    const pool = fromFn('float32', [2, 4, 4, 4], ([b, c, i, j]) =>
      Math.max(
        at(conv, [b, c, 2 * i, 2 * j]),
        at(conv, [b, c, 2 * i + 1, 2 * j]),
        at(conv, [b, c, 2 * i, 2 * j + 1]),
        at(conv, [b, c, 2 * i + 1, 2 * j + 1]),
      ),
    );
    const gap = fromFn('float32', [2, 4, 2, 2], ([b, c, i, j]) => {
      let s = 0;
      for (let y = 0; y < 2; y++) for (let z = 0; z < 2; z++) s += at(pool, [b, c, 2 * i + y, 2 * j + z]);
      return s / 4;
    });
    const ref = fromFn('float32', [2, 2], ([b, o]) => {
      let s = 0;
      for (let k = 0; k < 16; k++) s += (gap.data[b * 16 + k] as number) * at(fcW, [o, k]);
      return s;
    });
    const got = tensorResult(evaluateRelax(legal, 'main', [xin]));
    const rep = allClose(got, ref, 1e-4, 1e-5);
    expect(rep.ok, rep.message).toBe(true);
  });

  it('binds nested calls to fresh variables (A-normal form)', () => {
    const x = relaxVar('x', tensorSInfo([2, 3], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => bb.emit(op.exp(op.add(x, op.negative(x)))));
    const body = fn(bb.getModule()).body;
    expect(body.kind === 'relax.SeqExpr' && body.blocks[0].bindings.length).toBe(3);
    expect(wellFormed(bb.getModule())).toEqual([]);
  });

  it('matchCast defines new symbolic variables', () => {
    const x = relaxVar('x', tensorSInfo(undefined, 'float32', { ndim: 2 }));
    const m = primVar('m');
    const k = primVar('k');
    const bb = new BlockBuilder();
    bb.function('main', [x], () => {
      const y = bb.matchCast(x, tensorSInfo([m, k], 'float32'));
      const z = bb.emit(op.reshape(y, [k, m]));
      expect(sinfoToString(z.structInfo)).toBe('R.Tensor((k, m), "float32")');
      return z;
    });
    const main = fn(bb.getModule());
    // m and k are defined inside the body: the return StructInfo is erased to the rank.
    expect(sinfoToString(main.retStructInfo)).toBe('R.Tensor("float32", ndim=2)');
    expect(wellFormed(bb.getModule())).toEqual([]);
    const bad = new BlockBuilder();
    expect(() => bad.function('f', [x], () => bad.matchCast(x, tensorSInfo([m], 'float32')))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
  });

  it('calls of module functions substitute symbolic shapes', () => {
    const bb = new BlockBuilder();
    const a = relaxVar('a', tensorSInfo([n, 4], 'float32'));
    const double = bb.function('double', [a], () => bb.emit(op.concat([a, a], 0)));
    expect(sinfoToString(fn(bb.getModule(), 'double').retStructInfo)).toBe('R.Tensor((n * 2, 4), "float32")');
    const m = primVar('m');
    const x = relaxVar('x', tensorSInfo([m, 4], 'float32'));
    bb.function('main', [x], () => {
      const y = bb.emit(call(double, [x]));
      expect(sinfoToString(y.structInfo)).toBe('R.Tensor((m * 2, 4), "float32")');
      return y;
    });
    expect(wellFormed(bb.getModule())).toEqual([]);
    const bad = relaxVar('bad', tensorSInfo([m, 5], 'float32'));
    expect(() => bb.function('g', [bad], () => bb.emit(call(double, [bad])))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    const legal = legalizeModule(bb.getModule());
    const out = tensorResult(evaluateRelax(legal, 'main', [rand('float32', [3, 4], 1)]));
    expect(out.shape).toEqual([6, 4]);
  });

  it('normalizes If: branches become scopes, result is the LCA', () => {
    const c = relaxVar('c', tensorSInfo([], 'bool'));
    const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [c, x], () => bb.emit(ifExpr(c, op.exp(x), op.reshape(x, [4, n]))));
    const main = fn(bb.getModule());
    expect(sinfoToString(main.retStructInfo)).toBe('R.Tensor("float32", ndim=2)');
    expect(wellFormed(bb.getModule())).toEqual([]);
    const legal = legalizeModule(bb.getModule());
    const xv = rand('float32', [2, 4], 3);
    expect(tensorResult(evaluateRelax(legal, 'main', [ndarray('bool', [], [1]), xv])).shape).toEqual([2, 4]);
    expect(tensorResult(evaluateRelax(legal, 'main', [ndarray('bool', [], [0]), xv])).shape).toEqual([4, 2]);
  });

  it('rejects misuse', () => {
    const x = relaxVar('x', tensorSInfo([2], 'float32'));
    const bb = new BlockBuilder();
    expect(() => bb.emit(op.exp(x))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => bb.function('f', [x], () => bb.dataflow(() => bb.emitFuncOutput(x)))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => bb.function('f', [x], () => undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => bb.function('f', [x], () => bb.emit(call('relax.nope', [x])))).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_NAME' }),
    );
  });

  it('deduplicates identical kernels', () => {
    const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () =>
      bb.dataflow(() => {
        const a = bb.emit(op.exp(x));
        const b = bb.emit(op.exp(a));
        return bb.emitOutput(op.exp(b));
      }),
    );
    const legal = legalizeModule(bb.getModule());
    expect(legal.globals).toEqual(['exp', 'main']);
  });
});

describe('operator registry and plugins', () => {
  const scaleAttrs = z.object({ factor: z.number() });
  const scaleOp = defineOp<z.output<typeof scaleAttrs>>({
    name: 'myplugin.scale',
    attrs: scaleAttrs,
    numArgs: 1,
    pattern: 'elemwise',
    inferStructInfo(_c, ctx) {
      return ctx.tensor(0).sinfo;
    },
    legalize(c, bb, ctx) {
      return bb.normalize(op.multiply(c.args[0], constant([ctx.attrs.factor], [], 'float32')));
    },
  });

  it('lists built-in ops and accepts plugin ops through the ir-core plugin registry', () => {
    const ops = createOpRegistry().listOps();
    expect(ops).toEqual(
      expect.arrayContaining([
        'relax.add',
        'relax.matmul',
        'relax.nn.conv2d',
        'relax.call_tir',
        'relax.nn.attention',
      ]),
    );
    expect(ops.length).toBeGreaterThan(120);
    const reg = createRegistry();
    reg.use(definePlugin({ name: 'myplugin', version: '1.0.0', ops: [scaleOp] }));
    const registry = createOpRegistry(reg);
    expect(registry.has('myplugin.scale')).toBe(true);
    expect(createOpRegistry().has('myplugin.scale')).toBe(false);

    const x = relaxVar('x', tensorSInfo([n, 2], 'float32'));
    const bb = new BlockBuilder(undefined, { ops: registry });
    bb.function('main', [x], () => bb.emit(call('myplugin.scale', [x], { attrs: { factor: 3 } })));
    expect(() =>
      bb.function('bad', [x], () => bb.emit(call('myplugin.scale', [x], { attrs: { factor: 'x' } }))),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // the plugin op legalizes into a built-in op, which legalizes in the next round
    const legal = createLegalizeOps(registry).run(bb.getModule());
    const xv = rand('float32', [3, 2], 4);
    const out = tensorResult(evaluateRelax(legal, 'main', [xv]));
    expect(
      allClose(
        out,
        Array.from(xv.data as Float32Array, (v) => v * 3),
      ).ok,
    ).toBe(true);
    expect(() => createOpRegistry().register(scaleOp).register(scaleOp)).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_NAME' }),
    );
  });

  it('LegalizeOps is a pass: options, skipOps, well-formed instrument', () => {
    const x = relaxVar('x', tensorSInfo([4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => bb.emit(op.exp(op.sqrt(x))));
    const mod = bb.getModule();
    const ctx = createPassContext({ instruments: [wellFormedInstrument()] });
    const skipped = LegalizeOps.withOptions({ skipOps: ['relax.exp'] }).run(mod, ctx);
    expect(skipped.globals).toEqual(['main', 'sqrt']);
    expect(checkWellFormed(skipped)).toEqual([]);
    expect(LegalizeOps.toString()).toBe('relax.LegalizeOps');
    expect(() => LegalizeOps.withOptions({ nope: 1 } as never)).toThrow();
  });
});

describe('well-formedness', () => {
  const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));

  it('accepts built functions and flags bad ones', () => {
    const lv = dataflowVar('lv', tensorSInfo([n, 4], 'float32'));
    const gv = relaxVar('gv', tensorSInfo([n, 4], 'float32'));
    const e = withStructInfo(op.exp(x), tensorSInfo([n, 4], 'float32'));
    // A DataflowVar used after its block.
    const leak = relaxFunction(
      [x],
      withStructInfo(seqExpr([dataflowBlock([varBinding(lv, e)])], lv), lv.structInfo),
      lv.structInfo,
    );
    expect(wellFormed(leak).join('\n')).toContain("'lv' is used outside its scope");
    // A DataflowVar bound outside a dataflow block.
    const outside = relaxFunction(
      [x],
      withStructInfo(seqExpr([bindingBlock([varBinding(lv, e)])], x), x.structInfo),
      x.structInfo,
    );
    expect(wellFormed(outside).join('\n')).toContain('bound outside a dataflow block');
    // Use before definition, undefined symbolic var, unnormalized call, nested call.
    const m = primVar('m');
    const y = relaxVar('y', tensorSInfo([m], 'float32'));
    const bad = relaxFunction(
      [x],
      withStructInfo(seqExpr([bindingBlock([varBinding(gv, op.exp(op.exp(y)))])], gv), gv.structInfo),
      gv.structInfo,
    );
    const probs = wellFormed(bad).join('\n');
    expect(probs).toContain("'y' is used before it is defined");
    expect(probs).toContain('no StructInfo');
    expect(probs).toContain('not in A-normal form');
    // A symbolic variable nobody defines.
    const z = relaxVar('z', tensorSInfo([m, 4], 'float32'));
    const undef = relaxFunction(
      [x],
      withStructInfo(seqExpr([bindingBlock([varBinding(z, e)])], x), x.structInfo),
      x.structInfo,
    );
    expect(wellFormed(undef).join('\n')).toContain(
      "symbolic variable 'm' used in the StructInfo of 'z' is not defined",
    );
    // A binding whose var claims a shape the value does not have.
    const wrong = relaxVar('w', tensorSInfo([n, 5], 'float32'));
    const mis = relaxFunction(
      [x],
      withStructInfo(seqExpr([bindingBlock([varBinding(wrong, e)])], wrong), wrong.structInfo),
      wrong.structInfo,
    );
    expect(wellFormed(mis).join('\n')).toContain('not a base of');
  });

  it('checks module references and runs through the ir-core checker table', () => {
    const bb = new BlockBuilder();
    bb.function('main', [x], () => bb.emit(op.exp(x)));
    const legal = legalizeModule(bb.getModule());
    expect(checkWellFormed(legal)).toEqual([]);
    const { withoutFunction } = require_ir_core();
    const broken = withoutFunction(legal, 'exp');
    expect(wellFormed(broken).join('\n')).toContain("unknown global function 'exp'");
  });
});

// ir-core helpers used above without widening the import list at the top.
import * as IRCore from '@kiln/ir-core';

function require_ir_core() {
  return IRCore;
}

export type { Expr, Node };
export { isKilnError, primSInfo, shapeSInfo, structuralEqual };

describe('errors carry the call location', () => {
  it('a shape error of a call with a span reports that span', () => {
    const a = relaxVar('a', tensorSInfo([2], 'float32'));
    const b = relaxVar('b', tensorSInfo([3], 'float32'));
    const bb = new BlockBuilder();
    const c = call('relax.add', [a, b], { span: { source: 'model.onnx', line: 3, column: 7 } });
    try {
      bb.function('f', [a, b], () => bb.emit(c));
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'SHAPE_MISMATCH')).toBe(true);
      expect((e as IRCore.KilnError).span?.line).toBe(3);
      expect((e as IRCore.KilnError).format()).toContain('model.onnx:3:7');
    }
  });
});

describe('call_tir', () => {
  it('checks the kernel signature against the call', () => {
    const x = relaxVar('x', tensorSInfo([4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => bb.emit(op.exp(x)));
    const legal = legalizeModule(bb.getModule());
    const bb2 = new BlockBuilder(legal);
    const gv = bb2.globalVarFor('exp');
    expect(() =>
      bb2.function('g', [x], () => bb2.emit(op.callTIR(gv, [x, x], tensorSInfo([4], 'float32')))),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() =>
      bb2.function('h', [x], () => bb2.emit(op.callTIR(gv, [x], tensorSInfo([4], 'float32')))),
    ).not.toThrow();
    expect(() =>
      bb2.function('k', [x], () =>
        bb2.emit(op.callTIR(bb2.globalVarFor('main'), [x], tensorSInfo([4], 'float32'))),
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('function names', () => {
  it('a second function of the same name is DUPLICATE_NAME', () => {
    const x = relaxVar('x', tensorSInfo([4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => x);
    expect(() => bb.function('main', [x], () => x)).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_NAME' }),
    );
  });
});

describe('custom te kernels and binding lookup', () => {
  it('callTE builds a kernel from te stages; lookupBinding finds bound values', async () => {
    const { callTE } = await import('./legalize/te-call.js');
    const T = await import('@kiln/tensorir');
    const x = relaxVar('x', tensorSInfo([n, 3], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x], () => {
      const y = bb.emit(
        callTE(bb, 'twice_plus_one', [x], (a) =>
          T.compute(a.shape, (i, j) => IRCore.add(IRCore.mul(a.at(i, j), 2), 1), 'T_f'),
        ),
      );
      expect(sinfoToString(y.structInfo)).toBe('R.Tensor((n, 3), "float32")');
      expect(bb.lookupBinding(y)?.kind).toBe('relax.Call');
      return y;
    });
    const mod = bb.getModule();
    expect(mod.globals).toEqual(['main', 'twice_plus_one']);
    const xv = rand('float32', [2, 3], 5);
    const out = tensorResult(evaluateRelax(mod, 'main', [xv]));
    expect(
      allClose(
        out,
        Array.from(xv.data as Float32Array, (v) => 2 * v + 1),
      ).ok,
    ).toBe(true);
  });
});

describe('evaluator', () => {
  it('reads float16 constants (stored as bit patterns) as values', () => {
    const c = constant(new Uint16Array([0x3c00, 0xc000]), [2], 'float16'); // 1.0, -2.0
    const bb = new BlockBuilder();
    bb.function('main', [], () => bb.emit(op.astype(c, 'float32')));
    const out = tensorResult(evaluateRelax(legalizeModule(bb.getModule()), 'main', []));
    expect(Array.from(out.data as Float32Array)).toEqual([1, -2]);
  });
});
