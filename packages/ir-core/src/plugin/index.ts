// Plugins and the per-compiler registry.
export * from './plugin.js';
