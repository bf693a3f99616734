// A custom CPU pipeline composed from Kiln's packages, step by step (docs/pipeline.md).
// Run after `npm run build`: node docs/examples/custom_pipeline.mjs

import { buildCPU } from '@kiln/codegen-llvm';
import {
  createPassContext,
  getFunction,
  hostTarget,
  primVar,
  sequential,
  timingInstrument,
  withFunction,
} from '@kiln/ir-core';
import {
  BlockBuilder,
  CallTIRRewrite,
  constant,
  LegalizeOps,
  lowerToVM,
  op,
  relaxVar,
  StaticPlanBlockMemory,
  ToNonDataflow,
  tensorSInfo,
} from '@kiln/relax';
import { createRuntime, Tensor } from '@kiln/runtime';
import { defaultCPUSchedule } from '@kiln/schedule';
import { lowerPrimFunc } from '@kiln/tensorir';

// 1. A model: y = relu(x @ W + b), with a symbolic batch dimension.
const n = primVar('n');
const x = relaxVar('x', tensorSInfo([n, 4], 'float32'));
const W = constant(new Float32Array([1, 0, 0, 1, 0, 1, 1, 0, -1, 0, 0, -1, 0.5, 0.5, 0.5, 0.5]), [4, 4]);
const b = constant(new Float32Array([0, 0.1, 0.2, 0.3]), [4]);
const bb = new BlockBuilder();
bb.function('main', [x], () =>
  bb.dataflow(() => bb.emitOutput(bb.emit(op.relu(bb.emit(op.add(bb.emit(op.matmul(x, W)), b)))))),
);
let mod = bb.getModule();

// 2. Graph passes of our choosing (any plugin's passes could be added here).
const timing = timingInstrument();
const ctx = createPassContext({ optLevel: 3, instruments: [timing] });
mod = sequential([LegalizeOps, ToNonDataflow, CallTIRRewrite, StaticPlanBlockMemory]).run(mod, ctx);

// 3. VM bytecode, then every kernel: schedule, lower, compile to one shared library.
const program = lowerToVM(mod);
const target = hostTarget();
const kernels = program.kernels.map((name) => {
  const fn = lowerPrimFunc(defaultCPUSchedule(getFunction(mod, name), target));
  mod = withFunction(mod, name, fn);
  return { symbol: name, fn };
});
const lib = buildCPU(kernels, target);

// 4. An artifact in memory (writeArtifactFile would store it), loaded and run.
const symbols = Object.fromEntries(lib.kernels.map((k) => [k.symbol, { args: k.cTypes }]));
const exe = createRuntime().load({
  kilnVersion: '0.0.0',
  target: 'llvm',
  devices: ['cpu:0'],
  functions: program.functions,
  constants: program.constants,
  kernelModules: [{ name: 'cpu', kind: 'cpu-so', device: 0, symbols, data: lib.library }],
});
const y = exe.call('main', Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4, -1, -2, -3, -4]), [2, 4]));
console.log(
  Array.from(y.toTypedArray())
    .map((v) => v.toFixed(2))
    .join(' '),
);
console.log(timing.report());
exe.dispose();
