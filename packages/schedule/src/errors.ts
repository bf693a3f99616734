// Error codes raised by schedule primitives. Every refusal names the primitive and the
// block or loop it was applied to; tests match on these codes, never on the wording.
import { KilnError } from '@kiln/ir-core';

export const ScheduleErrorCodes = {
  /** A generic refusal: the transform would change the result or is not supported. */
  SCHEDULE_ERROR: 'SCHEDULE_ERROR',
  /** A handle that no longer (or never) refers to a block/loop of the current function. */
  SCHEDULE_INVALID_RV: 'SCHEDULE_INVALID_RV',
  SCHEDULE_UNKNOWN_BLOCK: 'SCHEDULE_UNKNOWN_BLOCK',
  /** parallel / vectorize / bind over a loop that carries a dependence (reduction). */
  SCHEDULE_LOOP_DEPENDENCE: 'SCHEDULE_LOOP_DEPENDENCE',
  /** reorder over loops that are not on one single-branch chain. */
  SCHEDULE_NOT_SAME_CHAIN: 'SCHEDULE_NOT_SAME_CHAIN',
  /** fuse over loops that are not adjacent in a perfect nest. */
  SCHEDULE_NOT_PERFECT_NEST: 'SCHEDULE_NOT_PERFECT_NEST',
  SCHEDULE_INVALID_FACTOR: 'SCHEDULE_INVALID_FACTOR',
  /** computeInline / reverseComputeInline of a block that is not a single injective store. */
  SCHEDULE_NOT_INJECTIVE: 'SCHEDULE_NOT_INJECTIVE',
  /** The block writes a function output (or is the only writer of a result) and cannot move/vanish. */
  SCHEDULE_OUTPUT_BLOCK: 'SCHEDULE_OUTPUT_BLOCK',
  /** computeAt / reverseComputeAt whose producer/consumer relation does not fit under the loop. */
  SCHEDULE_LOCATION: 'SCHEDULE_LOCATION',
  /** decomposeReduction / rfactor on a block or loop that is not a reduction. */
  SCHEDULE_NOT_REDUCTION: 'SCHEDULE_NOT_REDUCTION',
  /** local / shared memory read outside the thread (block) that wrote it. */
  SCHEDULE_STORAGE_SCOPE: 'SCHEDULE_STORAGE_SCOPE',
  SCHEDULE_TENSORIZE_MISMATCH: 'SCHEDULE_TENSORIZE_MISMATCH',
  SCHEDULE_UNKNOWN_INTRIN: 'SCHEDULE_UNKNOWN_INTRIN',
  TRACE_PARSE: 'TRACE_PARSE',
} as const;
export type ScheduleErrorCode = (typeof ScheduleErrorCodes)[keyof typeof ScheduleErrorCodes];

/** Raise a refusal of `primitive` with a message naming what it was applied to. */
export function fail(code: ScheduleErrorCode, primitive: string, message: string): never {
  throw new KilnError(code, `${primitive}: ${message}`, { details: { primitive } });
}
