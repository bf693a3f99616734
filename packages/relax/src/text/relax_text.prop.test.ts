// Property test: random small Relax functions (symbolic-shape params, dataflow and
// binding blocks, op calls with attributes, call_tir, tuples, tuple items, constants of
// every dtype, shapes, prim values, match_cast, If, nested SeqExprs, StructInfo
// annotations that differ from the derived ones) print, parse back structurally equal
// and print identically. fast-check picks the shape of the function; the leaves are
// chosen from what is in scope at each point.
import type { Attrs, PrimExpr } from '@kiln/ir-core';
import { add, irModule, mul, parseModule, primVar, printModule, structuralEqual } from '@kiln/ir-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bindingBlock,
  call,
  constant,
  dataflowBlock,
  dataflowVar,
  globalVar,
  ifExpr,
  matchCast,
  primValue,
  relaxFunction,
  relaxStringImm,
  relaxVar,
  seqExpr,
  shapeExpr,
  tuple,
  tupleGetItem,
  varBinding,
  withStructInfo,
} from '../ir/expr.js';
import type { AnyVar, Binding, Block, Expr, StructInfo, Var } from '../ir/nodes.js';
import { objectSInfo, primSInfo, shapeSInfo, tensorSInfo, tupleSInfo } from '../ir/struct-info.js';
import { halfBits } from './data.js';
import './index.js';

const n = primVar('n');
const m = primVar('m');
// A module function the random calls refer to (its GlobalVar carries its signature).
const kx = relaxVar('kx', tensorSInfo([n], 'float32'));
const kernel = relaxFunction([kx], seqExpr([], kx), tensorSInfo([n], 'float32'));
const DTYPES = ['float32', 'float16', 'int64', 'int32', 'bool', 'uint8', 'float64', 'bfloat16'] as const;
const OPS = [
  'relax.add',
  'relax.nn.relu',
  'relax.sum',
  'relax.matmul',
  'relax.permute_dims',
  'myplugin.op',
] as const;

/** A deterministic picker driven by the numbers fast-check generated. */
class Pick {
  private i = 0;
  constructor(private readonly xs: readonly number[]) {}
  int(k: number): number {
    const v = this.xs[this.i % this.xs.length] ?? 0;
    this.i++;
    return Math.abs(v) % Math.max(1, k);
  }
  of<T>(arr: readonly T[]): T {
    return arr[this.int(arr.length)];
  }
}

function dim(p: Pick): PrimExpr | number {
  switch (p.int(5)) {
    case 0:
      return n;
    case 1:
      return m;
    case 2:
      return add(mul(n, 2), 1);
    default:
      return 1 + p.int(4);
  }
}

function sinfo(p: Pick, depth = 0): StructInfo {
  switch (p.int(depth > 1 ? 5 : 7)) {
    case 0:
      return objectSInfo();
    case 1:
      return p.int(2) === 0 ? primSInfo(p.of(DTYPES)) : primSInfo('int64', n);
    case 2:
      return p.int(2) === 0 ? shapeSInfo(p.int(3)) : shapeSInfo([dim(p), dim(p)]);
    case 3:
      return tensorSInfo(undefined, p.int(2) === 0 ? undefined : p.of(DTYPES), { ndim: p.int(4) - 1 });
    case 4:
      return tensorSInfo(
        Array.from({ length: p.int(3) }, () => dim(p)),
        p.of(DTYPES),
      );
    default:
      return tupleSInfo(Array.from({ length: p.int(3) }, () => sinfo(p, depth + 1)));
  }
}

function randomConstant(p: Pick): Expr {
  const dt = p.of(DTYPES);
  const shape = Array.from({ length: p.int(3) }, () => p.int(3) + (p.int(4) === 0 ? 0 : 1));
  const size = shape.reduce((a, b) => a * b, 1) * (p.int(6) === 0 ? 20 : 1);
  const big = size > 32 ? [size] : shape;
  const count = big.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: count }, () => (p.int(7) - 3) * (dt.startsWith('float') ? 0.37 : 1));
  if (dt === 'float16') return constant(new Uint16Array(vals.map(halfBits)), big, dt);
  if (dt === 'bfloat16') return constant(new Uint16Array(vals.map(() => 0x3f80 + p.int(100))), big, dt);
  if (dt === 'bool' || dt === 'uint8')
    return constant(
      vals.map((v) => Math.abs(v) % 2),
      big,
      dt,
    );
  return constant(vals, big, dt);
}

interface Scope {
  readonly vars: AnyVar[];
}

function leaf(p: Pick, s: Scope): Expr {
  switch (p.int(6)) {
    case 0:
      return randomConstant(p);
    case 1:
      return shapeExpr([dim(p), dim(p)]);
    case 2:
      return primValue(p.int(2) === 0 ? n : add(n, 3));
    case 3:
      return relaxStringImm(`s${p.int(9)}`);
    default:
      return s.vars.length > 0 ? p.of(s.vars) : randomConstant(p);
  }
}

function value(p: Pick, s: Scope, depth: number): Expr {
  switch (p.int(depth > 1 ? 5 : 7)) {
    case 0:
    case 1: {
      const args = Array.from({ length: 1 + p.int(2) }, () => leaf(p, s));
      const attrs: Attrs =
        p.int(2) === 0 ? {} : { axis: [p.int(3)], keepdims: p.int(2) === 0, name: 'x', scale: 0.5 };
      const c = call(p.of(OPS), args, { attrs });
      return p.int(4) === 0 ? c : withStructInfo(c, sinfo(p));
    }
    case 2:
      return withStructInfo(
        call(
          'relax.call_tir',
          [globalVar('kernel', kernel.structInfo), tuple([leaf(p, s)]), shapeExpr([n])],
          { sinfoArgs: [tensorSInfo([n], 'float32')] },
        ),
        tensorSInfo([n], 'float32'),
      );
    case 3:
      return tuple(Array.from({ length: p.int(3) }, () => leaf(p, s)));
    case 4: {
      const t = tuple([leaf(p, s), leaf(p, s)]);
      const g = tupleGetItem(t, p.int(2));
      return p.int(2) === 0 ? g : withStructInfo(g, t.fields[0].structInfo ?? objectSInfo());
    }
    case 5: {
      const inner = body(p, { vars: [...s.vars] }, depth + 1);
      const other = p.int(2) === 0 ? leaf(p, s) : body(p, { vars: [...s.vars] }, depth + 1);
      const e = ifExpr(leaf(p, s), inner, other);
      return p.int(3) === 0 ? e : withStructInfo(e, inner.structInfo ?? objectSInfo());
    }
    default:
      return body(p, { vars: [...s.vars] }, depth + 1);
  }
}

function body(p: Pick, s: Scope, depth: number): Expr {
  const blocks: Block[] = [];
  for (let b = 0; b < p.int(3) + (depth === 0 ? 1 : 0); b++) {
    const df = p.int(2) === 0;
    const bindings: Binding[] = [];
    for (let i = 0; i < p.int(4); i++) {
      const v = value(p, s, depth);
      const kindFlip = p.int(5) === 0;
      const asDf = df !== kindFlip;
      const name = `v${s.vars.length}`;
      if (p.int(6) === 0) {
        const target = sinfo(p);
        const x = asDf ? dataflowVar(name, target) : relaxVar(name, target);
        const src = s.vars.length > 0 ? p.of(s.vars) : leaf(p, s);
        bindings.push(matchCast(x, src, target));
        s.vars.push(x);
        continue;
      }
      const vs = v.structInfo !== undefined && p.int(3) !== 0 ? v.structInfo : sinfo(p);
      const x = asDf ? dataflowVar(name, vs) : relaxVar(name, vs);
      bindings.push(varBinding(x, v));
      s.vars.push(x);
    }
    blocks.push(df ? dataflowBlock(bindings) : bindingBlock(bindings));
  }
  const out = s.vars.length > 0 && p.int(3) !== 0 ? p.of(s.vars) : leaf(p, s);
  const seq = seqExpr(blocks, out);
  return p.int(4) === 0 ? withStructInfo(seq, objectSInfo()) : seq;
}

function randomFunction(xs: readonly number[]) {
  const p = new Pick(xs);
  const params: Var[] = Array.from({ length: p.int(3) }, (_, i) => relaxVar(`p${i}`, sinfo(p)));
  const b = body(p, { vars: [...params] }, 0);
  const ret = p.int(3) === 0 ? objectSInfo() : (b.structInfo ?? objectSInfo());
  return relaxFunction(params, b, ret, {
    isPure: p.int(4) !== 0,
    attrs: p.int(2) === 0 ? {} : { global_symbol: 'main' },
  });
}

describe('Relax text: random functions', () => {
  it('print → parse → structurally equal, and print is stable', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 8, maxLength: 200 }), (xs) => {
        const fn = randomFunction(xs);
        const mod = irModule({ main: fn, kernel });
        const text = printModule(mod);
        const back = parseModule(text);
        expect(printModule(back)).toBe(text);
        expect(structuralEqual(back.funcs[1], fn, { mapFreeVars: true })).toBe(true);
      }),
      { numRuns: 300, seed: 4242 },
    );
  });
});
