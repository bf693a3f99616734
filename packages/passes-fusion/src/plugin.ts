// The package as a plugin: `registry.use(passesFusionPlugin)` makes its passes available to
// pipeline text (`relax.FuseOps(maxDepth=8)`) next to everyone else's.
import { definePlugin } from '@kiln/ir-core';
import { AnnotateTIROpPattern } from './annotate-tir-op-pattern.js';
import { ConvertLayout } from './convert-layout.js';
import { FuseOps } from './fuse-ops.js';
import { FuseOpsByPattern } from './fuse-ops-by-pattern.js';
import { FuseTIR } from './fuse-tir.js';
import { AttachLayoutFreeBuffers, PrepackWeights } from './prepack-weights.js';

export const passesFusionPlugin = definePlugin({
  name: '@kiln/passes-fusion',
  version: '0.0.0',
  passes: [
    AnnotateTIROpPattern,
    FuseOps,
    FuseTIR,
    FuseOpsByPattern,
    ConvertLayout,
    AttachLayoutFreeBuffers,
    PrepackWeights,
  ],
});
