#!/usr/bin/env node
// `npm start`: Kiln's main job on the bundled example. Until the CPU end-to-end path
// lands (issue 5), it prints the package map of the built workspace and what each
// package exports, so a fresh checkout shows what is there.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
console.log('Kiln — a machine-learning compiler in TypeScript\n');
console.log('package                  version  exports');
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const pj = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
  let count = 0;
  try {
    const mod = await import(join(root, 'packages', name, 'dist', 'index.js'));
    count = Object.keys(mod).length;
  } catch (e) {
    count = -1;
  }
  console.log(`${pj.name.padEnd(24)} ${pj.version.padEnd(8)} ${count < 0 ? 'not built' : `${count} symbols`}`);
}
