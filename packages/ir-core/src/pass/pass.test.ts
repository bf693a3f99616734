import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import { add, intImm } from '../expr.js';
import type { IRModule } from '../module.js';
import { getFunction, irModule, withModuleAttrs } from '../module.js';
import { structuralEqual } from '../structural.js';
import type { FakeFunc } from './__fixtures__/funcs.js';
import { sampleModule } from './__fixtures__/funcs.js';
import type { PassInstrument } from './context.js';
import { createPassContext, extendPassContext } from './context.js';
import { PASS_OPTIONS } from './options.js';
import type { Pass } from './pass.js';
import {
  definePass,
  hasProperty,
  moduleProperties,
  PROPERTIES_ATTR,
  sequential,
  updateProperties,
} from './pass.js';
import { parsePipeline } from './pipeline.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KilnError) return e.code;
    throw e;
  }
  throw new Error('expected a KilnError, nothing was thrown');
}

function errorOf(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KilnError) return e;
    throw e;
  }
  throw new Error('expected a KilnError, nothing was thrown');
}

/** A module pass appending its tag to the module attribute `log`. */
function logPass(
  name: string,
  extra: { optLevel?: number; requires?: string[]; establishes?: string[]; invalidates?: string[] } = {},
): Pass {
  return definePass({
    name,
    kind: 'module',
    ...extra,
    run: (mod) => withModuleAttrs(mod, { log: [...((mod.attrs.log as string[] | undefined) ?? []), name] }),
  });
}
const logOf = (m: IRModule) => (m.attrs.log as string[] | undefined) ?? [];

describe('definePass', () => {
  it('rejects names not namespaced by IR and specs without a body', () => {
    expect(codeOf(() => definePass({ name: 'FuseOps', kind: 'module', run: (m) => m }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(codeOf(() => definePass({ name: 'tir.X', kind: 'prim_func', run: (m) => m }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(codeOf(() => definePass({ name: 'tir.X', kind: 'module' }))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('produces frozen passes', () => {
    const p = logPass('test.A');
    expect(Object.isFrozen(p)).toBe(true);
    expect(p.name).toBe('test.A');
    expect(p.kind).toBe('module');
    expect(p.optLevel).toBe(0);
    expect(`${p}`).toBe('test.A');
  });

  it('runs with a fresh default context when none is given', () => {
    expect(logOf(logPass('test.A').run(sampleModule()))).toEqual(['test.A']);
  });

  it('applies prim_func transforms to PrimFuncs only and keeps identity when unchanged', () => {
    const seen: string[] = [];
    const bump = definePass({
      name: 'tir.Bump',
      kind: 'prim_func',
      transform: (fn: FakeFunc, name) => {
        seen.push(name);
        return { ...fn, body: add(fn.body, intImm(10, 'int64')) } as FakeFunc;
      },
    });
    const mod = sampleModule();
    const out = bump.run(mod);
    expect(seen).toEqual(['f', 'g']);
    expect(getFunction(out, 'main')).toBe(getFunction(mod, 'main'));
    expect(getFunction(out, 'f')).not.toBe(getFunction(mod, 'f'));
    const noop = definePass({ name: 'tir.Noop', kind: 'prim_func', transform: (fn) => fn });
    expect(noop.run(mod)).toBe(mod);
  });

  it('applies function transforms to relax.Functions and removes functions mapped to null', () => {
    const seen: string[] = [];
    const drop = definePass({
      name: 'relax.DropAll',
      kind: 'function',
      transform: (_fn, name) => {
        seen.push(name);
        return null;
      },
    });
    const out = drop.run(sampleModule());
    expect(seen).toEqual(['main']);
    expect(out.globals).toEqual(['f', 'g']);
  });

  it('wraps a non-Kiln failure in PASS_FAILED naming the pass, and lets KilnErrors through', () => {
    const boom = definePass({
      name: 'test.Boom',
      kind: 'module',
      run: () => {
        throw new TypeError('x is undefined');
      },
    });
    const e = errorOf(() => boom.run(sampleModule()));
    expect(e.code).toBe(ErrorCodes.PASS_FAILED);
    expect(e.message).toContain('test.Boom');
    const kiln = definePass({
      name: 'test.Kiln',
      kind: 'module',
      run: () => {
        throw new KilnError('SHAPE_MISMATCH', 'bad shape');
      },
    });
    expect(codeOf(() => kiln.run(sampleModule()))).toBe('SHAPE_MISMATCH');
    const fnBoom = definePass({
      name: 'tir.Boom',
      kind: 'prim_func',
      transform: (fn, name) => {
        if (name === 'g') throw new RangeError('index out of range');
        return fn;
      },
    });
    const f = errorOf(() => fnBoom.run(sampleModule()));
    expect(f.code).toBe(ErrorCodes.PASS_FAILED);
    expect(f.details).toMatchObject({ pass: 'tir.Boom', function: 'g' });
  });
});

describe('sequential', () => {
  it('runs passes in order', () => {
    const seq = sequential([logPass('test.A'), logPass('test.B'), logPass('test.C')]);
    expect(logOf(seq.run(sampleModule()))).toEqual(['test.A', 'test.B', 'test.C']);
  });

  it('nests, and prints nested pipelines in text form', () => {
    const inner = sequential([logPass('test.B'), logPass('test.C')], 'inner');
    const outer = sequential([logPass('test.A'), inner, logPass('test.D')]);
    expect(logOf(outer.run(sampleModule()))).toEqual(['test.A', 'test.B', 'test.C', 'test.D']);
    expect(outer.toString()).toBe('test.A,seq(test.B,test.C),test.D');
    expect(outer.passes?.length).toBe(3);
    expect(inner.name).toBe('inner');
  });

  it('can be disabled by name as a whole', () => {
    const inner = sequential([logPass('test.B')], 'test.Inner');
    const outer = sequential([logPass('test.A'), inner]);
    const ctx = createPassContext({ disabledPasses: ['test.Inner'] });
    expect(logOf(outer.run(sampleModule(), ctx))).toEqual(['test.A']);
  });
});

describe('properties', () => {
  const normalize = logPass('relax.Normalize', { establishes: ['normalized'] });
  const legalize = logPass('relax.Legalize', {
    requires: ['normalized'],
    establishes: ['legalized'],
    invalidates: ['normalized'],
  });

  it('raises PASS_REQUIREMENT naming the pass and the property, without running anything', () => {
    const e = errorOf(() => legalize.run(sampleModule()));
    expect(e.code).toBe(ErrorCodes.PASS_REQUIREMENT);
    expect(e.message).toContain('relax.Legalize');
    expect(e.message).toContain('normalized');
    expect(e.details).toMatchObject({ pass: 'relax.Legalize', property: 'normalized' });
  });

  it('adds established and removes invalidated properties', () => {
    const out = sequential([normalize, legalize]).run(sampleModule());
    expect(moduleProperties(out)).toEqual(['legalized']);
    expect(hasProperty(out, 'normalized')).toBe(false);
    expect(logOf(out)).toEqual(['relax.Normalize', 'relax.Legalize']);
  });

  it('honours properties already on the input module', () => {
    const mod = withModuleAttrs(sampleModule(), { [PROPERTIES_ATTR]: ['normalized'] });
    expect(moduleProperties(legalize.run(mod))).toEqual(['legalized']);
  });

  it('fails when the establishing pass was skipped', () => {
    const seq = sequential([
      logPass('relax.Normalize', { establishes: ['normalized'], optLevel: 3 }),
      legalize,
    ]);
    expect(codeOf(() => seq.run(sampleModule(), createPassContext({ optLevel: 2 })))).toBe(
      ErrorCodes.PASS_REQUIREMENT,
    );
    expect(moduleProperties(seq.run(sampleModule(), createPassContext({ optLevel: 3 })))).toEqual([
      'legalized',
    ]);
  });

  it('updateProperties keeps identity when nothing changes', () => {
    const mod = updateProperties(sampleModule(), ['a']);
    expect(updateProperties(mod, ['a'])).toBe(mod);
    expect(updateProperties(mod, [], ['b'])).toBe(mod);
  });
});

describe('PassContext gating', () => {
  const seq = () =>
    sequential([logPass('test.A', { optLevel: 1 }), logPass('test.B', { optLevel: 3 }), logPass('test.C')]);

  it('runs only passes whose optLevel is within the context', () => {
    expect(logOf(seq().run(sampleModule(), createPassContext({ optLevel: 0 })))).toEqual(['test.C']);
    expect(logOf(seq().run(sampleModule(), createPassContext()))).toEqual(['test.A', 'test.C']);
    expect(logOf(seq().run(sampleModule(), createPassContext({ optLevel: 3 })))).toEqual([
      'test.A',
      'test.B',
      'test.C',
    ]);
  });

  it('skips disabled passes', () => {
    expect(
      logOf(seq().run(sampleModule(), createPassContext({ disabledPasses: ['test.A', 'test.C'] }))),
    ).toEqual([]);
  });

  it('always runs required passes, over the opt level and the disabled list', () => {
    const ctx = createPassContext({
      optLevel: 0,
      requiredPasses: ['test.B', 'test.C'],
      disabledPasses: ['test.C'],
    });
    expect(logOf(seq().run(sampleModule(), ctx))).toEqual(['test.B', 'test.C']);
  });

  it('lets an instrument veto a pass', () => {
    const veto: PassInstrument = { name: 'veto', shouldRun: (p) => p.name !== 'test.C' };
    expect(logOf(seq().run(sampleModule(), createPassContext({ instruments: [veto] })))).toEqual(['test.A']);
  });

  it('does not re-open instruments when a pass runs sub-passes under a derived context', () => {
    const events: string[] = [];
    const ins: PassInstrument = {
      name: 'trace',
      enterContext: () => events.push('enter'),
      exitContext: () => events.push('exit'),
      runBeforePass: (p) => events.push(`before ${p.name}`),
    };
    const inner = logPass('test.Inner', { optLevel: 3 });
    const outer = definePass({
      name: 'test.Outer',
      kind: 'module',
      run: (m, ctx) => inner.run(m, extendPassContext(ctx, { optLevel: 3 })),
    });
    const out = outer.run(sampleModule(), createPassContext({ instruments: [ins] }));
    expect(logOf(out)).toEqual(['test.Inner']);
    expect(events).toEqual(['enter', 'before test.Outer', 'before test.Inner', 'exit']);
  });

  it('rejects bad opt levels; extendPassContext replaces settings', () => {
    expect(codeOf(() => createPassContext({ optLevel: -1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    const ctx = extendPassContext(createPassContext({ disabledPasses: ['test.A'] }), { optLevel: 3 });
    expect(ctx.optLevel).toBe(3);
    expect(ctx.disabledPasses).toEqual(['test.A']);
  });

  it('calls enter/exit once for the outermost run, also when a pass throws', () => {
    const events: string[] = [];
    const ins: PassInstrument = {
      name: 'trace',
      enterContext: () => events.push('enter'),
      exitContext: () => events.push('exit'),
      runBeforePass: (p) => events.push(`before ${p.name}`),
      runAfterPass: (p) => events.push(`after ${p.name}`),
    };
    const ctx = createPassContext({ instruments: [ins] });
    sequential([logPass('test.A'), logPass('test.B')], 'test.Seq').run(sampleModule(), ctx);
    expect(events).toEqual([
      'enter',
      'before test.Seq',
      'before test.A',
      'after test.A',
      'before test.B',
      'after test.B',
      'after test.Seq',
      'exit',
    ]);
    events.length = 0;
    const boom = definePass({
      name: 'test.Boom',
      kind: 'module',
      run: () => {
        throw new Error('no');
      },
    });
    expect(codeOf(() => sequential([logPass('test.A'), boom]).run(sampleModule(), ctx))).toBe(
      ErrorCodes.PASS_FAILED,
    );
    expect(events[0]).toBe('enter');
    expect(events.at(-1)).toBe('exit');
  });
});

describe('pass options', () => {
  const fuse = definePass({
    name: 'relax.FuseOps',
    kind: 'module',
    optLevel: 1,
    options: z.object({
      maxDepth: z.number().int().positive().default(4),
      mode: z.enum(['greedy', 'none']).default('greedy'),
    }),
    run: (mod, _ctx, opts) => withModuleAttrs(mod, { maxDepth: opts.maxDepth, mode: opts.mode }),
  });

  it('fills defaults, binds with withOptions, and prints bound options', () => {
    expect(fuse.run(sampleModule()).attrs.maxDepth).toBe(4);
    const bound = fuse.withOptions({ maxDepth: 8 });
    expect(bound.run(sampleModule()).attrs).toMatchObject({ maxDepth: 8, mode: 'greedy' });
    expect(bound.toString()).toBe('relax.FuseOps(maxDepth=8)');
    expect(fuse.toString()).toBe('relax.FuseOps');
    expect(bound.withOptions({ mode: 'none' }).toString()).toBe('relax.FuseOps(maxDepth=8,mode=none)');
  });

  it('rejects invalid bound options naming the pass and the field', () => {
    const e = errorOf(() => fuse.withOptions({ maxDepth: -1 }));
    expect(e.code).toBe(PASS_OPTIONS);
    expect(e.message).toContain('relax.FuseOps');
    expect(e.message).toContain('maxDepth');
    const u = errorOf(() => fuse.withOptions({ maxDeth: 3 } as never));
    expect(u.code).toBe(PASS_OPTIONS);
    expect(u.message).toContain('maxDeth');
  });

  it('merges context options over bound ones and validates them when the pass runs', () => {
    const ctx = createPassContext({ passOptions: { 'relax.FuseOps': { mode: 'none' } } });
    expect(fuse.withOptions({ maxDepth: 2 }).run(sampleModule(), ctx).attrs).toMatchObject({
      maxDepth: 2,
      mode: 'none',
    });
    const bad = createPassContext({ passOptions: { 'relax.FuseOps': { mode: 'eager' } } });
    const e = errorOf(() => fuse.run(sampleModule(), bad));
    expect(e.code).toBe(PASS_OPTIONS);
    expect(e.message).toContain('mode');
    // a skipped pass does not look at its options
    expect(() =>
      fuse.run(
        sampleModule(),
        createPassContext({ optLevel: 0, passOptions: { 'relax.FuseOps': { mode: 'eager' } } }),
      ),
    ).not.toThrow();
  });

  it('types withOptions from the schema', () => {
    // compile-time checks: a wrong type or an unknown key does not typecheck
    // @ts-expect-error maxDepth is a number
    expect(() => fuse.withOptions({ maxDepth: 'deep' })).toThrow(KilnError);
    // @ts-expect-error no such option
    expect(() => fuse.withOptions({ depth: 2 })).toThrow(KilnError);
    expect(fuse.withOptions({ mode: 'none' }).boundOptions.mode).toBe('none');
  });

  it('rejects options for passes that take none', () => {
    const p = logPass('test.A');
    expect(codeOf(() => p.withOptions({ x: 1 }))).toBe(PASS_OPTIONS);
    expect(
      codeOf(() => p.run(sampleModule(), createPassContext({ passOptions: { 'test.A': { x: 1 } } }))),
    ).toBe(PASS_OPTIONS);
    expect(p.withOptions({})).toBe(p);
  });
});

describe('pipeline text', () => {
  const fuse = definePass({
    name: 'relax.FuseOps',
    kind: 'module',
    options: z.object({
      maxDepth: z.number().default(4),
      flag: z.boolean().default(false),
      label: z.string().default('x'),
      sizes: z.array(z.number()).default([]),
      tile: z.object({ size: z.number(), mode: z.string(), dims: z.array(z.number()) }).optional(),
    }),
    run: (m) => m,
  });
  const passes = [logPass('relax.LegalizeOps'), fuse, logPass('tir.A'), logPass('tir.B')];
  const lookup = {
    getPass(name: string): Pass {
      const p = passes.find((q) => q.name === name);
      if (!p) throw new KilnError(ErrorCodes.UNKNOWN_PASS, `no pass '${name}'`);
      return p;
    },
  };

  it('round-trips print → parse → print', () => {
    const texts = [
      'relax.LegalizeOps,relax.FuseOps(maxDepth=8),seq(tir.A,tir.B)',
      'relax.FuseOps(maxDepth=-2.5,flag=true,label="hello world",sizes=[1,2,3])',
      'relax.FuseOps(label=abc),seq(seq(tir.A),seq()),tir.B',
      'relax.FuseOps(tile={size=32,mode=fast,dims=[1,2]})',
      '',
    ];
    for (const t of texts) {
      const p = parsePipeline(t, lookup);
      expect(p.toString()).toBe(t);
      expect(parsePipeline(p.toString(), lookup).toString()).toBe(t);
    }
  });

  it('accepts whitespace and runs what it parsed', () => {
    const p = parsePipeline(' relax.LegalizeOps , seq( tir.A ,tir.B ) ', lookup);
    expect(p.toString()).toBe('relax.LegalizeOps,seq(tir.A,tir.B)');
    expect(logOf(p.run(sampleModule()))).toEqual(['relax.LegalizeOps', 'tir.A', 'tir.B']);
  });

  it('quotes strings that are not identifiers', () => {
    const p = fuse.withOptions({ label: 'true' });
    expect(p.toString()).toBe('relax.FuseOps(label="true")');
    expect(parsePipeline(p.toString(), lookup).passes?.[0].boundOptions).toEqual({ label: 'true' });
  });

  it('reports syntax errors, unknown passes and bad options', () => {
    expect(codeOf(() => parsePipeline('tir.A,,tir.B', lookup))).toBe(ErrorCodes.PARSE_ERROR);
    expect(codeOf(() => parsePipeline('seq(tir.A', lookup))).toBe(ErrorCodes.PARSE_ERROR);
    expect(codeOf(() => parsePipeline('relax.FuseOps(maxDepth)', lookup))).toBe(ErrorCodes.PARSE_ERROR);
    expect(codeOf(() => parsePipeline('relax.FuseOps(maxDepth=1,maxDepth=2)', lookup))).toBe(
      ErrorCodes.PARSE_ERROR,
    );
    const e = errorOf(() => parsePipeline('tir.A,tir.Nope', lookup));
    expect(e.code).toBe(ErrorCodes.UNKNOWN_PASS);
    expect(e.span?.column).toBe(7);
    expect(codeOf(() => parsePipeline('relax.FuseOps(maxDepth=yes)', lookup))).toBe(PASS_OPTIONS);
  });

  it('builds structurally identical output for parsed and hand-built pipelines', () => {
    const a = parsePipeline('relax.LegalizeOps,seq(tir.A,tir.B)', lookup).run(sampleModule());
    const b = sequential([passes[0], sequential([passes[2], passes[3]])]).run(sampleModule());
    expect(structuralEqual(a, b, { mapFreeVars: true })).toBe(true);
    expect(irModule({}).globals).toEqual([]);
  });
});
