#!/usr/bin/env node
// Enforces the package dependency direction of DESIGN.md: a package may import only the
// @kiln packages its row allows, and never another package's src/ directly.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ALLOWED = {
  'ir-core': [],
  tensorir: ['ir-core'],
  schedule: ['ir-core', 'tensorir'],
  relax: ['ir-core', 'tensorir', 'runtime:type'],
  'passes-fusion': ['ir-core', 'tensorir', 'relax'],
  'frontends-onnx': ['ir-core', 'relax'],
  'frontends-torch': ['ir-core', 'relax'],
  'codegen-llvm': ['ir-core', 'tensorir', 'runtime'],
  'codegen-cuda': ['ir-core', 'tensorir', 'runtime'],
  'codegen-metal': ['ir-core', 'tensorir', 'runtime'],
  'codegen-vulkan': ['ir-core', 'tensorir', 'runtime'],
  runtime: [],
  cli: ['*'],
};
// Tests may use more (e.g. a codegen test builds kernels with the schedule package),
// but never the compiler from the runtime.
const TEST_EXTRA = { runtime: [] };

const root = new URL('..', import.meta.url).pathname;
const problems = [];
function walk(dir, out) {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'dist' || e === '__fixtures__') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(e)) out.push(p);
  }
  return out;
}
const IMPORT_RE =
  /(import\s+type\s+[^;]*?from\s+|export\s+type\s+[^;]*?from\s+|from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g;
for (const pkg of Object.keys(ALLOWED)) {
  const dir = join(root, 'packages', pkg);
  let files = [];
  try {
    files = walk(join(dir, 'src'), []);
  } catch {
    continue;
  }
  const deps = Object.keys(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies ?? {});
  for (const f of files) {
    const isTest = /\.test(-util)?\.ts$/.test(f) || f.includes('/testing/');
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[2];
      const where = relative(root, f);
      if (spec.startsWith('.')) {
        const resolved = resolve(dirname(f), spec);
        if (!resolved.startsWith(dir + sep) && !resolved.startsWith(join(root, 'tools') + sep)) {
          problems.push(
            `${where}: reaches outside its package with '${spec}' (import other packages through @kiln/<name>)`,
          );
        }
        continue;
      }
      if (!spec.startsWith('@kiln/')) continue;
      const target = spec.slice('@kiln/'.length).split('/')[0];
      if (target === pkg) {
        problems.push(`${where}: imports its own package through '${spec}'`);
        continue;
      }
      const allowed = ALLOWED[pkg];
      // `name:type` allows type-only imports (`import type`): the VM lowering emits the
      // runtime's bytecode format without depending on the runtime at run time.
      const typeOnly = /^(import|export)\s+type\b/.test(m[1]);
      const ok =
        allowed.includes('*') ||
        allowed.includes(target) ||
        (allowed.includes(`${target}:type`) && typeOnly) ||
        (isTest && !(pkg in TEST_EXTRA));
      if (!ok)
        problems.push(
          `${where}: @kiln/${pkg} may not import '${spec}' (allowed: ${allowed.join(', ') || 'nothing'})`,
        );
      if (ok && !isTest && !deps.includes(`@kiln/${target}`)) {
        problems.push(
          `${where}: imports '${spec}' but packages/${pkg}/package.json does not list @kiln/${target}`,
        );
      }
    }
  }
}
if (problems.length) {
  console.error(`Package boundary violations (${problems.length}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('package boundaries: ok');
