import { describe, expect, it } from 'vitest';
import { ErrorCodes, KilnError } from '../errors.js';
import { add, intImm, letExpr, mul, primVar } from '../expr.js';
import { irModule, withModuleAttrs } from '../module.js';
import type { FakeFunc } from '../pass/__fixtures__/funcs.js';
import { fakeFunc, sampleModule } from '../pass/__fixtures__/funcs.js';
import { definePass } from '../pass/pass.js';
import { defineWellFormedChecker } from '../pass/well-formed.js';
import {
  assertStructuralEqual,
  assertWellFormed,
  checkPass,
  createRng,
  DEFAULT_TEST_SEED,
  expectKilnError,
  firstDifference,
  IRAssertionError,
  lineDiff,
  printForTest,
  testSeed,
} from './index.js';

defineWellFormedChecker<FakeFunc>('relax.Function', (fn) =>
  fn.params.length === 0 ? ['no parameters'] : [],
);

function failureOf(fn: () => unknown): IRAssertionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof IRAssertionError) return e;
    throw e;
  }
  throw new Error('expected an assertion failure');
}

describe('assertStructuralEqual', () => {
  it('accepts separately built equal IR (free variables mapped by default)', () => {
    expect(() => assertStructuralEqual(sampleModule(), sampleModule())).not.toThrow();
    const n1 = primVar('n');
    const n2 = primVar('n');
    expect(() => assertStructuralEqual(add(n1, 1), add(n2, 1))).not.toThrow();
    expect(() => assertStructuralEqual(add(n1, 1), add(n2, 1), { mapFreeVars: false })).toThrow(
      IRAssertionError,
    );
  });

  it('explains a mismatch with the path and a text diff', () => {
    const x = primVar('x');
    const e = failureOf(() =>
      assertStructuralEqual(add(mul(x, 2), 3), add(mul(x, 4), 3), { message: 'after folding' }),
    );
    expect(e.message).toContain('after folding');
    expect(e.message).toContain('first difference at $.a.b.value');
    expect(e.message).toContain('--- expected');
    expect(e.actual).toContain('2');
    expect(e.expected).toContain('4');
  });

  it('falls back to dumps when the printed texts agree', () => {
    const n1 = primVar('n');
    const n2 = primVar('n');
    const e = failureOf(() => assertStructuralEqual(add(n1, 1), add(n2, 1), { mapFreeVars: false }));
    expect(e.message).toContain('IR dumps');
    expect(e.message).toContain('variable objects');
  });

  it('finds differences inside modules', () => {
    const a = sampleModule();
    const y = primVar('y');
    const b = irModule({
      f: a.funcs[0],
      g: fakeFunc('PrimFunc', [y], add(y, intImm(3, 'int64'))),
      main: a.funcs[2],
    });
    expect(firstDifference(a, b)).toBe('$.funcs[1].body.b.value');
    expect(firstDifference(a, sampleModule())).toBeUndefined();
    expect(firstDifference(letExpr(y, 1, y), letExpr(y, 1, mul(y, 1)))).toBe('$.body');
    expect(printForTest(a)).toContain('@g = PrimFunc(');
  });
});

describe('lineDiff', () => {
  it('marks removed and added lines with context', () => {
    const d = lineDiff('a\nb\nc\nd\ne\nf\ng', 'a\nb\nc\nD\ne\nf\ng', 1);
    expect(d).toBe('  ...\n  c\n- d\n+ D\n  e\n  ...');
    expect(lineDiff('same', 'same')).toBe('');
  });
});

describe('expectKilnError', () => {
  it('returns the error when the code matches', () => {
    const e = expectKilnError(() => {
      throw new KilnError(ErrorCodes.SHAPE_MISMATCH, 'no');
    }, ErrorCodes.SHAPE_MISMATCH);
    expect(e.message).toBe('no');
  });

  it('fails on another code, another error, or no error', () => {
    expect(() =>
      expectKilnError(() => {
        throw new KilnError('A', 'x');
      }, 'B'),
    ).toThrow(/expected KilnError B, got A/);
    expect(() =>
      expectKilnError(() => {
        throw new TypeError('t');
      }, 'B'),
    ).toThrow(/got TypeError/);
    expect(() => expectKilnError(() => 1, 'B')).toThrow(/nothing was thrown/);
  });

  it('handles async functions', async () => {
    const e = await expectKilnError(async () => {
      throw new KilnError('ASYNC', 'x');
    }, 'ASYNC');
    expect(e.code).toBe('ASYNC');
    await expect(expectKilnError(async () => 1, 'ASYNC')).rejects.toThrow(/nothing was thrown/);
  });
});

describe('checkPass and assertWellFormed', () => {
  const bump = definePass({
    name: 'tir.Bump',
    kind: 'prim_func',
    establishes: ['bumped'],
    transform: (fn: FakeFunc) => fakeFunc('PrimFunc', fn.params, add(fn.body, 1)),
  });

  it('runs a Before/Expected test, ignoring properties by default', () => {
    const before = sampleModule();
    const expected = bump.run(sampleModule());
    const out = checkPass({
      pass: bump,
      before,
      expected: withModuleAttrs(expected, { 'kiln.properties': [] }),
    });
    expect(out.attrs['kiln.properties']).toEqual(['bumped']);
    expect(() => checkPass({ pass: bump, before, expected: before })).toThrow(/pass 'tir.Bump'/);
  });

  it('reports ill-formed output through the well-formed instrument', () => {
    const strip = definePass({
      name: 'relax.Strip',
      kind: 'function',
      transform: (fn: FakeFunc) => fakeFunc('relax.Function', [], fn.body),
    });
    expectKilnError(
      () => checkPass({ pass: strip, before: sampleModule(), expected: sampleModule() }),
      ErrorCodes.WELL_FORMED,
    );
    expectKilnError(() => assertWellFormed(strip.run(sampleModule())), ErrorCodes.WELL_FORMED);
    expect(() => assertWellFormed(sampleModule())).not.toThrow();
  });
});

describe('random helpers', () => {
  it('are reproducible from a seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createRng(43).next()).not.toBe(xs[0]);
  });

  it('produce values in range and never all-zero arrays', () => {
    const r = createRng(7);
    for (let i = 0; i < 100; i++) {
      const k = r.int(-3, 5);
      expect(k >= -3 && k < 5 && Number.isInteger(k)).toBe(true);
    }
    const f = r.float32Array(64);
    expect(f.some((x) => x !== 0)).toBe(true);
    expect(f.every((x) => x >= -1 && x < 1)).toBe(true);
    expect(r.shuffle([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
    expect([1, 2, 3]).toContain(r.pick([1, 2, 3]));
    expect(Number.isFinite(r.normal())).toBe(true);
    expect(r.int32Array(4, 0, 2).every((x) => x === 0 || x === 1)).toBe(true);
  });

  it('reads the seed from KILN_TEST_SEED', () => {
    expect(testSeed({})).toBe(DEFAULT_TEST_SEED);
    expect(testSeed({ KILN_TEST_SEED: '123' })).toBe(123);
    expectKilnError(() => testSeed({ KILN_TEST_SEED: 'abc' }), 'INVALID_ARGUMENT');
  });
});
