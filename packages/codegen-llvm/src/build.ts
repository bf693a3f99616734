// The codegen-llvm entry point: lowered PrimFuncs + an LLVM target → a shared library
// with one exported symbol per kernel and the metadata a runtime needs to call them.
import type { PrimFunc } from '@kiln/tensorir';
import type { KernelInfo, LLVMTargetInfo } from './codegen.js';
import { codegenLLVM } from './codegen.js';
import { compileToSharedLibrary } from './toolchain.js';

export interface BuildCPUOptions {
  /** opt/llc optimisation level (default 3). */
  optLevel?: 0 | 1 | 2 | 3;
  /** What to keep for inspection: the generated IR, the optimized IR, the assembly. */
  dump?: ReadonlyArray<'llvm' | 'llvm-opt' | 'asm'>;
  /** Name for messages and the LLVM module. */
  name?: string;
  /** Optimize and compile in this many concurrent parts (default: by module size and cores). */
  parts?: number;
}

export interface CPUKernelLibrary {
  /** Shared-library bytes (ELF on Linux), ready to be written into an artifact. */
  library: Uint8Array;
  kernels: KernelInfo[];
  target: LLVMTargetInfo;
  dumps: { llvm?: string; 'llvm-opt'?: string; asm?: string };
  /** How many concurrent parts LLVM optimized and compiled the module in. */
  parts: number;
}

/** Compile lowered PrimFuncs (`tir.lowerForCodegen` output) to a CPU shared library. */
export function buildCPU(
  funcs: ReadonlyArray<{ symbol: string; fn: PrimFunc }>,
  target: LLVMTargetInfo,
  options: BuildCPUOptions = {},
): CPUKernelLibrary {
  const { llvmIR, kernels } = codegenLLVM(funcs, target, options.name ?? 'kiln');
  const dump = new Set(options.dump ?? []);
  const compiled = compileToSharedLibrary(llvmIR, {
    mtriple: target.mtriple,
    mcpu: target.mcpu,
    features: target.features,
    optLevel: options.optLevel,
    emitAsm: dump.has('asm'),
    wantOptimizedIR: dump.has('llvm-opt'),
    parts: options.parts,
    name: options.name,
  });
  const dumps: CPUKernelLibrary['dumps'] = {};
  if (dump.has('llvm')) dumps.llvm = llvmIR;
  if (dump.has('llvm-opt')) dumps['llvm-opt'] = compiled.optimizedIR;
  if (dump.has('asm')) dumps.asm = compiled.asm;
  return { library: compiled.library, kernels, target, dumps, parts: compiled.parts };
}
