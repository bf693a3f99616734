import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, KilnError } from '../errors.js';
import { add, intImm, primVar } from '../expr.js';
import { irModule, withModuleAttrs } from '../module.js';
import { defineFunctionTextFormat } from '../text/format.js';
import type { FakeFunc } from './__fixtures__/funcs.js';
import { fakeFunc, sampleModule } from './__fixtures__/funcs.js';
import { createPassContext } from './context.js';
import { dumpIR } from './dump.js';
import { printIRInstrument, timingInstrument, wellFormedInstrument } from './instruments.js';
import { definePass, sequential } from './pass.js';
import { checkWellFormed, defineWellFormedChecker } from './well-formed.js';

const tag = (name: string) =>
  definePass({ name, kind: 'module', run: (mod) => withModuleAttrs(mod, { last: name }) });

// PrimFuncs of this fixture are well-formed when their body uses no variable that is
// not a parameter.
defineWellFormedChecker<FakeFunc>('PrimFunc', (fn) => {
  const free: string[] = [];
  const visit = (e: unknown): void => {
    const n = e as { kind: string; name?: string; a?: unknown; b?: unknown };
    if (n.kind === 'Var' && !fn.params.includes(e as never)) free.push(n.name ?? '?');
    if (n.a) visit(n.a);
    if (n.b) visit(n.b);
  };
  visit(fn.body);
  return free.map((v) => `variable '${v}' is not defined`);
});

describe('timingInstrument', () => {
  it('records nested wall times and reports them in a table', () => {
    let t = 0;
    const timing = timingInstrument({ now: () => (t += 1) });
    const ctx = createPassContext({ instruments: [timing] });
    sequential([tag('test.A'), sequential([tag('test.B')], 'test.Inner')], 'test.Outer').run(
      sampleModule(),
      ctx,
    );
    const recs = timing.records();
    expect(recs.map((r) => r.name)).toEqual(['test.Outer']);
    expect(recs[0].children.map((r) => r.name)).toEqual(['test.A', 'test.Inner']);
    expect(recs[0].children[1].children.map((r) => r.name)).toEqual(['test.B']);
    // clock ticks once per hook: A takes 1 tick, Outer spans all 9 - 1 ticks
    expect(recs[0].children[0].ms).toBe(1);
    expect(recs[0].ms).toBe(7);
    const report = timing.report();
    expect(report).toMatch(/total\(ms\)/);
    expect(report).toMatch(/7\.000\s+100\.0\s+test\.Outer/);
    expect(report).toMatch(/1\.000\s+14\.3\s+ {2}test\.A/);
    expect(report).toMatch(/ {4}test\.B/);
    expect(report).toMatch(/\(total\)/);
    expect(timing.summary()).toEqual([
      { name: 'test.Outer', calls: 1, totalMs: 7, selfMs: 3 },
      { name: 'test.Inner', calls: 1, totalMs: 3, selfMs: 2 },
      { name: 'test.A', calls: 1, totalMs: 1, selfMs: 1 },
      { name: 'test.B', calls: 1, totalMs: 1, selfMs: 1 },
    ]);
    timing.reset();
    expect(timing.records()).toEqual([]);
  });

  it('measures real time with the default clock and survives a failing pass', () => {
    const timing = timingInstrument();
    const ctx = createPassContext({ instruments: [timing] });
    const boom = definePass({
      name: 'test.Boom',
      kind: 'module',
      run: () => {
        throw new Error('x');
      },
    });
    expect(() => sequential([tag('test.A'), boom]).run(sampleModule(), ctx)).toThrow(KilnError);
    tag('test.C').run(sampleModule(), ctx);
    expect(timing.records().map((r) => r.name)).toEqual(['test.C']);
    expect(timing.records()[0].ms).toBeGreaterThanOrEqual(0);
  });
});

describe('printIRInstrument', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'kiln-ir-'));
    dirs.push(d);
    return join(d, 'dumps');
  };

  it('writes one numbered file per pass, in order, skipping sequentials', () => {
    const dir = tmp();
    const ins = printIRInstrument({ dir, print: (m) => `last=${String(m.attrs.last)}\n` });
    const ctx = createPassContext({ instruments: [ins] });
    sequential([tag('relax.LegalizeOps'), sequential([tag('relax.FuseOps')]), tag('tir.Lower')]).run(
      sampleModule(),
      ctx,
    );
    expect(readdirSync(dir).sort()).toEqual([
      '001_relax.LegalizeOps.after.txt',
      '002_relax.FuseOps.after.txt',
      '003_tir.Lower.after.txt',
    ]);
    expect(readFileSync(join(dir, '002_relax.FuseOps.after.txt'), 'utf8')).toBe('last=relax.FuseOps\n');
    expect(ins.files().length).toBe(3);
  });

  it('dumps before and after with the same number, continuing across runs', () => {
    const dir = tmp();
    const ins = printIRInstrument({ dir, before: true, after: true, print: (m) => String(m.attrs.last) });
    const ctx = createPassContext({ instruments: [ins] });
    tag('test.A').run(sampleModule(), ctx);
    tag('test.B').run(sampleModule(), ctx);
    expect(readdirSync(dir).sort()).toEqual([
      '001_test.A.after.txt',
      '001_test.A.before.txt',
      '002_test.B.after.txt',
      '002_test.B.before.txt',
    ]);
    expect(readFileSync(join(dir, '001_test.A.before.txt'), 'utf8')).toBe('undefined');
    expect(readFileSync(join(dir, '001_test.A.after.txt'), 'utf8')).toBe('test.A');
  });

  it('prints with the text format when the function kinds have one', () => {
    defineFunctionTextFormat<FakeFunc>({
      kind: 'relax.Function',
      keyword: 'fake_function',
      print: (_fn, p) => p.write(' { ... }'),
      parse: () => {
        throw new Error('not parsable');
      },
    });
    const dir = tmp();
    const ctx = createPassContext({ instruments: [printIRInstrument({ dir })] });
    const z = primVar('z');
    tag('test.A').run(irModule({ main: fakeFunc('relax.Function', [z], z) }), ctx);
    const text = readFileSync(join(dir, '001_test.A.after.txt'), 'utf8');
    expect(text).toContain('@main = fake_function { ... }');
  });

  it('falls back to the IR dump for function kinds without a text format', () => {
    const dir = tmp();
    const ctx = createPassContext({ instruments: [printIRInstrument({ dir })] });
    tag('test.A').run(sampleModule(), ctx);
    const text = readFileSync(join(dir, '001_test.A.after.txt'), 'utf8');
    expect(text).toBe(dumpIR(tag('test.A').run(sampleModule())));
    expect(text).toContain('@f = PrimFunc(');
  });
});

describe('wellFormedInstrument', () => {
  const breakIt = definePass({
    name: 'tir.BreakIt',
    kind: 'prim_func',
    transform: (fn: FakeFunc, name) =>
      name === 'g' ? fakeFunc('PrimFunc', fn.params, add(fn.body, primVar('stray'))) : fn,
  });
  const keep = definePass({
    name: 'tir.Keep',
    kind: 'prim_func',
    transform: (fn: FakeFunc) => fakeFunc('PrimFunc', fn.params, add(fn.body, intImm(0, 'int64'))),
  });

  it('passes well-formed output through', () => {
    const ctx = createPassContext({ instruments: [wellFormedInstrument()] });
    expect(checkWellFormed(keep.run(sampleModule(), ctx))).toEqual([]);
  });

  it('raises WELL_FORMED naming the pass that broke the module', () => {
    const ctx = createPassContext({ instruments: [wellFormedInstrument()] });
    let err: unknown;
    try {
      sequential([keep, breakIt, keep]).run(sampleModule(), ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    const e = err as KilnError;
    expect(e.code).toBe(ErrorCodes.WELL_FORMED);
    expect(e.message).toContain("'tir.BreakIt'");
    expect(e.message).toContain("'g'");
    expect(e.details).toMatchObject({ pass: 'tir.BreakIt', functions: ['g'] });
  });

  it('optionally checks the input module', () => {
    const broken = breakIt.run(sampleModule());
    const ctx = createPassContext({ instruments: [wellFormedInstrument({ checkInput: true })] });
    try {
      keep.run(broken, ctx);
      expect.unreachable();
    } catch (e) {
      expect((e as KilnError).code).toBe(ErrorCodes.WELL_FORMED);
      expect((e as KilnError).details).toMatchObject({ when: 'before' });
    }
  });

  it('refuses a second checker for the same kind', () => {
    expect(() => defineWellFormedChecker('PrimFunc', () => [])).toThrow(KilnError);
  });
});
