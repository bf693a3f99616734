import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, KilnError } from '../errors.js';
import { withModuleAttrs } from '../module.js';
import { sampleModule } from '../pass/__fixtures__/funcs.js';
import { definePass } from '../pass/pass.js';
import { defineTargetKind } from '../target/target.js';
import type { NamedEntry } from './plugin.js';
import { BUILTIN_OWNER, createRegistry, definePlugin } from './plugin.js';

function errorOf(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KilnError) return e;
    throw e;
  }
  throw new Error('expected a KilnError');
}

const tag = (name: string) =>
  definePass({ name, kind: 'module', run: (m) => withModuleAttrs(m, { [name]: true }) });

interface TestOp extends NamedEntry {
  readonly arity: number;
}

const acme = definePlugin({
  name: 'acme',
  version: '1.2.0',
  options: z.object({
    tile: z.object({ size: z.number().int().positive().default(32) }).default({ size: 32 }),
    mode: z.enum(['fast', 'exact']).default('exact'),
  }),
  passes: [tag('acme.Tile'), tag('acme.Fold')],
  ops: [{ name: 'acme.gelu', arity: 1 }] as TestOp[],
  targets: [
    defineTargetKind({ kind: 'acme-npu', options: z.object({ cores: z.coerce.number().default(4) }) }),
  ],
  frontends: [{ name: 'acme-format' }],
  setup: (opts) => (opts.mode === 'fast' ? { passes: [tag('acme.FastMath')] } : undefined),
});

describe('definePlugin', () => {
  it('freezes the plugin and checks name and version', () => {
    expect(Object.isFrozen(acme)).toBe(true);
    expect(errorOf(() => definePlugin({ name: '', version: '1' })).code).toBe(ErrorCodes.PLUGIN_INVALID);
    expect(errorOf(() => definePlugin({ name: 'x', version: '' })).code).toBe(ErrorCodes.PLUGIN_INVALID);
  });
});

describe('registry', () => {
  it('registers passes, ops, targets and frontends with their owners', () => {
    const reg = createRegistry<TestOp>().use(acme, { mode: 'fast' });
    expect(reg.listPasses().map((p) => p.name)).toEqual(['acme.Tile', 'acme.Fold', 'acme.FastMath']);
    expect(reg.getOp('acme.gelu')?.arity).toBe(1);
    expect(reg.ops().map((o) => o.name)).toEqual(['acme.gelu']);
    expect(reg.frontends().map((f) => f.name)).toEqual(['acme-format']);
    expect(reg.getFrontend('acme-format')).toBeDefined();
    expect(reg.targets().map((t) => t.kind)).toEqual(['llvm', 'cuda', 'vulkan', 'metal', 'acme-npu']);
    expect(reg.ownerOf('pass', 'acme.Tile')).toBe('acme');
    expect(reg.ownerOf('target kind', 'cuda')).toBe(BUILTIN_OWNER);
    expect(reg.plugins()).toEqual([
      { name: 'acme', version: '1.2.0', options: { tile: { size: 32 }, mode: 'fast' } },
    ]);
  });

  it('adds setup contributions only when the options ask for them', () => {
    expect(createRegistry().use(acme).hasPass('acme.FastMath')).toBe(false);
  });

  it('is per instance: two registries do not share plugins', () => {
    const a = createRegistry().use(acme);
    const b = createRegistry();
    expect(a.hasPass('acme.Tile')).toBe(true);
    expect(b.hasPass('acme.Tile')).toBe(false);
    expect(() => b.use(acme)).not.toThrow();
  });

  it('rejects bad options naming the plugin and the field path', () => {
    const reg = createRegistry();
    const e = errorOf(() => reg.use(acme, { tile: { size: 'big' } } as never));
    expect(e.code).toBe(ErrorCodes.PLUGIN_OPTIONS);
    expect(e.message).toContain("plugin 'acme'");
    expect(e.message).toContain('tile.size');
    expect(e.details).toMatchObject({ field: 'tile.size' });
    const m = errorOf(() => reg.use(acme, { mode: 'slow' } as never));
    expect(m.code).toBe(ErrorCodes.PLUGIN_OPTIONS);
    expect(m.message).toContain('mode');
    const u = errorOf(() => reg.use(acme, { moed: 'fast' } as never));
    expect(u.code).toBe(ErrorCodes.PLUGIN_OPTIONS);
    expect(u.message).toContain('moed');
    // nothing was added by the failed attempts
    expect(reg.plugins()).toEqual([]);
    expect(reg.hasPass('acme.Tile')).toBe(false);
  });

  it('rejects options for a plugin without a schema', () => {
    const plain = definePlugin({ name: 'plain', version: '0.1.0', passes: [tag('plain.A')] });
    expect(errorOf(() => createRegistry().use(plain, { x: 1 } as never)).code).toBe(
      ErrorCodes.PLUGIN_OPTIONS,
    );
    expect(() => createRegistry().use(plain)).not.toThrow();
  });

  it('refuses duplicate names, naming both owners, and stays unchanged', () => {
    const reg = createRegistry().use(acme);
    const cases = [
      definePlugin({ name: 'acme', version: '2.0.0' }),
      definePlugin({ name: 'other', version: '1', passes: [tag('other.A'), tag('acme.Tile')] }),
      definePlugin({ name: 'other', version: '1', ops: [{ name: 'acme.gelu' }] }),
      definePlugin({ name: 'other', version: '1', targets: [defineTargetKind({ kind: 'acme-npu' })] }),
      definePlugin({ name: 'other', version: '1', frontends: [{ name: 'acme-format' }] }),
    ];
    for (const p of cases) {
      const e = errorOf(() => reg.use(p));
      expect(e.code).toBe(ErrorCodes.PLUGIN_DUPLICATE);
      expect(e.message).toContain("'acme'");
      expect(e.message).toContain(`'${p.name}'`);
    }
    expect(reg.hasPass('other.A')).toBe(false);
    const cuda = errorOf(() =>
      reg.use(definePlugin({ name: 'nv', version: '1', targets: [defineTargetKind({ kind: 'cuda' })] })),
    );
    expect(cuda.code).toBe(ErrorCodes.PLUGIN_DUPLICATE);
    expect(cuda.details).toMatchObject({ owners: [BUILTIN_OWNER, 'nv'] });
    const self = errorOf(() =>
      reg.use(definePlugin({ name: 'twice', version: '1', passes: [tag('twice.A'), tag('twice.A')] })),
    );
    expect(self.code).toBe(ErrorCodes.PLUGIN_DUPLICATE);
  });

  it('rejects malformed contributions and wraps setup failures', () => {
    const bad = definePlugin({ name: 'bad', version: '1', frontends: [{ name: '' }] });
    expect(errorOf(() => createRegistry().use(bad)).code).toBe(ErrorCodes.PLUGIN_INVALID);
    const boom = definePlugin({
      name: 'boom',
      version: '1',
      setup: () => {
        throw new Error('no GPU');
      },
    });
    expect(errorOf(() => createRegistry().use(boom)).code).toBe(ErrorCodes.PLUGIN_INVALID);
  });

  it('parses pipelines and targets with what the plugins registered', () => {
    const reg = createRegistry().use(acme);
    const p = reg.parsePipeline('acme.Tile,seq(acme.Fold)');
    expect(p.toString()).toBe('acme.Tile,seq(acme.Fold)');
    expect(p.run(sampleModule()).attrs).toMatchObject({ 'acme.Tile': true, 'acme.Fold': true });
    const e = errorOf(() => reg.getPass('acme.Tiel'));
    expect(e.code).toBe(ErrorCodes.UNKNOWN_PASS);
    expect(e.message).toContain("did you mean 'acme.Tile'");
    const t = reg.parseTarget('acme-npu -cores=8');
    expect(t).toMatchObject({ kind: 'acme-npu', attrs: { cores: 8 } });
    expect(reg.targetToString(t)).toBe('acme-npu -cores=8');
    expect(reg.parseTarget('cuda -arch=sm_90')).toMatchObject({ arch: 'sm_90' });
    expect(errorOf(() => createRegistry().parseTarget('acme-npu')).code).toBe(ErrorCodes.UNKNOWN_TARGET);
  });
});
