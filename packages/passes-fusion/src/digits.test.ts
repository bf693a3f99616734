// The bundled digits CNN (trained weights, reference logits from PyTorch) compiled natively
// with ConvertLayout + FuseOps + FuseTIR: fewer kernels, the same logits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule, loadModel, readNpy } from '@kiln/cli';
import { fromOnnx } from '@kiln/frontends-onnx';
import { sequential } from '@kiln/ir-core';
import { CallTIRRewrite, LegalizeOps, StaticPlanBlockMemory, ToNonDataflow } from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { ConvertLayout } from './convert-layout.js';
import { FuseOps } from './fuse-ops.js';
import { FuseTIR } from './fuse-tir.js';
import { maxRelErr } from './testing/vm.js';

const ex = join(import.meta.dirname, '..', '..', '..', 'examples', 'digits');
const lower = [ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory];

describe('the digits example with fusion', () => {
  it('matches the PyTorch logits with fewer kernels', async () => {
    const batch = readNpy(join(ex, 'samples', 'batch8.npy'));
    const logits = readNpy(join(ex, 'samples', 'batch8_logits.npy'));
    const want = new Float32Array(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength / 4);
    const xs = new Float32Array(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength / 4);
    const plain = compileModule(await loadModel(join(ex, 'digits_model.mjs')), {
      relaxPipeline: sequential([LegalizeOps, ...lower]),
    });
    const fused = compileModule(await loadModel(join(ex, 'digits_model.mjs')), {
      relaxPipeline: sequential([
        ConvertLayout,
        LegalizeOps,
        AnnotateTIROpPattern,
        FuseOps,
        FuseTIR,
        ...lower,
      ]),
    });
    const fusedOnly = compileModule(await loadModel(join(ex, 'digits_model.mjs')), {
      relaxPipeline: sequential([LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR, ...lower]),
    });
    const run = (r: typeof plain) =>
      (
        createRuntime()
          .load(r.artifact)
          .call('main', Tensor.fromTypedArray(xs, [...batch.shape])) as Tensor
      ).toTypedArray() as Float32Array;
    expect(maxRelErr(run(fused), want)).toBeLessThan(1e-3);
    expect(maxRelErr(run(fused), run(plain))).toBeLessThan(1e-4);
    expect(maxRelErr(run(fusedOnly), want)).toBeLessThan(1e-3);
    // conv+bias+relu ×2, pool, flatten, linear+relu, linear
    expect([plain.stats.kernels, fusedOnly.stats.kernels]).toEqual([11, 6]);
    // NCHW8c: a transform into the conv region, whose exit transform fuses with the flatten
    expect(fused.stats.kernels).toBe(7);
    // the ONNX import of the same network (plain binding blocks, no dataflow) fuses alike
    const onnx = compileModule(fromOnnx(readFileSync(join(ex, 'digits_cnn.onnx'))), {
      relaxPipeline: sequential([LegalizeOps, AnnotateTIROpPattern, FuseOps, FuseTIR, ...lower]),
    });
    expect(onnx.stats.kernels).toBe(6);
    expect(maxRelErr(run(onnx), want)).toBeLessThan(1e-3);
    console.log(
      `digits CNN kernels: ${plain.stats.kernels} → ${fusedOnly.stats.kernels} fused (${fused.stats.kernels} with NCHW8c)`,
    );
  });
});
