// @kiln/ir-core arith: symbolic integer arithmetic. A reference evaluator, constant-bound
// and interval-set analyses, the canonicalizing simplifier and the provers built on them.
export { evaluate } from './evaluate.js';
export type { EvalEnv } from './evaluate.js';
export type { ConstIntBound } from './bound.js';
export { dtypeBound, intersectBound, unionBound } from './bound.js';
export type { IntervalSet } from './int-set.js';
export { intervalSet, pointSet, isSinglePoint, EVERYTHING_SET } from './int-set.js';
export { Analyzer, simplify, constIntBound, provablyEqual, canonicalDifference } from './analyzer.js';
export type { BindingLike, IntervalLike } from './analyzer.js';
export { detectLinearEquation, detectConstLinear } from './linear.js';
export type { LinearEquation } from './linear.js';
export {
  isConst,
  asConstInt,
  compareExpr,
  castValue,
  applyBinary,
  floorDiv as floorDivInt,
  floorMod as floorModInt,
  truncDiv as truncDivInt,
  truncMod as truncModInt,
} from './util.js';
