// @kiln/ir-core: the ground every Kiln IR stands on.

export * from './arith/index.js';
export * from './dtype.js';
export * from './errors.js';
export * from './expr.js';
export * from './minifloat.js';
export * from './module.js';
export * from './node.js';
export * from './pass/index.js';
export * from './plugin/index.js';
export * from './structural.js';
export * from './target/index.js';
export * from './text/index.js';
export * from './visitor.js';
