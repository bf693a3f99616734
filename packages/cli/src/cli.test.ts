import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CLIIO } from './cli.js';
import { runCLI } from './cli.js';
import { encodeNpy, parseNpy } from './npy.js';

const fixtures = join(import.meta.dirname, '__fixtures__');
const work = mkdtempSync(join(tmpdir(), 'kiln-cli-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function io(): CLIIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l), isTTY: false };
}

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function mlpReference(x: Float32Array, n: number): Float32Array {
  const [w1, b1, w2, b2] = [rand(12 * 24, 1), rand(24, 2), rand(24 * 5, 3), rand(5, 4)];
  const out = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    const h = new Float32Array(24);
    for (let j = 0; j < 24; j++) {
      let s = 0;
      for (let k = 0; k < 12; k++) s += x[i * 12 + k] * w1[k * 24 + j];
      h[j] = Math.max(0, s + b1[j]);
    }
    for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let k = 0; k < 24; k++) s += h[k] * w2[k * 5 + j];
      out[i * 5 + j] = s + b2[j];
    }
  }
  return out;
}

const f32bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('npy', () => {
  it('round-trips arrays and refuses malformed files', () => {
    const a = rand(6, 9);
    const back = parseNpy(encodeNpy('float32', [2, 3], f32bytes(a)));
    expect(back.dtype).toBe('float32');
    expect(back.shape).toEqual([2, 3]);
    expect(new Float32Array(back.data.buffer)).toEqual(a);
    expect(() => parseNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toThrow(
      expect.objectContaining({ code: 'NPY_FORMAT' }),
    );
    const trunc = encodeNpy('float32', [2, 3], f32bytes(a)).slice(0, -4);
    expect(() => parseNpy(trunc)).toThrow(expect.objectContaining({ code: 'NPY_FORMAT' }));
  });
});

describe('kiln CLI', () => {
  const artifact = join(work, 'mlp.kiln');

  it('compiles a model script, inspects and runs the artifact', async () => {
    const c = io();
    expect(
      await runCLI(
        ['compile', join(fixtures, 'mlp_model.mjs'), '-o', artifact, '--dump', 'llvm', '--dump-dir', work],
        c,
      ),
    ).toBe(0);
    expect(c.outLines[0]).toContain('mlp.kiln');
    expect(existsSync(join(work, 'kernels.ll'))).toBe(true);

    const i = io();
    expect(await runCLI(['inspect', artifact], i)).toBe(0);
    const text = i.outLines.join('\n');
    expect(text).toContain('main(x: Tensor[n, 12] float32) -> Tensor[n, 5] float32');
    expect(text).toMatch(/cpu \(cpu-so, .*\): \d+ kernels/);

    for (const n of [1, 4]) {
      const x = rand(n * 12, 40 + n);
      const inFile = join(work, `x${n}.npy`);
      writeFileSync(inFile, encodeNpy('float32', [n, 12], f32bytes(x)));
      const r = io();
      const outDir = join(work, `out${n}`);
      expect(
        await runCLI(['run', artifact, '--input', `x=${inFile}`, '--output-dir', outDir, '--bench', '3'], r),
      ).toBe(0);
      expect(r.outLines.join('\n')).toMatch(/latency: median [\d.]+ ms over 3 runs/);
      if (n === 4) {
        const p = io();
        expect(
          await runCLI(['run', artifact, '--input', `x=${inFile}`, '--bench', '2', '--profile'], p),
        ).toBe(0);
        const text = p.outLines.join('\n');
        expect(text).toMatch(/profile over 2 run\(s\): [\d.]+ ms per run, [\d.]+ ms in \d+ kernels/);
        expect(text).toMatch(/cpu\.\S+/);
      }
      const y = parseNpy(readFileSync(join(outDir, 'output.npy')));
      expect(y.shape).toEqual([n, 5]);
      const got = new Float32Array(y.data.buffer);
      const want = mlpReference(x, n);
      for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-4);
    }
  });

  it('runs the artifact in a fresh Node process with only the runtime', () => {
    const script = join(import.meta.dirname, '..', '.test-fresh.mjs');
    const runtimeDist = join(import.meta.dirname, '..', '..', 'runtime', 'dist', 'index.js');
    if (!existsSync(runtimeDist)) {
      // `npm test` builds dependencies first (nx dependsOn ^build); say so if run bare.
      throw new Error(`build @kiln/runtime first (npx nx build @kiln/runtime): ${runtimeDist} is missing`);
    }
    writeFileSync(
      script,
      `import { createRuntime, Tensor } from ${JSON.stringify(runtimeDist)};
const exe = createRuntime().load(process.argv[2]);
const x = new Float32Array(JSON.parse(process.argv[3]));
const y = exe.call('main', Tensor.fromTypedArray(x, [2, 12]));
console.log(JSON.stringify(Array.from(y.toTypedArray())));\n`,
    );
    try {
      const x = rand(24, 77);
      const outText = execFileSync(process.execPath, [script, artifact, JSON.stringify(Array.from(x))], {
        encoding: 'utf8',
      });
      const got = JSON.parse(outText) as number[];
      const want = mlpReference(x, 2);
      for (const [k, v] of got.entries()) expect(Math.abs(v - want[k])).toBeLessThan(1e-4);
    } finally {
      rmSync(script, { force: true });
    }
  });

  it('reports user errors as one line with a code and exit status 1', async () => {
    const cases: Array<[string[], string]> = [
      [['frobnicate'], 'USAGE'],
      [['compile', join(work, 'missing.mjs')], 'INVALID_ARGUMENT'],
      [['compile', join(fixtures, 'mlp_model.mjs'), '--opt-level', '7'], 'USAGE'],
      [['compile', join(fixtures, 'mlp_model.mjs'), '--target', 'llvm -mcpu'], 'TARGET_PARSE'],
      [['run', artifact], 'MISSING_INPUT'],
      [['run', artifact, '--input', `y=${join(work, 'x1.npy')}`], 'UNKNOWN_INPUT'],
    ];
    for (const [argv, code] of cases) {
      const c = io();
      expect(await runCLI(argv, c), argv.join(' ')).toBe(1);
      expect(c.errLines.join('\n'), argv.join(' ')).toContain(`error[${code}]`);
    }
    const bad = join(work, 'bad.kiln');
    writeFileSync(bad, readFileSync(artifact).subarray(0, 100));
    const c = io();
    expect(await runCLI(['inspect', bad], c)).toBe(1);
    expect(c.errLines.join('\n')).toMatch(/error\[ARTIFACT_/);
    const wrongShape = join(work, 'wrong.npy');
    writeFileSync(wrongShape, encodeNpy('float32', [2, 11], f32bytes(rand(22, 1))));
    const r = io();
    expect(await runCLI(['run', artifact, '--input', `x=${wrongShape}`], r)).toBe(1);
    expect(r.errLines.join('\n')).toContain('error[SHAPE_MISMATCH]');
  });
});

describe('kiln on an ONNX model', () => {
  it('compiles examples/digits/digits_cnn.onnx and writes logits.npy matching PyTorch', async () => {
    const ex = join(import.meta.dirname, '..', '..', '..', 'examples', 'digits');
    const out = join(work, 'digits_onnx.kiln');
    const c = io();
    expect(await runCLI(['compile', join(ex, 'digits_cnn.onnx'), '-o', out], c), c.errLines.join('\n')).toBe(
      0,
    );
    const r = io();
    const outDir = join(work, 'onnx-out');
    expect(
      await runCLI(
        ['run', out, '--input', `image=${join(ex, 'samples', 'batch8.npy')}`, '--output-dir', outDir],
        r,
      ),
      r.errLines.join('\n'),
    ).toBe(0);
    const got = new Float32Array(parseNpy(readFileSync(join(outDir, 'logits.npy'))).data.buffer);
    const want = new Float32Array(
      parseNpy(readFileSync(join(ex, 'samples', 'batch8_logits.npy'))).data.buffer,
    );
    expect(got.length).toBe(80);
    for (let i = 0; i < 80; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-3);
  });
});

describe('docs/examples/custom_pipeline.mjs', () => {
  it('runs and prints relu(x @ W + b)', () => {
    const script = join(import.meta.dirname, '..', '..', '..', 'docs', 'examples', 'custom_pipeline.mjs');
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
    // x = [[1,2,3,4],[-1,-2,-3,-4]]; W rows: e0+e1.. see the script; checked against a hand computation
    const first = out.split('\n')[0].split(' ').map(Number);
    const x = [
      [1, 2, 3, 4],
      [-1, -2, -3, -4],
    ];
    const W = [1, 0, 0, 1, 0, 1, 1, 0, -1, 0, 0, -1, 0.5, 0.5, 0.5, 0.5];
    const b = [0, 0.1, 0.2, 0.3];
    const want = x.flatMap((row) =>
      [0, 1, 2, 3].map((j) => Math.max(0, row.reduce((s, v, k) => s + v * W[k * 4 + j], 0) + b[j])),
    );
    expect(first.length).toBe(8);
    for (const [i, v] of first.entries()) expect(v).toBeCloseTo(want[i], 2);
    expect(out).toContain('relax.LegalizeOps');
  });
});
