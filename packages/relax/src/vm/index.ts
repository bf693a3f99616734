// Lowering Relax to the Kiln VM: explicit allocation, memory planning, bytecode.

export { lowerToVM, type VMConstant, type VMLoweringOptions, type VMProgram } from './codegen.js';
export { CallTIRRewrite, ToNonDataflow } from './lower-passes.js';
export {
  type MemoryPlanReport,
  memoryPlanOf,
  planFunctionMemory,
  StaticPlanBlockMemory,
} from './memory-plan.js';
export { allocStorage, allocTensor, killStorage, memAllocTensor, VM_OPS } from './ops.js';
