// The bundled example (README's `npm start`): the digits CNN compiles, runs from an
// artifact file (here and in a fresh Node process with only the runtime), matches
// PyTorch's logits and classifies the samples as PyTorch does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, Tensor, writeArtifactFile } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';
import { compileModule } from './compile.js';
import { loadModel } from './models.js';
import { readNpy } from './npy.js';

const ex = join(import.meta.dirname, '..', '..', '..', 'examples', 'digits');

describe('the digits example', () => {
  it('launches fewer kernels with fusion (opt level 3) than without (0), with the same logits', async () => {
    const mod = await loadModel(join(ex, 'digits_model.mjs'));
    const launches = (a: ReturnType<typeof compileModule>['artifact']) =>
      a.functions.find((f) => f.name === 'main')!.code.filter((i) => i.op === 'CallKernel').length;
    const plain = compileModule(mod, { optLevel: 0 }).artifact;
    const fused = compileModule(mod, { optLevel: 3 }).artifact;
    expect(launches(plain)).toBe(11);
    expect(launches(fused)).toBeLessThan(launches(plain));
    const batch = readNpy(join(ex, 'samples', 'batch8.npy'));
    const run = (a: typeof plain) =>
      (
        createRuntime()
          .load(a)
          .call('main', Tensor.fromTypedArray(batch.data, batch.shape, 'float32')) as Tensor
      ).toTypedArray() as Float32Array;
    const [p, f] = [run(plain), run(fused)];
    for (let i = 0; i < 80; i++) expect(Math.abs(p[i] - f[i])).toBeLessThan(1e-4);
  });

  it('compiles, runs at batch 8 and 1 from one artifact, and matches PyTorch', async () => {
    const mod = await loadModel(join(ex, 'digits_model.mjs'));
    const res = compileModule(mod);
    const dir = mkdtempSync(join(tmpdir(), 'kiln-digits-'));
    try {
      const file = join(dir, 'digits.kiln');
      writeArtifactFile(file, res.artifact);
      const exe = createRuntime().load(file);
      const batch = readNpy(join(ex, 'samples', 'batch8.npy'));
      const ref = readNpy(join(ex, 'samples', 'batch8_logits.npy'));
      const refLogits = new Float32Array(ref.data.buffer);
      const logits = (
        exe.call('main', Tensor.fromTypedArray(batch.data, batch.shape, 'float32')) as Tensor
      ).toTypedArray() as Float32Array;
      expect(logits.length).toBe(80);
      // outputs of order 1, so the comparison means something
      expect(Math.max(...Array.from(refLogits).map(Math.abs))).toBeGreaterThan(1);
      for (let i = 0; i < 80; i++) expect(Math.abs(logits[i] - refLogits[i])).toBeLessThan(1e-3);
      const one = (
        exe.call(
          'main',
          Tensor.fromTypedArray(batch.data.slice(64 * 4 * 3, 64 * 4 * 4), [1, 1, 8, 8], 'float32'),
        ) as Tensor
      ).toTypedArray() as Float32Array;
      for (let c = 0; c < 10; c++) expect(Math.abs(one[c] - refLogits[30 + c])).toBeLessThan(1e-3);
      const { labels } = JSON.parse(readFileSync(join(ex, 'samples', 'labels.json'), 'utf8')) as {
        labels: number[];
      };
      const preds = labels.map((_, b) => {
        let best = 0;
        for (let c = 1; c < 10; c++) if (logits[b * 10 + c] > logits[b * 10 + best]) best = c;
        return best;
      });
      expect(preds.filter((p, b) => p === labels[b]).length).toBeGreaterThanOrEqual(7);
      exe.dispose();

      // The same artifact in a fresh Node process that loads only @kiln/runtime.
      const runtimeDist = join(import.meta.dirname, '..', '..', 'runtime', 'dist', 'index.js');
      const script = join(dir, 'fresh.mjs');
      writeFileSync(
        script,
        `import { readFileSync } from 'node:fs';
import { createRuntime, Tensor } from ${JSON.stringify(runtimeDist)};
const exe = createRuntime().load(process.argv[2]);
const bytes = readFileSync(process.argv[3]);
const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset + bytes.length - 8 * 64 * 4, bytes.byteOffset + bytes.length));
const y = exe.call('main', Tensor.fromTypedArray(x, [8, 1, 8, 8]));
console.log(JSON.stringify(Array.from(y.toTypedArray())));\n`,
      );
      const fresh = JSON.parse(
        execFileSync(process.execPath, [script, file, join(ex, 'samples', 'batch8.npy')], {
          encoding: 'utf8',
        }),
      ) as number[];
      for (let i = 0; i < 80; i++) expect(Math.abs(fresh[i] - refLogits[i])).toBeLessThan(1e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
