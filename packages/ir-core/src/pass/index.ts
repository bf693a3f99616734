// Pass infrastructure: passes, sequential pipelines and their text form, the pass
// context, instruments, and the well-formedness checker table.

export * from './context.js';
export * from './dump.js';
export * from './instruments.js';
export * from './options.js';
export * from './pass.js';
export * from './pipeline.js';
export * from './well-formed.js';
