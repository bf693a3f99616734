import { add, buffer, bufferLoad, call, div, isKilnError, mul, primVar, sub } from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import { bufferStore, evaluate, forLoop, loopVar, primFunc, seqStmt } from '../stmt.js';
import { CODEGEN_INTRINSICS, lowerIntrinsics } from './lower_intrinsics.js';
import { expectIREqual } from './test_util.js';

function unary(op: string, build: (x: ReturnType<typeof bufferLoad>) => Parameters<typeof bufferStore>[1]) {
  const A = buffer('A', 'float32', [8]);
  const B = buffer('B', 'float32', [8]);
  const i = loopVar('i');
  return primFunc(
    [A, B],
    forLoop(
      i,
      0,
      8,
      bufferStore(B, op ? call('float32', op, [bufferLoad(A, [i])]) : build(bufferLoad(A, [i])), [i]),
    ),
  );
}
function expectedOf(build: (x: ReturnType<typeof bufferLoad>) => Parameters<typeof bufferStore>[1]) {
  return unary('', build);
}

describe('tir.LowerIntrinsics', () => {
  it('rsqrt → 1 / sqrt', () => {
    expectIREqual(
      lowerIntrinsics(unary('tir.rsqrt', () => 0)),
      expectedOf((x) => div(1, call('float32', 'tir.sqrt', [x]))),
    );
  });
  it('sigmoid → 1 / (1 + exp(-x)), also under its bare name', () => {
    const exp = expectedOf((x) => div(1, add(1, call('float32', 'tir.exp', [sub(0, x)]))));
    expectIREqual(lowerIntrinsics(unary('tir.sigmoid', () => 0)), exp);
    expectIREqual(lowerIntrinsics(unary('sigmoid', () => 0)), exp);
  });
  it('log10 / exp10 / hypot are rewritten; nested calls lowered inside out', () => {
    expectIREqual(
      lowerIntrinsics(unary('tir.log10', () => 0)),
      expectedOf((x) => mul(call('float32', 'tir.log', [x]), 1 / Math.LN10)),
    );
    const A = buffer('A', 'float32', [8]);
    const i = loopVar('i');
    const nested = primFunc(
      [A],
      forLoop(
        i,
        0,
        8,
        bufferStore(A, call('float32', 'tir.rsqrt', [call('float32', 'tir.exp10', [bufferLoad(A, [i])])]), [
          i,
        ]),
      ),
    );
    const j = loopVar('i');
    const exp = primFunc(
      [A],
      forLoop(
        j,
        0,
        8,
        bufferStore(
          A,
          div(
            1,
            call('float32', 'tir.sqrt', [call('float32', 'tir.exp', [mul(bufferLoad(A, [j]), Math.LN10)])]),
          ),
          [j],
        ),
      ),
    );
    expectIREqual(lowerIntrinsics(nested), exp);
  });
  it('canonicalises bare names of codegen intrinsics', () => {
    expectIREqual(
      lowerIntrinsics(unary('exp', () => 0)),
      unary('tir.exp', () => 0),
    );
  });
  it('leaves codegen intrinsics and target-specific calls alone (identity)', () => {
    const fn = unary('tir.exp', () => 0);
    expect(lowerIntrinsics(fn)).toBe(fn);
    const t = unary('cuda.__expf', () => 0);
    expect(lowerIntrinsics(t)).toBe(t);
    expect(CODEGEN_INTRINSICS.has('tir.exp')).toBe(true);
    expect(CODEGEN_INTRINSICS.has('tir.rsqrt')).toBe(false);
  });
  it('drops Evaluate(tir.assume(...))', () => {
    const A = buffer('A', 'float32', [8]);
    const n = primVar('n');
    const st = bufferStore(A, 1, [0]);
    const fn = primFunc([A, n], seqStmt([evaluate(call('void', 'tir.assume', [add(n, 0).a])), st]));
    const out = lowerIntrinsics(fn);
    expect(out.body.kind).toBe('SeqStmt');
    expect(
      out.body.kind === 'SeqStmt' && out.body.seq[0].kind === 'Evaluate' && out.body.seq[0].value.kind,
    ).toBe('IntImm');
  });
  it('is idempotent', () => {
    const once = lowerIntrinsics(unary('tir.sigmoid', () => 0));
    expect(lowerIntrinsics(once)).toBe(once);
  });
  it('rejects unknown intrinsics with UNSUPPORTED', () => {
    try {
      lowerIntrinsics(unary('frobnicate', () => 0));
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, 'UNSUPPORTED')).toBe(true);
    }
  });
});
