// @kiln/codegen-llvm: lowered TensorIR → LLVM IR → native CPU shared libraries.

export type { BuildCPUOptions, CPUKernelLibrary } from './build.js';
export { buildCPU } from './build.js';
export type { CodegenResult, KernelArg, KernelInfo, LLVMTargetInfo } from './codegen.js';
export { codegenLLVM, llvmType, sanitizeSymbol } from './codegen.js';
export { CPU_RUNTIME_C } from './cpu_runtime.js';
export type { CompiledLibrary, CompileOptions, Toolchain } from './toolchain.js';
export { compileToSharedLibrary, findToolchain } from './toolchain.js';
