#!/usr/bin/env node
// `npm run bench -- [--models a,b] [--threads 1,2] [--json <file>] [--runs N] [--settle ms]`
// Kiln against onnxruntime-node on the benchmark models. For each model and thread
// count, in this one process: import the ONNX file with Kiln's ONNX frontend, compile it
// for the host CPU with that many threads (compile seconds reported), then time Kiln and
// ONNX Runtime (all graph optimizations, the same intra-op threads) alternately, after a
// warm-up, and report the median of the runs; the outputs must agree.
// The models come from tools/bench/export_models.py, which runs with torch, torchvision
// and transformers pip-installed into .cache/bench-py (done here on first use) and writes
// .cache/bench/<model>.onnx. The pseudo-model `matmul` runs the 1024³ matmul
// micro-benchmark with the machine's measured FMA peak (tools/bench/matmul.mjs);
// `bert_dynamic` is the BERT encoder exported with a dynamic batch and sequence, run at 4 x 128.
// Needs a build first: npx nx run-many -t build --projects=@kiln/cli
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '@kiln/cli';
import { fromOnnx } from '@kiln/frontends-onnx';
import { hostTarget } from '@kiln/ir-core';
import { createRuntime, Tensor, writeArtifact } from '@kiln/runtime';
import * as ort from 'onnxruntime-node';
import { ensurePythonPackages } from '../pyenv.mjs';
import { runMatmulBench } from './matmul.mjs';

const root = new URL('../..', import.meta.url).pathname;
const ALL_MODELS = ['matmul', 'mlp', 'bert', 'mobilenetv2', 'resnet18', 'bert_dynamic'];

function parseArgs(argv) {
  const o = {
    models: ALL_MODELS,
    threads: [1, 2],
    json: undefined,
    runs: 30,
    warmup: 5,
    settle: 50,
    cache: join(root, '.cache'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--models') o.models = val().split(',').filter(Boolean);
    else if (a === '--threads') o.threads = val().split(',').map(Number);
    else if (a === '--json') o.json = val();
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--settle') o.settle = Number(val());
    else if (a === '--cache') o.cache = val();
    else
      throw new Error(
        `unknown option ${a} (options: --models a,b --threads 1,2 --json file --runs N --warmup N --settle ms --cache dir)`,
      );
  }
  for (const m of o.models)
    if (!ALL_MODELS.includes(m)) throw new Error(`unknown model '${m}' (models: ${ALL_MODELS.join(', ')})`);
  if (o.runs < 30) throw new Error('--runs must be at least 30');
  return o;
}

/** Install the Python packages once into the cache, then export the requested models. */
function ensureModels(models, cache) {
  const names = models.filter((m) => m !== 'matmul');
  const dir = join(cache, 'bench');
  if (names.every((m) => existsSync(join(dir, `${m}.onnx`)))) return dir;
  const env = ensurePythonPackages(join(cache, 'bench-py'), ['torch', 'torchvision', 'transformers', 'onnx']);
  const ex = spawnSync('python3', [join(root, 'tools/bench/export_models.py'), dir, ...names], {
    env,
    stdio: 'inherit',
  });
  if (ex.status !== 0) throw new Error('exporting the benchmark models failed');
  return dir;
}

function randomInput(shape, seed) {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function compare(got, want) {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-12) };
}

async function benchModel(name, dir, threads, opts) {
  const file = join(dir, `${name}.onnx`);
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const row = { model: name, threads };
  const inputs = meta.inputs.map((inp, i) => ({ ...inp, data: randomInput(inp.shape, 1234 + i) }));
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = Object.fromEntries(
    inputs.map((inp) => [inp.name, new ort.Tensor('float32', inp.data, inp.shape)]),
  );
  const runOrt = () => session.run(feeds);
  let kilnMain;
  let exe;
  try {
    const t0 = performance.now();
    const mod = fromOnnx(file);
    const res = compileModule(mod, { target: { ...hostTarget(), numThreads: threads } });
    row.compileSeconds = (performance.now() - t0) / 1000;
    row.kernels = res.stats.kernels;
    exe = createRuntime().load(writeArtifact(res.artifact));
    const main = exe.getFunction('main');
    const tensors = inputs.map((inp) => Tensor.fromTypedArray(inp.data, inp.shape, 'float32'));
    kilnMain = () => main(...tensors);
  } catch (e) {
    row.error = `${e.code ?? e.name}: ${String(e.message).split('\n')[0]}`;
  }
  const ortOut = (await runOrt()).output.data;
  if (kilnMain) {
    const out = kilnMain();
    const y = (Array.isArray(out) ? out[0] : out).toTypedArray();
    const cmp = compare(y, ortOut);
    row.maxAbsErr = cmp.maxAbs;
    row.relErr = cmp.rel;
    row.agree = cmp.rel <= 1e-3;
  }
  const tk = [];
  const to = [];
  // Alternate in rounds, so a disturbance of the shared machine hits both sides alike.
  // Both engines' idle workers spin for a while after a parallel region; a round starts
  // after `settle` ms of quiet (so the other engine's workers have gone to sleep and do
  // not hold the cores this engine's workers need) and with warm-up runs.
  const rounds = 6;
  const settle = () => new Promise((res) => setTimeout(res, opts.settle));
  // Small models run for a fraction of a millisecond: a round of a few runs would time
  // mostly the refill of caches the other engine evicted. Each round runs for at least
  // ROUND_MS per engine after WARM_MS of warm-up runs (at least --runs runs in all).
  const ROUND_MS = 20;
  const WARM_MS = 5;
  const estimate = async (fn) => {
    for (let i = 0; i < opts.warmup; i++) await fn();
    const s = performance.now();
    for (let i = 0; i < 3; i++) await fn();
    return (performance.now() - s) / 3;
  };
  const tOrt = await estimate(runOrt);
  const tKiln = kilnMain ? await estimate(kilnMain) : tOrt;
  const t = Math.max(Math.min(tOrt, tKiln), 1e-3);
  const perRound = Math.max(Math.ceil(opts.runs / rounds), Math.ceil(ROUND_MS / t));
  const warm = Math.max(1, Math.ceil(WARM_MS / t));
  for (let r = 0; r < rounds; r++) {
    await settle();
    for (let i = 0; i < warm; i++) await runOrt();
    for (let i = 0; i < perRound; i++) {
      const s = performance.now();
      await runOrt();
      to.push(performance.now() - s);
    }
    if (!kilnMain) continue;
    await settle();
    for (let i = 0; i < warm; i++) kilnMain();
    for (let i = 0; i < perRound; i++) {
      const s = performance.now();
      kilnMain();
      tk.push(performance.now() - s);
    }
  }
  row.runs = to.length;
  row.ortMs = median(to);
  if (kilnMain) {
    row.kilnMs = median(tk);
    row.ratio = row.kilnMs / row.ortMs;
  }
  exe?.dispose?.();
  await session.release?.();
  return row;
}

function printTable(rows) {
  const head = [
    'model',
    'threads',
    'kiln ms',
    'ort ms',
    'kiln/ort',
    'compile s',
    'kernels',
    'agree (rel err)',
  ];
  const lines = rows.map((r) => [
    r.model,
    String(r.threads),
    r.kilnMs !== undefined ? r.kilnMs.toFixed(2) : 'n/a',
    r.ortMs.toFixed(2),
    r.ratio !== undefined ? r.ratio.toFixed(2) : 'n/a',
    r.compileSeconds !== undefined ? r.compileSeconds.toFixed(1) : 'n/a',
    r.kernels !== undefined ? String(r.kernels) : '',
    r.error ? `error: ${r.error}` : `${r.agree ? 'yes' : 'NO'} (${r.relErr.toExponential(1)})`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l) => `| ${l.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  console.log(fmt(head));
  console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}

const opts = parseArgs(process.argv.slice(2));
const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown CPU';
console.log(`host: ${cpu}; target ${hostTarget().mcpu}; ort ${ort.env.versions?.common ?? ''}`);
const result = { cpu, matmul: [], models: [] };
if (opts.models.includes('matmul')) {
  for (const t of opts.threads) result.matmul.push(runMatmulBench({ threads: t }));
}
const modelNames = opts.models.filter((m) => m !== 'matmul');
if (modelNames.length) {
  const dir = ensureModels(modelNames, opts.cache);
  for (const m of modelNames) {
    for (const t of opts.threads) {
      const row = await benchModel(m, dir, t, opts);
      console.log(
        `${m} x${t}: kiln ${row.kilnMs?.toFixed(2) ?? 'n/a'} ms, ort ${row.ortMs.toFixed(2)} ms${row.error ? ` (${row.error})` : ''}`,
      );
      result.models.push(row);
    }
  }
  printTable(result.models);
}
if (opts.json) {
  mkdirSync(join(opts.json, '..'), { recursive: true });
  writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
}
