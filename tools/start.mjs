#!/usr/bin/env node
// `npm start`: Kiln's main job on the bundled example. Compiles the digits CNN
// (examples/digits: trained on scikit-learn's 8x8 digits) for this machine's CPU into one
// artifact file, loads it with the runtime, classifies the bundled sample images and
// prints the predictions, the agreement with PyTorch's logits, and the latency.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule, loadModel, readNpy } from '@kiln/cli';
import { createRuntime, Tensor, writeArtifactFile } from '@kiln/runtime';

const root = new URL('..', import.meta.url).pathname;
const ex = join(root, 'examples', 'digits');
const out = join(root, '.kiln-tmp');
mkdirSync(out, { recursive: true });

const t0 = performance.now();
const mod = await loadModel(join(ex, 'digits_model.mjs'));
const res = compileModule(mod, {
  onProgress: (step, detail) => console.log(`  compile: ${step}${detail ? ` (${detail})` : ''}`),
});
const file = join(out, 'digits.kiln');
writeArtifactFile(file, res.artifact);
console.log(`compiled the digits CNN → ${file} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
console.log(`  target: ${res.artifact.target.split(' -mattr')[0]}; ${res.stats.kernels} kernels`);

const exe = createRuntime().load(file);
const main = exe.getFunction('main');
const batch = readNpy(join(ex, 'samples', 'batch8.npy'));
const ref = readNpy(join(ex, 'samples', 'batch8_logits.npy'));
const { labels } = JSON.parse(readFileSync(join(ex, 'samples', 'labels.json'), 'utf8'));
const x = Tensor.fromTypedArray(batch.data, batch.shape, batch.dtype);
const logits = main(x).toTypedArray();
const refLogits = new Float32Array(ref.data.buffer, ref.data.byteOffset, ref.data.byteLength / 4);

let maxErr = 0;
for (let i = 0; i < refLogits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - refLogits[i]));
const preds = [];
for (let b = 0; b < batch.shape[0]; b++) {
  let best = 0;
  for (let c = 1; c < 10; c++) if (logits[b * 10 + c] > logits[b * 10 + best]) best = c;
  preds.push(best);
}
const pixels = new Float32Array(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength / 4);
const shades = ' .:-=+*#%@';
console.log('\nsample images and predictions:');
const rows = [];
for (let r = 0; r < 8; r++) {
  rows.push(
    preds
      .map((_, b) => {
        let line = '';
        for (let c = 0; c < 8; c++) line += shades[Math.min(9, Math.round(pixels[b * 64 + r * 8 + c] * 9))];
        return line;
      })
      .join('   '),
  );
}
console.log(rows.join('\n'));
console.log(
  preds.map((p, b) => `pred ${p} ${p === labels[b] ? '✓' : `✗(${labels[b]})`}`.padEnd(11)).join(''),
);
const correct = preds.filter((p, b) => p === labels[b]).length;
console.log(`\n${correct}/${preds.length} correct; max |logit - PyTorch| = ${maxErr.toExponential(2)}`);

function median(f, runs) {
  for (let i = 0; i < 10; i++) f();
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    f();
    ts.push(performance.now() - s);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(runs / 2)];
}
const one = Tensor.fromTypedArray(batch.data.slice(0, 256), [1, 1, 8, 8], 'float32');
console.log(
  `latency (median of 200): batch 1 ${median(() => main(one), 200).toFixed(3)} ms, batch 8 ${median(() => main(x), 200).toFixed(3)} ms`,
);
exe.dispose();
if (maxErr > 1e-3) {
  console.error('error: the compiled model disagrees with the PyTorch reference');
  process.exit(1);
}
