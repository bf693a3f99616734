// Matmul micro-benchmark: a 1024×1024×1024 float32 matmul built with the tensor-expression
// DSL, scheduled by the default CPU schedule, compiled by codegen-llvm and called through
// koffi; in the same run a C loop of independent FMAs (compiled with cc for the host's
// vector width) measures the machine's peak FMA throughput, and the matmul's share of it
// is printed. Both use the best of N runs: on a shared machine the best run is the one
// least disturbed by other processes, for the peak loop and the matmul alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCPU } from '@kiln/codegen-llvm';
import { hostTarget, mul } from '@kiln/ir-core';
import { defaultCPUSchedule } from '@kiln/schedule';
import {
  allClose,
  compute,
  createPrimFunc,
  interpret,
  lowerPrimFunc,
  ndarray,
  placeholder,
  randomNDArray,
  reduceAxis,
  sum,
} from '@kiln/tensorir';
import koffi from 'koffi';

/** C source of the peak loop: 24 independent FMA chains (the FMA latency is 4 cycles, two ports). */
function peakSource(lanes) {
  const acc = Array.from({ length: 24 }, (_, k) => `a${k}`);
  return [
    `typedef float vf __attribute__((vector_size(${lanes * 4})));`,
    'double kiln_fma_peak(long iters) {',
    `  vf m, c, ${acc.join(', ')};`,
    `  for (int i = 0; i < ${lanes}; i++) { m[i] = 0.999999f; c[i] = 1e-7f; ${acc.map((a, k) => `${a}[i] = (float)(i + ${k});`).join(' ')} }`,
    '  for (long it = 0; it < iters; it++) {',
    ...acc.map((a) => `    ${a} = ${a} * m + c;`),
    '  }',
    `  vf s = ${acc.join(' + ')};`,
    '  double r = 0;',
    `  for (int i = 0; i < ${lanes}; i++) r += s[i];`,
    '  return r;',
    '}',
    '',
  ].join('\n');
}

function bestOf(runs, f) {
  let best = Number.POSITIVE_INFINITY;
  const all = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    const dt = performance.now() - t0;
    all.push(dt);
    best = Math.min(best, dt);
  }
  all.sort((a, b) => a - b);
  return { best, median: all[Math.floor(all.length / 2)] };
}

/** Peak single-thread FMA throughput in GFLOP/s (2 flops per lane per FMA). */
export function measurePeak(target) {
  const avx512 = target.features.includes('+avx512f');
  const lanes = avx512 ? 16 : 8;
  const dir = mkdtempSync(join(tmpdir(), 'kiln-peak-'));
  try {
    writeFileSync(join(dir, 'peak.c'), peakSource(lanes));
    const flags = avx512 ? ['-mavx512f', '-mprefer-vector-width=512'] : ['-mavx2'];
    const cc = spawnSync(
      'cc',
      [
        '-O2',
        '-mfma',
        '-ffp-contract=fast',
        ...flags,
        '-shared',
        '-fPIC',
        '-o',
        join(dir, 'peak.so'),
        join(dir, 'peak.c'),
      ],
      { encoding: 'utf8' },
    );
    if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
    const lib = koffi.load(join(dir, 'peak.so'));
    const peak = lib.func('kiln_fma_peak', 'double', ['long']);
    const iters = 2_000_000;
    peak(iters / 10);
    const t = bestOf(30, () => peak(iters));
    lib.unload();
    return { gflops: (iters * 24 * lanes * 2) / (t.best * 1e6), lanes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The scheduled 1024³ matmul: best and median milliseconds, GFLOP/s of the best run. */
export function measureMatmul(target, n = 1024, runs = 30) {
  const A = placeholder([n, n], 'float32', 'A');
  const B = placeholder([n, n], 'float32', 'B');
  const k = reduceAxis([0, n], 'k');
  const C = compute([n, n], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
  const fn = createPrimFunc([A, B, C]);
  const scheduled = defaultCPUSchedule(fn, target);
  const lib = buildCPU([{ symbol: 'matmul', fn: lowerPrimFunc(scheduled) }], target, {
    name: 'matmul_bench',
  });
  const dir = mkdtempSync(join(tmpdir(), 'kiln-mm-'));
  try {
    writeFileSync(join(dir, 'mm.so'), lib.library);
    const so = koffi.load(join(dir, 'mm.so'));
    const f = so.func('matmul', 'void', ['void *', 'void *', 'void *']);
    const a = randomNDArray('float32', [n, n], 1);
    const b = randomNDArray('float32', [n, n], 2);
    const c = ndarray('float32', [n, n]);
    f(a.data, b.data, c.data);
    // Check a few rows against a plain dot product (the whole reference would take minutes).
    let maxRel = 0;
    for (const i of [0, 17, n - 1]) {
      for (let j = 0; j < n; j += 37) {
        let s = 0;
        for (let kk = 0; kk < n; kk++) s += a.data[i * n + kk] * b.data[kk * n + j];
        maxRel = Math.max(maxRel, Math.abs(c.data[i * n + j] - s) / Math.max(1, Math.abs(s)));
      }
    }
    const t = bestOf(runs, () => f(a.data, b.data, c.data));
    so.unload();
    return { ...t, gflops: (2 * n ** 3) / (t.best * 1e6), maxRel };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Interpreter check of the same schedule on a small matmul (a schedule never changes results). */
export function checkSmall(target) {
  const n = 64;
  const A = placeholder([n, n], 'float32', 'A');
  const B = placeholder([n, n], 'float32', 'B');
  const k = reduceAxis([0, n], 'k');
  const C = compute([n, n], (i, j) => sum(mul(A.at(i, k), B.at(k, j)), k), 'C');
  const fn = createPrimFunc([A, B, C]);
  const a = randomNDArray('float32', [n, n], 3);
  const b = randomNDArray('float32', [n, n], 4);
  const want = ndarray('float32', [n, n]);
  const got = ndarray('float32', [n, n]);
  interpret(fn, [a, b, want]);
  interpret(defaultCPUSchedule(fn, target), [a, b, got]);
  return allClose(got, want, 1e-4, 1e-5).ok;
}

export function runMatmulBench({ threads = 1, log = console.log } = {}) {
  const target = { ...hostTarget(), numThreads: threads };
  const peak = measurePeak(target);
  const mm = measureMatmul(target);
  const perCorePeak = peak.gflops;
  const fraction = mm.gflops / (perCorePeak * threads);
  log(`peak FMA (1 core, ${peak.lanes} lanes): ${perCorePeak.toFixed(1)} GFLOP/s`);
  log(
    `matmul 1024x1024x1024 float32, ${threads} thread(s): best ${mm.best.toFixed(2)} ms (median ${mm.median.toFixed(2)}) = ${mm.gflops.toFixed(1)} GFLOP/s, ` +
      `${(fraction * 100).toFixed(1)}% of ${threads} x peak; max rel err ${mm.maxRel.toExponential(1)}`,
  );
  return {
    threads,
    peakGflopsPerCore: perCorePeak,
    matmulMs: mm.best,
    matmulMedianMs: mm.median,
    matmulGflops: mm.gflops,
    fractionOfPeak: fraction,
    maxRelErr: mm.maxRel,
  };
}

if (process.argv[1]?.endsWith('matmul.mjs')) {
  const threads = Number(process.argv[2] ?? 1);
  runMatmulBench({ threads });
}
