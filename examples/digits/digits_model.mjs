// The bundled example model as a Kiln model script: the small CNN of
// tools/examples/train_digits.py, rebuilt with Relax's BlockBuilder from its trained
// weights (weights/*.npy). `kiln compile examples/digits/digits_model.mjs` compiles it;
// the batch dimension `n` is symbolic, so one artifact serves every batch size.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '@kiln/cli';
import { primVar } from '@kiln/ir-core';
import { BlockBuilder, constant, op, relaxVar, tensorSInfo } from '@kiln/relax';

const here = dirname(fileURLToPath(import.meta.url));

function weight(name, shape) {
  const a = readNpy(join(here, 'weights', `${name}.npy`));
  const data = new Float32Array(a.data.buffer, a.data.byteOffset, a.data.byteLength / 4);
  return constant(data, shape ?? a.shape, 'float32');
}

export default function digitsCNN() {
  const n = primVar('n');
  const image = relaxVar('image', tensorSInfo([n, 1, 8, 8], 'float32'));
  const bb = new BlockBuilder();
  bb.function(
    'main',
    [image],
    () =>
      bb.dataflow(() => {
        let x = bb.emit(op.conv2d(image, weight('conv1.weight'), { padding: [1, 1] }));
        x = bb.emit(op.add(x, weight('conv1.bias', [1, 8, 1, 1])));
        x = bb.emit(op.relu(x));
        x = bb.emit(op.conv2d(x, weight('conv2.weight'), { padding: [1, 1] }));
        x = bb.emit(op.add(x, weight('conv2.bias', [1, 16, 1, 1])));
        x = bb.emit(op.relu(x));
        x = bb.emit(op.maxPool2d(x, [2, 2], { strides: [2, 2] }));
        x = bb.emit(op.flatten(x, 1));
        x = bb.emit(op.linear(x, weight('fc1.weight'), weight('fc1.bias')));
        x = bb.emit(op.relu(x));
        x = bb.emit(op.linear(x, weight('fc2.weight'), weight('fc2.bias')));
        return bb.emitOutput(x);
      }),
    { attrs: { output_names: ['logits'] } },
  );
  return bb.getModule();
}
