// Loop and Scan, unrolled at import time: the body graph is converted once per iteration
// with its formal inputs bound to the current values (so an iteration counter stays a
// known constant and folds), and scan outputs are stacked along their axis. Unrolling
// needs a trip count known at import time (Loop: the M input or a condition that folds to a
// constant each iteration; Scan: a static scan-axis length) and at most MAX_UNROLL
// iterations; anything else is refused (ONNX_DYNAMIC or ONNX_UNSUPPORTED_OP), never
// approximated. (If is converted in reduce.ts.)
import type { Expr } from '@kiln/relax';
import { constDim, op } from '@kiln/relax';
import type { NodeContext, OnnxValue } from '../context.js';
import { dims, exprOf, exprValue, hostValue, rank } from '../context.js';
import { OnnxErrorCodes } from '../errors.js';
import { hostTensor } from '../host.js';
import type { GraphProto } from '../proto.js';
import type { ConverterDef } from '../registry.js';
import { many } from '../registry.js';
import { em, normAxis } from './common.js';

const V = (...v: number[]) => v;

/** Largest number of iterations unrolled; beyond it the graph would grow without bound. */
export const MAX_UNROLL = 256;

/** Values stacked along a new `axis` (scan outputs). */
function stack(ctx: NodeContext, vs: readonly OnnxValue[], axis: number): OnnxValue {
  const es = vs.map((v) => em(ctx, op.expandDims(exprOf(ctx, v), axis)));
  return exprValue(es.length === 1 ? es[0] : em(ctx, op.concat(es, axis)));
}

/** Slice `t` of `x` along `axis`, without that axis. */
function sliceAt(ctx: NodeContext, x: Expr, axis: number, t: number): OnnxValue {
  return exprValue(em(ctx, op.squeeze(em(ctx, op.stridedSlice(x, [axis], [t], [t + 1])), [axis])));
}

/** A boolean scalar known at import time, or undefined. */
function knownBool(v: OnnxValue | undefined): boolean | undefined {
  if (v?.kind !== 'host' || v.t.data.length !== 1) return undefined;
  return v.t.data[0] !== 0;
}

function body(ctx: NodeContext): GraphProto {
  return ctx.graph('body') ?? ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'the body attribute is required');
}

function loopConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const g = body(ctx);
  const mv = ctx.input(0);
  const condV = ctx.input(1);
  let trip: number | undefined;
  if (mv) {
    if (mv.kind !== 'host')
      ctx.fail(
        OnnxErrorCodes.ONNX_DYNAMIC,
        'the trip count M must be known at compile time to unroll the loop',
      );
    trip = (mv as { t: { data: Float64Array } }).t.data[0];
  }
  let cond = condV ? knownBool(condV) : true;
  if (cond === undefined)
    ctx.fail(
      OnnxErrorCodes.ONNX_DYNAMIC,
      'the loop condition must be known at compile time to unroll the loop',
    );
  if (trip === undefined && !condV)
    ctx.unsupported('a loop with neither a trip count nor a condition (infinite)');
  if (trip !== undefined && trip > MAX_UNROLL)
    ctx.unsupported(`a trip count of ${trip} (unrolling is limited to ${MAX_UNROLL} iterations)`);
  const nCarried = ctx.numInputs - 2;
  let carried: OnnxValue[] = Array.from({ length: nCarried }, (_, i) => ctx.req(i + 2));
  const nScan = (g.output ?? []).length - 1 - nCarried;
  if (nScan < 0)
    ctx.fail(
      OnnxErrorCodes.ONNX_INVALID,
      `the body has ${(g.output ?? []).length} outputs for ${nCarried} loop-carried values`,
    );
  const scans: OnnxValue[][] = Array.from({ length: nScan }, () => []);
  let i = 0;
  while (cond && (trip === undefined || i < trip)) {
    if (i >= MAX_UNROLL) ctx.unsupported(`a loop running more than ${MAX_UNROLL} iterations`);
    const iter = hostValue(hostTensor('int64', [], [i]));
    const outs = ctx.subgraph(g, [iter, hostValue(hostTensor('bool', [], [1])), ...carried]);
    const c = knownBool(outs[0]);
    if (c === undefined)
      ctx.unsupported(
        'a loop whose condition is computed at run time (the iteration count would be dynamic)',
      );
    cond = c;
    carried = outs.slice(1, 1 + nCarried);
    outs.slice(1 + nCarried).forEach((v, k) => scans[k].push(v));
    i++;
  }
  const scanOuts = scans.map((vs, k) => {
    if (vs.length === 0) {
      // Zero iterations: the scan output is empty, but its element shape is unknown.
      return ctx.unsupported(`scan output ${k} of a loop that runs zero times`);
    }
    return stack(ctx, vs, 0);
  });
  return [...carried, ...scanOuts];
}

function scanConvert(ctx: NodeContext): (OnnxValue | undefined)[] {
  const g = body(ctx);
  const nIn = ctx.int('num_scan_inputs', 0);
  if (nIn <= 0) ctx.fail(OnnxErrorCodes.ONNX_INVALID, 'num_scan_inputs must be positive');
  if (ctx.opset < 9) return scanV8(ctx, g, nIn);
  const nState = ctx.numInputs - nIn;
  const states = Array.from({ length: nState }, (_, i) => ctx.req(i));
  const xs = Array.from({ length: nIn }, (_, i) => ctx.req(nState + i));
  return scanCore(ctx, g, states, xs, nIn);
}

/** The opset-9+ Scan over already batch-free states and scan inputs. */
function scanCore(
  ctx: NodeContext,
  g: GraphProto,
  states0: OnnxValue[],
  xs: OnnxValue[],
  nIn: number,
): OnnxValue[] {
  const nState = states0.length;
  const inAxes = ctx.ints('scan_input_axes') ?? new Array<number>(nIn).fill(0);
  const inDirs = ctx.ints('scan_input_directions') ?? new Array<number>(nIn).fill(0);
  const nOut = (g.output ?? []).length - nState;
  const outAxesRaw = ctx.ints('scan_output_axes') ?? new Array<number>(nOut).fill(0);
  const outDirs = ctx.ints('scan_output_directions') ?? new Array<number>(nOut).fill(0);
  let T: number | undefined;
  const axes = xs.map((x, k) => {
    const d = dims(ctx, x);
    const a = normAxis(ctx, inAxes[k] ?? 0, d.length);
    const n = constDim(d[a]);
    if (n === undefined)
      ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, `scan input ${k} has a dynamic length along its scan axis`);
    if (T !== undefined && T !== n)
      ctx.fail(OnnxErrorCodes.ONNX_INVALID, `scan inputs disagree on the sequence length (${T} vs ${n})`);
    T = n;
    return a;
  });
  if (T! > MAX_UNROLL) ctx.unsupported(`a scan over ${T} steps (unrolling is limited to ${MAX_UNROLL})`);
  if (T === 0) ctx.unsupported('a scan over zero steps');
  const xe = xs.map((x) => exprOf(ctx, x));
  let states = states0;
  const outs: OnnxValue[][] = Array.from({ length: nOut }, () => []);
  for (let t = 0; t < T!; t++) {
    const slices = xe.map((x, k) => sliceAt(ctx, x, axes[k], inDirs[k] ? T! - 1 - t : t));
    const r = ctx.subgraph(g, [...states, ...slices]);
    states = r.slice(0, nState);
    r.slice(nState).forEach((v, k) => outs[k].push(v));
  }
  const scanOuts = outs.map((vs, k) => {
    const seq = outDirs[k] ? [...vs].reverse() : vs;
    const a = normAxis(ctx, outAxesRaw[k] ?? 0, rank(ctx, vs[0]) + 1);
    return stack(ctx, seq, a);
  });
  return [...states, ...scanOuts];
}

/** Opset 8: a leading batch axis on every state and scan input (scan axis 1); unrolled per batch row. */
function scanV8(ctx: NodeContext, g: GraphProto, nIn: number): OnnxValue[] {
  const lens = ctx.input(0);
  const nState = ctx.numInputs - 1 - nIn;
  const states = Array.from({ length: nState }, (_, i) => ctx.req(1 + i));
  const xs = Array.from({ length: nIn }, (_, i) => ctx.req(1 + nState + i));
  const bd = constDim(dims(ctx, xs[0])[0]);
  if (bd === undefined) ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the batch size must be static');
  const T = constDim(dims(ctx, xs[0])[1]);
  if (lens && !(lens.kind === 'host' && Array.from(lens.t.data).every((l) => l === T)))
    ctx.unsupported('sequence_lens shorter than the sequence (opset 8 Scan)');
  const dirs = ctx.ints('directions') ?? new Array<number>(nIn).fill(0);
  const perBatch: OnnxValue[][] = [];
  for (let b = 0; b < bd!; b++) {
    const st = states.map((s) => sliceAt(ctx, exprOf(ctx, s), 0, b));
    const xb = xs.map((x) => sliceAt(ctx, exprOf(ctx, x), 0, b));
    perBatch.push(scanCoreV8(ctx, g, st, xb, dirs));
  }
  const n = perBatch[0].length;
  return Array.from({ length: n }, (_, k) =>
    stack(
      ctx,
      perBatch.map((r) => r[k]),
      0,
    ),
  );
}

/** One batch row of an opset-8 Scan: scan axis 0, per-input directions, outputs stacked forward. */
function scanCoreV8(
  ctx: NodeContext,
  g: GraphProto,
  states0: OnnxValue[],
  xs: OnnxValue[],
  dirs: readonly number[],
): OnnxValue[] {
  const nState = states0.length;
  const T = constDim(dims(ctx, xs[0])[0]);
  if (T === undefined) return ctx.fail(OnnxErrorCodes.ONNX_DYNAMIC, 'the sequence length must be static');
  if (T > MAX_UNROLL) ctx.unsupported(`a scan over ${T} steps (unrolling is limited to ${MAX_UNROLL})`);
  const xe = xs.map((x) => exprOf(ctx, x));
  let states = states0;
  const outs: OnnxValue[][] = [];
  for (let t = 0; t < T; t++) {
    const r = ctx.subgraph(g, [...states, ...xe.map((x, k) => sliceAt(ctx, x, 0, dirs[k] ? T - 1 - t : t))]);
    states = r.slice(0, nState);
    r.slice(nState).forEach((v, k) => (outs[k] ??= []).push(v));
  }
  return [...states, ...outs.map((vs) => stack(ctx, vs, 0))];
}

export const CONTROL_CONVERTERS: ConverterDef[] = [
  ...many('Loop', V(1, 11, 13, 16, 19, 21, 23, 24, 25), loopConvert),
  ...many('Scan', V(8, 9, 11, 16, 19, 21, 23, 24, 25), scanConvert),
];
