// Target descriptions, their string form, and host detection.

export * from './host.js';
export * from './target.js';
export * from './types.js';
