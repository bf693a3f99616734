// @kiln/ir-core arith: symbolic integer arithmetic. A reference evaluator, constant-bound
// and interval-set analyses, the canonicalizing simplifier and the provers built on them.

export type { BindingLike, IntervalLike } from './analyzer.js';
export { Analyzer, canonicalDifference, constIntBound, provablyEqual, simplify } from './analyzer.js';
export type { ConstIntBound } from './bound.js';
export { dtypeBound, intersectBound, unionBound } from './bound.js';
export type { EvalEnv } from './evaluate.js';
export { evaluate, evaluateLanes, extractLane } from './evaluate.js';
export type { IntervalSet } from './int-set.js';
export { EVERYTHING_SET, intervalSet, isSinglePoint, pointSet } from './int-set.js';
export type { LinearEquation } from './linear.js';
export { detectConstLinear, detectLinearEquation } from './linear.js';
export {
  applyBinary,
  asConstInt,
  castValue,
  compareExpr,
  floorDiv as floorDivInt,
  floorMod as floorModInt,
  isConst,
  truncDiv as truncDivInt,
  truncMod as truncModInt,
} from './util.js';
