// Operator constructors (`op.add(a, b)`, `op.matmul(a, b)`, ...) build unnormalized
// calls; BlockBuilder.emit normalizes them through the op registry.
export * from './core.js';
export * from './create.js';
export * from './elemwise.js';
export * from './index-ops.js';
export * from './linalg.js';
export * from './manip.js';
export * from './nn.js';
export * from './reduce.js';
