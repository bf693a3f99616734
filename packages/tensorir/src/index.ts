// @kiln/tensorir: TensorIR, the loop-level IR for kernels.
export type { Buffer, BufferLoad, Range } from '@kiln/ir-core';
export { buffer, bufferLoad, range } from '@kiln/ir-core';
export * from './abi.js';
export * from './stmt.js';
export * from './te/index.js';
export * from './text/index.js';
export * from './transform/index.js';
