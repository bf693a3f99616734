// The passes through a registry: pipeline text parses, prints back and runs.
import { createRegistry, sequential } from '@kiln/ir-core';
import { CallTIRRewrite, LegalizeOps, StaticPlanBlockMemory, ToNonDataflow } from '@kiln/relax';
import { expect, it } from 'vitest';
import { passesFusionPlugin } from './plugin.js';
import { rand, runOnVM, smallCNN } from './testing/vm.js';

it('pipeline text with the fusion passes parses, prints back and runs', () => {
  const reg = createRegistry().use(passesFusionPlugin);
  const text =
    'relax.ConvertLayout(layout=NCHW4c),relax.AnnotateTIROpPattern,relax.FuseOps(maxDepth=8),relax.FuseTIR(inline=false)';
  const p = reg.parsePipeline(text);
  expect(p.toString()).toBe(text);
  expect(() => reg.parsePipeline('relax.FuseOps(maxDepth=0)')).toThrow(
    expect.objectContaining({ code: 'PASS_OPTIONS' }),
  );
  // ConvertLayout goes before legalization, the rest after it
  const [convert, ...rest] = p.passes!;
  const full = sequential([
    convert,
    LegalizeOps,
    ...rest,
    ToNonDataflow,
    CallTIRRewrite,
    StaticPlanBlockMemory,
  ]);
  const plain = sequential([LegalizeOps, ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory]);
  const inp = [{ data: rand(4 * 64, 3), shape: [1, 4, 8, 8] }];
  const a = runOnVM(full.run(smallCNN()), inp);
  const b = runOnVM(plain.run(smallCNN()), inp);
  for (let i = 0; i < 10; i++) expect(a.outputs[0][i]).toBeCloseTo(b.outputs[0][i], 4);
  expect(a.launches).toBeLessThan(b.launches);
});
