// @kiln/relax: the graph IR with first-class symbolic shapes (StructInfo), the
// BlockBuilder and normalizer, the operator registry with StructInfo inference and
// legalization to TensorIR, well-formedness, and graph passes.

export {
  constDim,
  dimAdd,
  dimFloorDiv,
  dimFloorMod,
  dimMax,
  dimMin,
  dimMul,
  dimProduct,
  dimSub,
  simplifyDim,
} from './arith.js';
export * from './block-builder.js';
export * from './eval.js';
export * from './ir/expr.js';
export * from './ir/nodes.js';
export * from './ir/struct-info.js';
export { callTE, emitTE, placeholderFor } from './legalize/te-call.js';
export type { OpSource } from './op/builtin.js';
export { BUILTIN_LEGALIZATIONS, BUILTIN_OPS, createOpRegistry, listOps } from './op/builtin.js';
export * as op from './op/index.js';
export * from './op/registry.js';
export {
  parseRelaxFunction,
  parseStructInfo,
  printRelaxFunction,
  RELAX_KEYWORDS,
  RelaxParser,
  RelaxPrinter,
} from './text/index.js';
export { CanonicalizeBindings, canonicalizeBindings } from './transform/canonicalize-bindings.js';
export type { DCEOptions } from './transform/dead-code-elimination.js';
export {
  createDeadCodeElimination,
  DeadCodeElimination,
  deadCodeElimination,
} from './transform/dead-code-elimination.js';
export {
  DeduplicatePrimFuncs,
  deduplicatePrimFuncs,
  findDuplicatePrimFuncs,
} from './transform/deduplicate-prim-funcs.js';
export type { CSEOptions } from './transform/eliminate-common-subexpr.js';
export {
  createEliminateCommonSubexpr,
  EliminateCommonSubexpr,
  eliminateCommonSubexpr,
} from './transform/eliminate-common-subexpr.js';
export type { FoldConstantOptions } from './transform/fold-constant.js';
export { createFoldConstant, FoldConstant, foldConstant } from './transform/fold-constant.js';
export type { LegalizeFn, LegalizeOptions } from './transform/legalize-ops.js';
export { createLegalizeOps, LegalizeOps, legalizeModule } from './transform/legalize-ops.js';
export * from './vm/index.js';
export * from './well-formed.js';
