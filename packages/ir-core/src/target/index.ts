// Target descriptions, their string form, and host detection.
export * from './types.js';
export * from './host.js';
export * from './target.js';
