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
export { FuseOps, fuseOps, type FuseOpsOptions } from './fuse-ops.js';
export { FuseTIR, fuseTIR, type FuseTIROptions, inlineProducers, mergePrimitive } from './fuse-tir.js';
export {
  createFuseOpsByPattern,
  FuseOpsByPattern,
  fuseOpsByPattern,
  type FusionPattern,
  isConst,
  isOp,
  optional,
  or,
  parsePattern,
  type Pattern,
  type PatternMatch,
  wildcard,
} from './fuse-ops-by-pattern.js';
export { ConvertLayout, convertLayout, type ConvertLayoutOptions } from './convert-layout.js';
export { passesFusionPlugin } from './plugin.js';
