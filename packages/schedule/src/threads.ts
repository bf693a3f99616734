// GPU memory visibility: local memory belongs to one thread, shared memory to one thread
// block. The writers and readers of such a buffer must run under the same thread-bound
// loops (all of them for local memory, blockIdx/vthread for shared), or one side sees
// another thread's copy. A primitive may not introduce such a pair, so a GPU schedule
// places the local write-back, binds threadIdx, computes shared tiles at their loops
// (relaxed over the bound threads), then binds blockIdx.
import type { Buffer } from '@kiln/ir-core';
import type { BlockRealize, For, PrimFunc } from '@kiln/tensorir';
import { ScheduleErrorCodes as C, fail } from './errors.js';
import { isWrapper } from './regions.js';
import { allBlocks, TreeIndex } from './tree.js';

function visibility(scope: string): 'thread' | 'block' | undefined {
  if (scope.startsWith('local') || scope.startsWith('wmma') || scope === 'warp') return 'thread';
  if (scope.startsWith('shared')) return 'block';
  return undefined;
}

export interface ThreadViolation {
  readonly key: string;
  readonly message: string;
}

/** Reads of thread/block-private memory from outside the writer's thread-bound loops. */
export function threadLocalityViolations(fn: PrimFunc): ThreadViolation[] {
  const idx = new TreeIndex(fn.body);
  if (![...idx.loops.values()].some((l) => l.forKind === 'thread_binding')) return [];
  const blocks = allBlocks(fn.body).filter((r) => !isWrapper(r.block));
  const enclosing = (r: BlockRealize, kind: 'thread' | 'block'): For[] =>
    idx
      .ancestors(r)
      .filter(
        (a): a is For =>
          a.kind === 'For' &&
          a.forKind === 'thread_binding' &&
          (kind === 'thread' || !(a.threadTag ?? '').startsWith('threadIdx')),
      );
  const out: ThreadViolation[] = [];
  const seen = new Set<Buffer>();
  for (const w of blocks) {
    for (const wr of w.block.writes) {
      const buf = wr.buffer;
      const vis = visibility(buf.scope);
      if (!vis || seen.has(buf)) continue;
      seen.add(buf);
      const writers = blocks.filter((b) => b.block.writes.some((x) => x.buffer === buf));
      const readers = blocks.filter((b) => b.block.reads.some((x) => x.buffer === buf));
      for (const wb of writers) {
        const wl = enclosing(wb, vis);
        for (const rb of readers) {
          if (rb === wb) continue;
          const rl = enclosing(rb, vis);
          const onlyW = wl.find((l) => !rl.includes(l));
          const onlyR = rl.find((l) => !wl.includes(l));
          if (onlyW || onlyR) {
            const [inside, outside, l] = onlyW ? [wb, rb, onlyW] : [rb, wb, onlyR!];
            out.push({
              key: `${buf.name}|${wb.block.name}|${rb.block.name}`,
              message: `'${buf.name}' (${buf.scope}) is shared by blocks '${wb.block.name}' (writes) and '${rb.block.name}' (reads), but only '${inside.block.name}' runs under ${l.threadTag} loop '${l.loopVar.name}' ('${outside.block.name}' would see another ${vis === 'thread' ? 'thread' : 'thread block'}'s copy)`,
            });
          }
        }
      }
    }
  }
  return out;
}

/** Refuse `next` if it has a violation `prev` did not have. */
export function checkThreadLocality(prev: PrimFunc, next: PrimFunc, prim: string): void {
  const after = threadLocalityViolations(next);
  if (after.length === 0) return;
  const before = new Set(threadLocalityViolations(prev).map((v) => v.key));
  const fresh = after.find((v) => !before.has(v.key));
  if (fresh) fail(C.SCHEDULE_STORAGE_SCOPE, prim, fresh.message);
}
