// Operator constructors (`op.add(a, b)`, `op.matmul(a, b)`, ...) build unnormalized
// calls; BlockBuilder.emit normalizes them through the op registry.
export * from './core.js';
export * from './elemwise.js';
