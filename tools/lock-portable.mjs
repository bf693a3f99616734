#!/usr/bin/env node
// Makes package-lock.json acceptable to `npm ci` on machines whose registry serves only
// this platform's builds of packages with per-platform optional dependencies (esbuild, nx,
// biome, rollup ...): npm then leaves the other platforms' entries out of the lock, and
// `npm ci` refuses the lock as "out of sync". This adds a stub entry (version, optional)
// for each missing optional dependency; npm ci skips optional packages it cannot install.
// Run after `npm install` changes the lock: node tools/lock-portable.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [loc, entry] of Object.entries(pkgs)) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${loc ? `${loc}/` : ''}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (pkgs[nested] || pkgs[hoisted]) continue;
    const version = String(spec).replace(/^[\^~=]/, '');
    pkgs[hoisted] = { version, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-portable: ${added} optional platform entries added`);
