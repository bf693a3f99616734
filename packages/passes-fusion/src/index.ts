// @kiln/passes-fusion: operator fusion and layout rewrites over Relax. Every pass is an
// independent export that a custom pipeline can add, drop or reorder.
export {
  AnnotateTIROpPattern,
  analyzeOpPattern,
  isOpPattern,
  maxPattern,
  opPatternOf,
  PATTERN_RANK,
} from './annotate-tir-op-pattern.js';
export { ConvertLayout, type ConvertLayoutOptions, convertLayout } from './convert-layout.js';
export { FuseOps, type FuseOpsOptions, fuseOps } from './fuse-ops.js';
export {
  createFuseOpsByPattern,
  FuseOpsByPattern,
  type FusionPattern,
  fuseOpsByPattern,
  isConst,
  isOp,
  optional,
  or,
  type Pattern,
  type PatternMatch,
  parsePattern,
  wildcard,
} from './fuse-ops-by-pattern.js';
export { FuseTIR, type FuseTIROptions, fuseTIR, inlineProducers, mergePrimitive } from './fuse-tir.js';
export { passesFusionPlugin } from './plugin.js';
export {
  AttachLayoutFreeBuffers,
  attachLayoutFreeBuffers,
  LAYOUT_FREE_ATTR,
  PrepackWeights,
  prepackWeights,
} from './prepack-weights.js';
