// @kiln/schedule: schedule primitives over TensorIR blocks and loops with a replayable
// trace (TVM's tir.Schedule), and the tensor intrinsics tensorize uses.
export { ScheduleErrorCodes } from './errors.js';
export type { ScheduleErrorCode } from './errors.js';
export { Schedule, createSchedule, applyTrace } from './schedule.js';
export type { ScheduleOptions, ScheduleTarget } from './schedule.js';
export { Trace, parseTrace, BlockRV, LoopRV, ExprRV, isRV, INSTRUCTION_KINDS } from './trace.js';
export type { Instruction, InstructionKind, RV, TraceArg } from './trace.js';
export { TensorIntrinRegistry, createTensorIntrinRegistry, BUILTIN_TENSOR_INTRINS } from './intrin.js';
export type { TensorIntrin } from './intrin.js';
export { THREAD_TAGS } from './primitives/loops.js';
export { defaultCPUSchedule, type CPUScheduleTarget } from './default/cpu.js';
