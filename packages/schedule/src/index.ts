// @kiln/schedule: schedule primitives over TensorIR blocks and loops with a replayable
// trace (TVM's tir.Schedule), and the tensor intrinsics tensorize uses.

export { type CPUScheduleTarget, defaultCPUSchedule } from './default/cpu.js';
export { DefaultCPUSchedule, SCHEDULED_ATTR } from './default/pass.js';
export type { ScheduleErrorCode } from './errors.js';
export { ScheduleErrorCodes } from './errors.js';
export type { TensorIntrin } from './intrin.js';
export { BUILTIN_TENSOR_INTRINS, createTensorIntrinRegistry, TensorIntrinRegistry } from './intrin.js';
export { THREAD_TAGS } from './primitives/loops.js';
export type { ScheduleOptions, ScheduleTarget } from './schedule.js';
export { applyTrace, createSchedule, Schedule } from './schedule.js';
export type { Instruction, InstructionKind, RV, TraceArg } from './trace.js';
export { BlockRV, ExprRV, INSTRUCTION_KINDS, isRV, LoopRV, parseTrace, Trace } from './trace.js';
