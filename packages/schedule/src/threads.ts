// GPU memory visibility: local memory belongs to one thread, shared memory to one thread
// block. A block moved by computeAt / reverseComputeAt must land inside the thread-bound
// loops of the blocks it exchanges such data with, or it would read another thread's
// (undefined) copy. Intermediate states elsewhere are allowed, as in TVM, where a kernel
// is only verified once scheduling is done.
import type { Buffer } from '@kiln/ir-core';
import type { BlockRealize, For, PrimFunc } from '@kiln/tensorir';
import { fail, ScheduleErrorCodes as C } from './errors.js';
import { isWrapper } from './regions.js';
import { allBlocks, TreeIndex } from './tree.js';

function visibility(scope: string): 'thread' | 'block' | undefined {
  if (scope.startsWith('local') || scope.startsWith('wmma') || scope === 'warp') return 'thread';
  if (scope.startsWith('shared')) return 'block';
  return undefined;
}

export function checkThreadLocality(fn: PrimFunc, prim: string, focus: string): void {
  const idx = new TreeIndex(fn.body);
  const bound = [...idx.loops.values()].filter((l) => l.forKind === 'thread_binding');
  if (bound.length === 0) return;
  const blocks = allBlocks(fn.body).filter((r) => !isWrapper(r.block));
  const enclosing = (r: BlockRealize, kind: 'thread' | 'block'): For[] =>
    idx.ancestors(r).filter((a): a is For => a.kind === 'For' && a.forKind === 'thread_binding' && (kind === 'thread' || !(a.threadTag ?? '').startsWith('threadIdx')));
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
        const need = enclosing(wb, vis);
        for (const rb of readers) {
          if (rb === wb || (rb.block.name !== focus && wb.block.name !== focus)) continue;
          const missing = need.find((l) => !idx.isAncestor(l, rb));
          if (missing) {
            fail(
              C.SCHEDULE_STORAGE_SCOPE,
              prim,
              `'${buf.name}' (${buf.scope}) is written by block '${wb.block.name}' under ${missing.threadTag} loop '${missing.loopVar.name}' but read by block '${rb.block.name}' outside it`,
            );
          }
        }
      }
    }
  }
}
