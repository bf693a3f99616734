// The reference interpreter's public surface.
export * from './interpreter.js';
