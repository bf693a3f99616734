import type { Node } from '@kiln/ir-core';
import { isKilnError, nodeKindInfo, primVar, structuralEqual, structuralHash } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import {
  bindingBlock,
  call,
  constant,
  dataflowVar,
  primValue,
  relaxFunction,
  relaxVar,
  seqExpr,
  shapeExpr,
  tuple,
  varBinding,
  withStructInfo,
} from './expr.js';
import type { RelaxKind } from './nodes.js';
import {
  broadcastShapes,
  eraseToWellDefined,
  funcSInfo,
  isBaseOf,
  mayBeBaseOf,
  objectSInfo,
  opaqueFuncSInfo,
  primSInfo,
  shapeSInfo,
  shapeValues,
  sinfoToString,
  staticShape,
  structInfoLCA,
  tensorShape,
  tensorSInfo,
  tupleSInfo,
} from './struct-info.js';

const n = primVar('n');
const m = primVar('m');
const f32 = (s?: readonly (number | typeof n)[], ndim?: number) => tensorSInfo(s, 'float32', { ndim });

describe('StructInfo', () => {
  it('prints compactly', () => {
    expect(sinfoToString(f32([n, 768]))).toBe('R.Tensor((n, 768), "float32")');
    expect(sinfoToString(tensorSInfo(undefined, undefined, { ndim: 2 }))).toBe('R.Tensor(ndim=2)');
    expect(sinfoToString(tupleSInfo([f32([1]), shapeSInfo([n, 2]), primSInfo('int64'), objectSInfo()]))).toBe(
      'R.Tuple(R.Tensor((1,), "float32"), R.Shape([n, 2]), R.Prim("int64"), R.Object)',
    );
    expect(sinfoToString(funcSInfo([f32([n])], f32([n])))).toBe(
      'R.Callable((R.Tensor((n,), "float32")), R.Tensor((n,), "float32"))',
    );
    const sv = relaxVar('s', shapeSInfo(2));
    expect(sinfoToString(tensorSInfo(sv, 'float32'))).toBe('R.Tensor(s, "float32")');
  });
  it('accessors', () => {
    expect(tensorShape(f32([n, 2]))).toHaveLength(2);
    expect(tensorShape(f32(undefined, 2))).toBeUndefined();
    expect(staticShape(f32([3, 2]))).toEqual([3, 2]);
    expect(staticShape(f32([n, 2]))).toBeUndefined();
    expect(shapeValues(shapeSInfo(3))).toBeUndefined();
    expect(shapeValues(shapeSInfo([]))).toEqual([]);
    const sv = relaxVar('s', shapeSInfo([n, 4]));
    expect(tensorShape(tensorSInfo(sv, 'float32'))).toEqual([n, expect.objectContaining({ value: 4 })]);
    expect(() => tensorSInfo([n, 4], 'float32', { ndim: 3 })).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
  });
  it('isBaseOf', () => {
    expect(isBaseOf(objectSInfo(), f32([n]))).toBe(true);
    expect(isBaseOf(f32(undefined, 2), f32([n, 4]))).toBe(true);
    expect(isBaseOf(tensorSInfo(undefined, undefined, { ndim: -1 }), f32([n, 4]))).toBe(true);
    expect(isBaseOf(f32([n, 4]), f32(undefined, 2))).toBe(false);
    expect(isBaseOf(f32([n, 4]), f32([n, 4]))).toBe(true);
    expect(isBaseOf(f32([n, 4]), f32([m, 4]))).toBe(false);
    // provable equality through the simplifier
    expect(isBaseOf(f32([n]), tensorSInfo([P.add(P.mul(n, 2), P.sub(0, n))], 'float32'))).toBe(true);
    expect(isBaseOf(f32([2]), tensorSInfo([2], 'float16'))).toBe(false);
    expect(isBaseOf(tupleSInfo([f32(undefined, 1)]), tupleSInfo([f32([3])]))).toBe(true);
    expect(isBaseOf(shapeSInfo(2), shapeSInfo([n, 3]))).toBe(true);
    expect(isBaseOf(primSInfo('int64', n), primSInfo('int64'))).toBe(false);
    expect(
      isBaseOf(opaqueFuncSInfo(f32(undefined, 1), { pure: false }), funcSInfo([f32([n])], f32([n]))),
    ).toBe(true);
    // contravariant params
    expect(isBaseOf(funcSInfo([f32([3])], f32(undefined, 1)), funcSInfo([f32(undefined, 1)], f32([3])))).toBe(
      true,
    );
    expect(isBaseOf(funcSInfo([f32(undefined, 1)], f32(undefined, 1)), funcSInfo([f32([3])], f32([3])))).toBe(
      false,
    );
  });
  it('mayBeBaseOf (static feasibility of match_cast)', () => {
    expect(mayBeBaseOf(f32([n, 4]), f32(undefined, 2))).toBe(true);
    expect(mayBeBaseOf(f32([n, 4]), f32([3, 5]))).toBe(false);
    expect(mayBeBaseOf(f32([n]), f32([3, 5]))).toBe(false);
    expect(mayBeBaseOf(tensorSInfo([2], 'int32'), f32([2]))).toBe(false);
  });
  it('LCA', () => {
    expect(sinfoToString(structInfoLCA(f32([n, 4]), f32([m, 4])))).toBe('R.Tensor("float32", ndim=2)');
    expect(sinfoToString(structInfoLCA(f32([n, 4]), tensorSInfo([n], 'int32')))).toBe('R.Tensor()');
    expect(sinfoToString(structInfoLCA(f32([n]), shapeSInfo(1)))).toBe('R.Object');
    expect(
      sinfoToString(structInfoLCA(tupleSInfo([f32([1]), f32([2])]), tupleSInfo([f32([1]), f32([3])]))),
    ).toBe('R.Tuple(R.Tensor((1,), "float32"), R.Tensor("float32", ndim=1))');
  });
  it('erases what goes out of scope', () => {
    const s = tupleSInfo([f32([n, m]), primSInfo('int64', m), shapeSInfo([n])]);
    const e = eraseToWellDefined(s, (v) => v === n);
    expect(sinfoToString(e)).toBe('R.Tuple(R.Tensor("float32", ndim=2), R.Prim("int64"), R.Shape([n]))');
    const t = f32([n]);
    expect(eraseToWellDefined(t, () => true)).toBe(t);
  });
  it('broadcasts symbolic shapes', () => {
    const d = (xs: readonly (number | typeof n)[]) => tensorShape(f32(xs))!;
    expect(broadcastShapes('t', [d([n, 1]), d([3])])!.map((x) => sinfoToString(tensorSInfo([x])))).toEqual([
      'R.Tensor((n,))',
      'R.Tensor((3,))',
    ]);
    expect(broadcastShapes('t', [d([n]), d([m])])).toBeUndefined();
    try {
      broadcastShapes('relax.add', [d([2, 3]), d([4, 3])]);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'SHAPE_MISMATCH')).toBe(true);
      expect((e as Error).message).toContain('relax.add');
    }
  });
});

describe('Relax nodes', () => {
  it('structural equality is alpha-equivalence over relax vars (and symbolic vars when mapped)', () => {
    const build = (xName: string, sym: typeof n) => {
      const x = relaxVar(xName, f32([sym, 4]));
      const y = relaxVar('y', f32([sym, 4]));
      const e = withStructInfo(call('relax.exp', [x]), f32([sym, 4]));
      return relaxFunction(
        [x],
        withStructInfo(seqExpr([bindingBlock([varBinding(y, e)])], y), y.structInfo),
        y.structInfo,
      );
    };
    const a = build('x', n);
    const b = build('other', n);
    expect(structuralEqual(a, b)).toBe(true);
    expect(structuralHash(a)).toBe(structuralHash(b));
    const c = build('x', m);
    expect(structuralEqual(a, c)).toBe(false);
    expect(structuralEqual(a, c, { mapFreeVars: true })).toBe(true);
    const dv = dataflowVar('x', f32([n, 4]));
    expect(structuralEqual(relaxVar('x', f32([n, 4])), dv, { mapFreeVars: true })).toBe(false);
  });
  it('constants compare by data', () => {
    expect(structuralEqual(constant([1, 2], [2]), constant([1, 2], [2]))).toBe(true);
    expect(structuralEqual(constant([1, 2], [2]), constant([1, 3], [2]))).toBe(false);
    expect(() => constant([1, 2, 3], [2])).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(sinfoToString(constant([1, 2], [2], 'int64').structInfo!)).toBe('R.Tensor((2,), "int64")');
  });
  it('leaf StructInfo is set at construction', () => {
    expect(sinfoToString(shapeExpr([n, 3]).structInfo!)).toBe('R.Shape([n, 3])');
    expect(sinfoToString(primValue(n).structInfo!)).toBe('R.Prim(value=n)');
    expect(sinfoToString(tuple([constant([1], [1])]).structInfo!)).toBe('R.Tuple(R.Tensor((1,), "float32"))');
  });
  it('the node-kind table matches the declared kinds', () => {
    const kinds: Record<RelaxKind, true> = {
      'relax.ObjectStructInfo': true,
      'relax.PrimStructInfo': true,
      'relax.ShapeStructInfo': true,
      'relax.TensorStructInfo': true,
      'relax.TupleStructInfo': true,
      'relax.FuncStructInfo': true,
      'relax.Var': true,
      'relax.DataflowVar': true,
      'relax.Constant': true,
      'relax.Tuple': true,
      'relax.TupleGetItem': true,
      'relax.ShapeExpr': true,
      'relax.PrimValue': true,
      'relax.StringImm': true,
      'relax.Op': true,
      'relax.GlobalVar': true,
      'relax.ExternFunc': true,
      'relax.Call': true,
      'relax.If': true,
      'relax.SeqExpr': true,
      'relax.Function': true,
      'relax.VarBinding': true,
      'relax.MatchCast': true,
      'relax.BindingBlock': true,
      'relax.DataflowBlock': true,
    };
    for (const k of Object.keys(kinds)) expect(nodeKindInfo(k).ir).toBe('relax');
    expect(nodeKindInfo('relax.Var').isVar).toBe(true);
    expect(nodeKindInfo('relax.Function').fields.find((f) => f.name === 'params')?.type).toBe('binder[]');
    expect(nodeKindInfo('relax.VarBinding').fields.map((f) => f.name)).toEqual(['value', 'var']);
  });
});

import * as P from '@kiln/ir-core';

export type { Node };
