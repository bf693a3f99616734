// Keeps the README example honest: the same code, run.
import { expect, it } from 'vitest';
import { type Artifact, arg, createRuntime, ie, shapeOp, Tensor, writeArtifact } from './index.js';

it('README example runs', () => {
  const artifact: Artifact = {
    kilnVersion: '0.0.0',
    target: 'llvm',
    devices: ['cpu:0'],
    constants: [],
    kernelModules: [{ name: 'ref', kind: 'js', device: 0, symbols: {} }],
    functions: [
      {
        name: 'main',
        params: [{ name: 'x', sig: { kind: 'tensor', dtype: 'float32', shape: ['n'] } }],
        ret: { kind: 'tensor', dtype: 'float32', shape: ['n'] },
        numRegisters: 2,
        heapSize: 1,
        numStorageSlots: 0,
        code: [
          {
            op: 'MatchShape',
            reg: 0,
            valueKind: 'tensor',
            dtype: 'float32',
            dims: [{ kind: 'bind', slot: 0, name: 'n' }],
            context: { func: 'main', arg: 'x' },
          },
          { op: 'AllocTensor', dst: 1, shape: shapeOp.dims(ie.slot(0)), dtype: 'float32', device: 0 },
          {
            op: 'CallKernel',
            module: 'ref',
            symbol: 'double',
            args: [arg.reg(0), arg.reg(1), arg.dim(ie.slot(0))],
          },
          { op: 'Ret', src: 1 },
        ],
      },
    ],
  };
  const runtime = createRuntime();
  const exe = runtime.load(writeArtifact(artifact), {
    jsModules: {
      ref: {
        double: ([x, y, n]) => {
          const src = (x as Tensor).toTypedArray() as Float32Array;
          const dst = (y as Tensor).toTypedArray() as Float32Array;
          for (let i = 0; i < Number(n); i++) dst[i] = src[i] * 2;
        },
      },
    },
  });
  const y = exe.call('main', Tensor.fromTypedArray(new Float32Array([1, 2, 3]))) as Tensor;
  expect(Array.from(y.toTypedArray() as Float32Array)).toEqual([2, 4, 6]);
});
