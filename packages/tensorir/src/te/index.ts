// @kiln/tensorir's tensor-expression DSL and the pieces that come with it: NDArray,
// intrinsics, the reference interpreter, the well-formedness checker and small analyses.
// (Re-exported from the package index with one appended line.)

export * from '../analysis/index.js';
export * from '../interpreter/index.js';
export * from '../intrinsics.js';
export * from '../ndarray.js';
export * from '../well_formed.js';
export * from './create_prim_func.js';
export * from './tensor.js';
