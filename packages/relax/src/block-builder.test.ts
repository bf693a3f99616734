import { isKilnError, primVar } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { BlockBuilder, op, relaxVar, sinfoToString, tensorSInfo } from './index.js';

describe('BlockBuilder', () => {
  it('builds a function with symbolic shapes', () => {
    const n = primVar('n');
    const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
    const y = relaxVar('y', tensorSInfo([1, 4], 'float32'));
    const bb = new BlockBuilder();
    bb.function('main', [x, y], () => {
      const out = bb.dataflow(() => {
        const a = bb.emit(op.add(x, y));
        const b = bb.emit(op.exp(a));
        return bb.emitOutput(b);
      });
      return out;
    });
    const mod = bb.getModule();
    expect(mod.globals).toEqual(['main']);
    const fn = mod.funcs[0] as import('./index.js').RelaxFunction;
    expect(sinfoToString(fn.retStructInfo)).toBe('R.Tensor((n, 4), "float32")');
  });
  it('reports shape mismatches naming the op', () => {
    const x = relaxVar('x', tensorSInfo([2, 4], 'float32'));
    const y = relaxVar('y', tensorSInfo([3, 4], 'float32'));
    const bb = new BlockBuilder();
    try {
      bb.function('main', [x, y], () => bb.emit(op.add(x, y)));
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'SHAPE_MISMATCH')).toBe(true);
      expect((e as Error).message).toContain('relax.add');
      expect((e as Error).message).toContain('(2, 4)');
    }
  });
});
