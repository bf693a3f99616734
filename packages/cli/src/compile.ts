// The default CPU pipeline: Relax graph passes → legalization to TensorIR → explicit
// allocation and memory planning → VM bytecode; every kernel PrimFunc → default CPU
// schedule → lowering → LLVM → one shared library; all of it packed into one Artifact.
// Each stage is an export of its own package; this file only composes them, the way a
// user's custom pipeline would (see docs/pipeline.md).

import type { CPUKernelLibrary } from '@kiln/codegen-llvm';
import { buildCPU } from '@kiln/codegen-llvm';
import type { IRModule, LLVMTarget, Pass, PassInstrument, Target } from '@kiln/ir-core';
import {
  createPassContext,
  getFunction,
  hostTarget,
  isLLVMTarget,
  KilnError,
  parseTarget,
  printIRInstrument,
  sequential,
  targetToString,
  timingInstrument,
  withFunction,
} from '@kiln/ir-core';
import {
  AnnotateTIROpPattern,
  AttachLayoutFreeBuffers,
  ConvertLayout,
  FuseOps,
  FuseTIR,
  PrepackWeights,
} from '@kiln/passes-fusion';
import type { MemoryPlanReport, RelaxFunction } from '@kiln/relax';
import {
  CallTIRRewrite,
  CanonicalizeBindings,
  DeadCodeElimination,
  DeduplicatePrimFuncs,
  EliminateCommonSubexpr,
  FoldConstant,
  LegalizeOps,
  lowerToVM,
  memoryPlanOf,
  StaticPlanBlockMemory,
  ToNonDataflow,
} from '@kiln/relax';
import type { Artifact, KernelSignature, NativeArgKind } from '@kiln/runtime';
import { DefaultCPUSchedule, defaultCPUSchedule, SCHEDULED_ATTR } from '@kiln/schedule';
import type { PrimFunc } from '@kiln/tensorir';
import { lowerPrimFunc } from '@kiln/tensorir';
import { KILN_VERSION } from './version.js';

export type Progress = (step: string, detail?: string) => void;

export interface CompileOptions {
  /** Target string (`llvm -mcpu=znver3`) or object; default: the host CPU. */
  target?: string | Target;
  /** 0 = no optimisation passes, 3 = all (default 3). */
  optLevel?: 0 | 1 | 2 | 3;
  /** Write the IR before/after every pass into this folder. */
  dumpIRDir?: string;
  /** Keep generated code for inspection. */
  dump?: ReadonlyArray<'llvm' | 'llvm-opt' | 'asm'>;
  /** Replace the default Relax pass sequence (it must leave call_tir-only functions). */
  relaxPipeline?: Pass;
  /** Called at each long step (the CLI shows it on a TTY). */
  onProgress?: Progress;
}

export interface CompileStats {
  kernels: number;
  seconds: { relax: number; schedule: number; codegen: number; total: number };
  memoryPlan: Record<string, MemoryPlanReport>;
  passTimings: string;
}

export interface CompileResult {
  artifact: Artifact;
  stats: CompileStats;
  /** Generated code kept with `dump`. */
  dumps: CPUKernelLibrary['dumps'];
  /** The module after the Relax passes (for inspection and tests). */
  relaxModule: IRModule;
}

/**
 * The default Relax pass sequence for the VM. Optimisation passes carry their own opt
 * level (the PassContext skips them below it); the lowering steps always run.
 */
export function defaultRelaxPipeline(): Pass {
  return sequential(
    [
      CanonicalizeBindings,
      ConvertLayout,
      LegalizeOps,
      FoldConstant,
      AnnotateTIROpPattern,
      FuseOps,
      FuseTIR,
      DeduplicatePrimFuncs,
      EliminateCommonSubexpr,
      DeadCodeElimination,
      AttachLayoutFreeBuffers,
      DefaultCPUSchedule,
      PrepackWeights,
      DeadCodeElimination,
      ToNonDataflow,
      CallTIRRewrite,
      StaticPlanBlockMemory,
    ],
    'kiln.default_relax',
  );
}

function resolveTarget(t: string | Target | undefined): LLVMTarget {
  const target = t === undefined ? hostTarget() : typeof t === 'string' ? parseTarget(t) : t;
  if (!isLLVMTarget(target)) {
    throw new KilnError(
      'UNSUPPORTED_TARGET',
      `target '${targetToString(target)}' has no backend in this build yet (available: llvm)`,
    );
  }
  return target;
}

const NATIVE_KINDS: Readonly<Record<string, NativeArgKind>> = {
  ptr: 'ptr',
  i32: 'i32',
  i64: 'i64',
  f32: 'f32',
  f64: 'f64',
};

function signatureOf(symbol: string, cTypes: readonly string[], packed?: boolean): KernelSignature {
  return {
    ...(packed ? { packed } : {}),
    args: cTypes.map((c) => {
      const k = NATIVE_KINDS[c];
      if (!k)
        throw new KilnError(
          'UNSUPPORTED',
          `kernel '${symbol}' takes a ${c} scalar, which the runtime cannot pass yet`,
        );
      return k;
    }),
  };
}

const now = () => performance.now() / 1000;

/** `output_names` of each Relax function (set by frontends), for `kiln run`'s file names. */
function outputNamesOf(mod: IRModule): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  mod.globals.forEach((g, i) => {
    const f = mod.funcs[i];
    if (f.kind !== 'relax.Function') return;
    const names = (f as unknown as RelaxFunction).attrs.output_names;
    if (Array.isArray(names) && names.every((n) => typeof n === 'string')) out[g] = names as string[];
  });
  return out;
}

/** Compile a Relax module (as a frontend or BlockBuilder produces it) for the CPU. */
export function compileModule(mod: IRModule, options: CompileOptions = {}): CompileResult {
  const t0 = now();
  const progress = options.onProgress ?? (() => {});
  const target = resolveTarget(options.target);
  const timing = timingInstrument();
  const instruments: PassInstrument[] = [timing];
  if (options.dumpIRDir) instruments.push(printIRInstrument({ dir: options.dumpIRDir }));
  // Channel blocks as wide as an AVX-512 register, the axis the default CPU schedule
  // vectorizes convolutions over (ConvertLayout's own default, 8, fills AVX2's).
  const passOptions = target.features.includes('+avx512f')
    ? { 'relax.ConvertLayout': { layout: 'NCHW16c' } }
    : undefined;
  const ctx = createPassContext({ optLevel: options.optLevel ?? 3, target, instruments, passOptions });

  progress('relax', 'graph passes, legalization, memory planning');
  const lowered = (options.relaxPipeline ?? defaultRelaxPipeline()).run(mod, ctx);
  const t1 = now();

  progress('vm', 'lowering to VM bytecode');
  const program = lowerToVM(lowered, { kernelModule: 'cpu' });

  progress('schedule', `${program.kernels.length} kernels`);
  const kernels: Array<{ symbol: string; fn: PrimFunc }> = [];
  let scheduled = lowered;
  for (const name of program.kernels) {
    const fn = getFunction(lowered, name) as unknown as PrimFunc;
    // Kernels the pipeline scheduled already (tir.DefaultCPUSchedule) keep their schedule;
    // a custom pipeline without that pass gets the default one here.
    const s =
      fn.attrs[SCHEDULED_ATTR] === true || (options.optLevel ?? 3) < 1 ? fn : defaultCPUSchedule(fn, target);
    const low = lowerPrimFunc(s);
    scheduled = withFunction(scheduled, name, low as unknown as (typeof mod.funcs)[number]);
    kernels.push({ symbol: name, fn: low });
  }
  const t2 = now();

  progress('codegen', `LLVM for ${targetToString(target)}`);
  const lib = buildCPU(kernels, target, {
    dump: options.dump,
    name: 'kiln_kernels',
    optLevel: options.optLevel,
  });
  const t3 = now();

  const symbols: Record<string, KernelSignature> = {};
  for (const k of lib.kernels) symbols[k.symbol] = signatureOf(k.symbol, k.cTypes, k.packed);
  const memoryPlan: Record<string, MemoryPlanReport> = {};
  for (const f of program.functions) {
    const rf = getFunction(lowered, f.name) as unknown as RelaxFunction | undefined;
    const rep = rf ? memoryPlanOf(rf) : undefined;
    if (rep) memoryPlan[f.name] = rep;
  }
  const artifact: Artifact = {
    kilnVersion: KILN_VERSION,
    target: targetToString(target),
    devices: ['cpu:0'],
    functions: program.functions,
    constants: program.constants,
    kernelModules: [
      {
        name: 'cpu',
        kind: 'cpu-so',
        device: 0,
        symbols,
        data: lib.library,
        meta: { numThreads: target.numThreads, kernels: lib.kernels.length },
      },
    ],
    metadata: {
      memoryPlan: JSON.parse(JSON.stringify(memoryPlan)),
      optLevel: options.optLevel ?? 3,
      outputNames: outputNamesOf(lowered),
    },
  };
  const total = now() - t0;
  // Scheduling runs as a pass inside the Relax pipeline; it is reported as its own step.
  const schedInPipeline =
    (timing.summary().find((r) => r.name === DefaultCPUSchedule.name)?.totalMs ?? 0) / 1000;
  return {
    artifact,
    stats: {
      kernels: kernels.length,
      seconds: {
        relax: t1 - t0 - schedInPipeline,
        schedule: t2 - t1 + schedInPipeline,
        codegen: t3 - t2,
        total,
      },
      memoryPlan,
      passTimings: timing.report(),
    },
    dumps: lib.dumps,
    relaxModule: scheduled,
  };
}
