import type { Pass } from '@kiln/ir-core';
import {
  buffer,
  bufferLoad,
  call,
  createPassContext,
  getFunction,
  irModule,
  isKilnError,
  mul,
  parsePipeline,
  wellFormedInstrument,
} from '@kiln/ir-core';
import { describe, expect, it } from 'vitest';
import type { PrimFunc } from '../stmt.js';
import { block, blockRealize, bufferStore, forLoop, iterVar, loopVar, primFunc } from '../stmt.js';
import { wellFormed } from '../well_formed.js';
import {
  ConvertBlocksToLoops,
  FlattenBuffer,
  InjectThreadBindings,
  LOWERED_CONTRACT,
  LowerInitBlock,
  LowerIntrinsics,
  lowerForCodegen,
  lowerModule,
  lowerPrimFunc,
  PROP_LOWERED,
  RemoveNoOp,
  Simplify,
  StorageRewrite,
  UnrollLoop,
  VectorizeLoop,
  VerifyLowered,
} from './index.js';
import { expectIREqual } from './test_util.js';
import { verifyLowered } from './verify_lowered.js';

function scaled(): PrimFunc {
  const A = buffer('A', 'float32', [4, 8]);
  const B = buffer('B', 'float32', [4, 8]);
  const [i, j, vi, vj] = [loopVar('i'), loopVar('j'), loopVar('vi'), loopVar('vj')];
  const blk = block(
    'B',
    bufferStore(B, mul(call('float32', 'tir.rsqrt', [bufferLoad(A, [vi, vj])]), 2), [vi, vj]),
    {
      iterVars: [iterVar(vi, [0, 4]), iterVar(vj, [0, 8])],
    },
  );
  return primFunc(
    [A, B],
    blockRealize(
      [],
      true,
      block(
        'root',
        forLoop(i, 0, 4, forLoop(j, 0, 8, blockRealize([i, j], true, blk), { kind: 'vectorized' })),
      ),
    ),
  );
}

const ALL: readonly Pass[] = [
  LowerInitBlock,
  ConvertBlocksToLoops,
  FlattenBuffer,
  LowerIntrinsics,
  Simplify,
  InjectThreadBindings,
  VectorizeLoop,
  StorageRewrite,
  UnrollLoop,
  RemoveNoOp,
  VerifyLowered,
] as readonly Pass[];

describe('tir lowering passes', () => {
  it('are prim_func passes named tir.*', () => {
    for (const p of ALL) {
      expect(p.kind).toBe('prim_func');
      expect(p.name.startsWith('tir.')).toBe(true);
    }
    expect(lowerForCodegen.passes?.map((p) => p.name)).toEqual([
      'tir.LowerInitBlock',
      'tir.ConvertBlocksToLoops',
      'tir.FlattenBuffer',
      'tir.LowerIntrinsics',
      'tir.LegalizeLowPrecision',
      'tir.Simplify',
      'tir.InjectThreadBindings',
      'tir.VectorizeLoop',
      'tir.StorageRewrite',
      'tir.UnrollLoop',
      'tir.Simplify',
      'tir.RemoveNoOp',
      'tir.VerifyLowered',
    ]);
  });

  it('tir.lowerForCodegen on a module equals lowerPrimFunc, marks it lowered, and every step is well-formed', () => {
    const fn = scaled();
    const mod = irModule({ main: fn });
    const ctx = createPassContext({ instruments: [wellFormedInstrument()] });
    const out = lowerForCodegen.run(mod, ctx);
    const lowered = getFunction(out, 'main') as PrimFunc;
    expectIREqual(lowered, lowerPrimFunc(fn));
    expect(verifyLowered(lowered)).toEqual([]);
    expect(wellFormed(lowered)).toEqual([]);
    expect(out.attrs['kiln.properties']).toContain(PROP_LOWERED);
    expectIREqual(getFunction(lowerModule(mod), 'main') as PrimFunc, lowered);
  });

  it('is idempotent on lowered TIR: lowering again changes nothing', () => {
    const once = lowerPrimFunc(scaled());
    expect(lowerPrimFunc(once)).toBe(once);
  });

  it('passes take their options (validated), and print as pipeline text', () => {
    expect(UnrollLoop.withOptions({ maxExtent: 8 }).toString()).toBe('tir.UnrollLoop(maxExtent=8)');
    try {
      UnrollLoop.withOptions({ maxExtent: -2 });
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e)).toBe(true);
    }
    const registry = {
      getPass: (n: string): Pass => ALL.find((p) => p.name === n) ?? expect.fail(`no pass ${n}`),
    };
    const p = parsePipeline('tir.ConvertBlocksToLoops,tir.VectorizeLoop(maxLanes=4)', registry);
    expect(p.toString()).toBe('tir.ConvertBlocksToLoops,tir.VectorizeLoop(maxLanes=4)');
    const out = getFunction(p.run(irModule({ main: scaled() })), 'main') as PrimFunc;
    // 8 lanes > maxLanes=4: no lanes formed; the legal loop stays a `vectorized` hint.
    const inner = out.body.kind === 'For' && out.body.body;
    expect(inner && inner.kind === 'For' && inner.forKind).toBe('vectorized');
  });

  it('VerifyLowered rejects block-structured TIR with a stable code', () => {
    try {
      VerifyLowered.run(irModule({ main: scaled() }));
      expect.fail('expected an error');
    } catch (e) {
      expect(isKilnError(e, LOWERED_CONTRACT)).toBe(true);
    }
  });

  it('returns the same function when nothing changes (properties aside)', () => {
    const fn = lowerPrimFunc(scaled());
    const mod = irModule({ main: fn });
    for (const p of ALL) expect(getFunction(p.run(mod), 'main'), p.name).toBe(fn);
  });
});
