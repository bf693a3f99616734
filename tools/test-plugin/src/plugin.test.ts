import type { IRModule, Node, PrimExpr, Var } from '@kiln/ir-core';
import {
  add,
  createPassContext,
  createRegistry,
  defineFunctionKind,
  defineNodeKinds,
  definePass,
  definePlugin,
  defineWellFormedChecker,
  ErrorCodes,
  freezeNode,
  intImm,
  irModule,
  mul,
  primVar,
  timingInstrument,
  wellFormedInstrument,
} from '@kiln/ir-core';
import { assertStructuralEqual, checkPass, expectKilnError } from '@kiln/ir-core/testing';
import { describe, expect, it } from 'vitest';
import { foldAddZero, thirdPartyPlugin } from './index.js';

// A function kind of this test's own, as a plugin adding an IR would declare one.
interface TpFunc extends Node {
  readonly kind: 'thirdparty.Func';
  readonly params: readonly Var[];
  readonly body: PrimExpr;
}
defineNodeKinds('thirdparty', { 'thirdparty.Func': { fields: { params: 'binder[]', body: 'node' } } });
defineFunctionKind('thirdparty.Func');
defineWellFormedChecker<TpFunc>('thirdparty.Func', (fn) =>
  fn.body.dtype.str === 'int64' ? [] : ['body must be int64'],
);
const func = (params: readonly Var[], body: PrimExpr): TpFunc =>
  freezeNode({ kind: 'thirdparty.Func', params, body });

function sample(): IRModule {
  const x = primVar('x');
  const y = primVar('y');
  return irModule({
    f: func([x], add(mul(add(x, intImm(0)), 3), intImm(0))),
    g: func([y], add(intImm(0), y)),
  });
}

// Stands in for one of Kiln's built-in plugins: it is registered the same way.
const builtins = definePlugin({
  name: '@kiln/example-builtins',
  version: '0.0.0',
  passes: [
    definePass({ name: 'core.Normalize', kind: 'module', establishes: ['normalized'], run: (m) => m }),
  ],
});

describe('@kiln/test-plugin through a registry', () => {
  it('composes third-party and built-in passes into a pipeline that round-trips as text', () => {
    const reg = createRegistry().use(builtins).use(thirdPartyPlugin, { attrName: 'stats.nodes' });
    expect(reg.ownerOf('pass', 'thirdparty.CountNodes')).toBe('thirdparty');
    const text = 'core.Normalize,seq(thirdparty.FoldAddZero,thirdparty.CountNodes(kinds=[IntImm]))';
    const pipeline = reg.parsePipeline(text);
    expect(pipeline.toString()).toBe(text);
    expect(reg.parsePipeline(pipeline.toString()).toString()).toBe(text);

    const timing = timingInstrument();
    const ctx = createPassContext({ instruments: [timing, wellFormedInstrument()] });
    const out = pipeline.run(sample(), ctx);
    // only the multiplier 3 is left as an IntImm
    expect(out.attrs['stats.nodes']).toBe(1);
    expect(out.attrs['kiln.properties']).toEqual(['normalized', 'thirdparty.no-add-zero']);
    const x = primVar('x');
    const y = primVar('y');
    const expected = irModule({ f: func([x], mul(x, 3)), g: func([y], y) }, out.attrs);
    assertStructuralEqual(out, expected);
    expect(timing.report()).toContain('thirdparty.CountNodes');
  });

  it('honours the opt level: FoldAddZero is skipped at optLevel 0', () => {
    const reg = createRegistry().use(builtins).use(thirdPartyPlugin);
    const out = reg
      .parsePipeline('core.Normalize,thirdparty.FoldAddZero,thirdparty.CountNodes')
      .run(sample(), createPassContext({ optLevel: 0 }));
    // the functions are untouched; only the count attribute and properties were added
    assertStructuralEqual(irModule({ f: out.funcs[0], g: out.funcs[1] }), sample());
    expect(out.attrs['kiln.properties']).toEqual(['normalized']);
    expect(typeof out.attrs['thirdparty.nodeCount']).toBe('number');
  });

  it('passes a Before/Expected check with the shared helpers', () => {
    const x = primVar('x');
    const x2 = primVar('x');
    checkPass({
      pass: foldAddZero,
      before: irModule({ f: func([x], add(x, intImm(0))) }),
      expected: irModule({ f: func([x2], x2) }),
    });
  });

  it('requires normalized input, naming the pass and the property', () => {
    const reg = createRegistry().use(thirdPartyPlugin);
    const e = expectKilnError(
      () => reg.parsePipeline('thirdparty.CountNodes').run(sample()),
      ErrorCodes.PASS_REQUIREMENT,
    );
    expect(e.message).toContain('thirdparty.CountNodes');
    expect(e.message).toContain('normalized');
  });

  it('rejects bad plugin options naming the plugin and the field', () => {
    const reg = createRegistry();
    const e = expectKilnError(
      () => reg.use(thirdPartyPlugin, { attrName: 42 } as never),
      ErrorCodes.PLUGIN_OPTIONS,
    );
    expect(e.message).toContain("plugin 'thirdparty'");
    expect(e.message).toContain('attrName');
    const f = expectKilnError(
      () => reg.use(thirdPartyPlugin, { attrName: 'Not A Name' }),
      ErrorCodes.PLUGIN_OPTIONS,
    );
    expect(f.message).toContain('attrName');
    const g = expectKilnError(
      () => reg.use(thirdPartyPlugin, { countOptLevel: 9 }),
      ErrorCodes.PLUGIN_OPTIONS,
    );
    expect(g.message).toContain('countOptLevel');
    expect(reg.plugins()).toEqual([]);
  });

  it('rejects bad pass options in pipeline text and in the context', () => {
    const reg = createRegistry().use(builtins).use(thirdPartyPlugin);
    const e = expectKilnError(() => reg.parsePipeline('thirdparty.CountNodes(kinds=IntImm)'), 'PASS_OPTIONS');
    expect(e.message).toContain('kinds');
    const ctx = createPassContext({ passOptions: { 'thirdparty.CountNodes': { kind: ['Add'] } } });
    expectKilnError(
      () => reg.parsePipeline('core.Normalize,thirdparty.CountNodes').run(sample(), ctx),
      'PASS_OPTIONS',
    );
  });

  it('clashes with another plugin that claims its pass names', () => {
    const copycat = definePlugin({ name: 'copycat', version: '1.0.0', passes: [foldAddZero] });
    const e = expectKilnError(
      () => createRegistry().use(thirdPartyPlugin).use(copycat),
      ErrorCodes.PLUGIN_DUPLICATE,
    );
    expect(e.message).toContain("'thirdparty'");
    expect(e.message).toContain("'copycat'");
  });
});
