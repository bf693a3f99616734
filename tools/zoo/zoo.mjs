#!/usr/bin/env node
// `npm run zoo -- [--models a,b] [--json <file>] [--cache <dir>]`: real-architecture models
// (torchvision CNNs, a ViT, BERT / DistilBERT / T5 / Whisper encoders with dynamic batch and
// sequence, an LSTM) exported from PyTorch, compiled once each with Kiln's default CPU
// pipeline, run at several input shapes from the same artifact and compared with ONNX
// Runtime (max |difference| / max |reference| ≤ 1e-4, and outputs of order > 1e-3 so the
// comparison means something). torch, torchvision, transformers and onnx are pip-installed
// into the cache on first use; the models are written there by tools/zoo/export_models.py.
// Ends with `zoo: N passed, M failed`; exits 1 on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromSource } from '../bundle-src.mjs';
import { ensurePythonPackages } from '../pyenv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ALL = [
  'squeezenet',
  'mnasnet',
  'shufflenet',
  'efficientnet_b0',
  'regnet',
  'googlenet',
  'convnext_tiny',
  'vit_small',
  'bert',
  'distilbert',
  't5_encoder',
  'whisper_encoder',
  'lstm',
];
const REL_TOL = 1e-4;
const MIN_SCALE = 1e-3;

function parseArgs(argv) {
  const o = { models: ALL, json: undefined, cache: join(root, '.cache') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--models') o.models = argv[++i].split(',').filter(Boolean);
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--cache') o.cache = resolve(argv[++i]);
    else {
      console.error(
        `unknown argument '${a}'\nusage: npm run zoo -- [--models a,b] [--json <file>] [--cache <dir>]`,
      );
      process.exit(2);
    }
  }
  for (const m of o.models)
    if (!ALL.includes(m)) {
      console.error(`unknown model '${m}' (known: ${ALL.join(', ')})`);
      process.exit(2);
    }
  return o;
}

function bundle(cache) {
  return bundleFromSource(join(here, 'zoo-core.ts'), join(cache, 'zoo', `zoo-core-${process.pid}.mjs`));
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = join(o.cache, 'zoo', 'models');
  mkdirSync(dir, { recursive: true });
  const missing = o.models.filter(
    (m) => !existsSync(join(dir, `${m}.onnx`)) || !existsSync(join(dir, `${m}.json`)),
  );
  if (missing.length) {
    const env = ensurePythonPackages(join(o.cache, 'bench-py'), [
      'torch',
      'torchvision',
      'transformers',
      'onnx',
    ]);
    const ex = spawnSync('python3', [join(here, 'export_models.py'), dir, ...missing], {
      env,
      stdio: 'inherit',
    });
    if (ex.status !== 0) throw new Error('exporting the zoo models failed');
  }
  const core = await import(await bundle(o.cache));
  const results = [];
  let passed = 0;
  let failed = 0;
  for (const m of o.models) {
    let line;
    try {
      const r = await core.checkModel(join(dir, `${m}.onnx`), join(dir, `${m}.json`));
      const bad = r.runs.filter((x) => !(x.relErr <= REL_TOL) || !(x.maxRef > MIN_SCALE));
      const runs = r.runs.map((x) => `${x.shape} rel ${x.relErr.toExponential(1)}`).join('; ');
      line = `${bad.length ? 'FAIL' : 'ok  '} ${m.padEnd(16)} compile ${r.compileSeconds.toFixed(1)} s (${Object.entries(
        r.phases,
      )
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}), ${r.kernels} launches of ${r.distinctKernels} kernels; ${runs}`;
      if (bad.length) failed++;
      else passed++;
      results.push({ model: m, ok: !bad.length, ...r });
    } catch (e) {
      failed++;
      line = `FAIL ${m.padEnd(16)} ${e.code ? `${e.code}: ` : ''}${String(e.message ?? e).split('\n')[0]}`;
      results.push({ model: m, ok: false, error: String(e.message ?? e) });
    }
    console.log(line);
  }
  if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`zoo: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
