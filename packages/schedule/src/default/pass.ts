// tir.DefaultCPUSchedule: the default CPU schedule as a pass over a module's PrimFuncs, so
// that a pipeline can schedule its kernels before the graph-level passes that need the
// scheduled form (relax.PrepackWeights lifts the weight copies a schedule inserts). The
// target's threads and vector features come from the PassContext; a kernel scheduled
// once (attribute `kiln.scheduled`) is left alone.
import { definePass, isLLVMTarget } from '@kiln/ir-core';
import type { PrimFunc } from '@kiln/tensorir';
import { defaultCPUSchedule } from './cpu.js';

/** The PrimFunc attribute marking a kernel whose schedule is final. */
export const SCHEDULED_ATTR = 'kiln.scheduled';

export const DefaultCPUSchedule = definePass<Record<string, never>, Record<string, never>, PrimFunc>({
  name: 'tir.DefaultCPUSchedule',
  kind: 'prim_func',
  optLevel: 1,
  transform(fn, _name, ctx) {
    if (fn.attrs[SCHEDULED_ATTR] === true) return fn;
    const t = ctx.target;
    const s = defaultCPUSchedule(fn, t && isLLVMTarget(t) ? t : {});
    return Object.freeze({ ...s, attrs: Object.freeze({ ...s.attrs, [SCHEDULED_ATTR]: true }) });
  },
});
