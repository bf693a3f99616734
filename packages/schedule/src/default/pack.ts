// Panel packing for the contraction schedule: rewrite an intermediate buffer of shape
// [..., K, N] (a cacheRead copy of the operand read as vectors) into the layout
// [..., N/P, K, P], so that the register block's panel (all K rows of P columns) is one
// contiguous run of memory. Without it a matmul with N a power of two walks B with a
// stride that maps every row to the same cache sets and a fresh page (measured: a
// 1024³ matmul runs about 3.5× slower). Every load, store and block region of the
// buffer is remapped; values are unchanged, so results are bit-identical.
import type { Buffer, Node, PrimExpr, Range } from '@kiln/ir-core';
import { buffer, floordiv, floormod, freezeNode, intImm, Mutator, range } from '@kiln/ir-core';
import type { Block, BufferRegion, BufferStore, PrimFunc } from '@kiln/tensorir';
import { bufferRegion, bufferStore } from '@kiln/tensorir';

/** The packed form of `src` ([..., K, N] → [..., N/P, K, P]); `N` must be a constant multiple of P. */
export function packedBuffer(src: Buffer, panel: number): Buffer {
  const n = src.shape.length;
  const N = src.shape[n - 1];
  if (N.kind !== 'IntImm' || N.value % panel !== 0 || n < 2)
    throw new Error('packedBuffer: needs a constant last extent divisible by the panel');
  const dt = N.dtype;
  const shape = [
    ...src.shape.slice(0, n - 2),
    intImm(N.value / panel, dt),
    src.shape[n - 2],
    intImm(panel, dt),
  ];
  return buffer(`${src.name}_packed`, src.dtype, shape, { scope: src.scope });
}

function mapIndices(idx: readonly PrimExpr[], panel: number): PrimExpr[] {
  const n = idx.length;
  const j = idx[n - 1];
  const p = intImm(panel, j.dtype);
  return [...idx.slice(0, n - 2), floordiv(j, p), idx[n - 2], floormod(j, p)];
}

function mapRegion(rg: readonly Range[], panel: number, dst: Buffer): Range[] {
  const n = rg.length;
  const j = rg[n - 1];
  const dt = j.min.dtype;
  // A point maps to a point; any wider column range is widened to whole panels.
  if (j.extent.kind === 'IntImm' && j.extent.value === 1) {
    const m = mapIndices(
      rg.map((r) => r.min),
      panel,
    );
    return [...rg.slice(0, n - 2), range(m[n - 2], intImm(1, dt)), rg[n - 2], range(m[n], intImm(1, dt))];
  }
  return [
    ...rg.slice(0, n - 2),
    range(intImm(0, dt), dst.shape[n - 2]),
    rg[n - 2],
    range(intImm(0, dt), intImm(panel, dt)),
  ];
}

/** Replace every use of `src` in `fn` by `dst = packedBuffer(src, panel)`. */
export function packBuffer(fn: PrimFunc, src: Buffer, dst: Buffer, panel: number): PrimFunc {
  const region = (r: BufferRegion): BufferRegion =>
    r.buffer === src ? bufferRegion(dst, mapRegion(r.region, panel, dst)) : r;
  class Pack extends Mutator {
    protected override visitNode(n: Node): Node {
      if (n.kind === 'BufferLoad') {
        const l = n as unknown as { buffer: Buffer; indices: readonly PrimExpr[] };
        if (l.buffer === src) {
          const idx = mapIndices(
            l.indices.map((e) => this.visit(e)),
            panel,
          );
          return freezeNode({
            ...(n as object),
            buffer: dst,
            indices: Object.freeze(idx),
          } as unknown as Node);
        }
      }
      if (n.kind === 'BufferStore') {
        const s = n as unknown as BufferStore;
        if (s.buffer === src) {
          const idx = mapIndices(
            s.indices.map((e) => this.visit(e)),
            panel,
          );
          return bufferStore(dst, this.visit(s.value), idx);
        }
      }
      if (n.kind === 'Block') {
        const b = this.defaultVisit(n) as unknown as Block;
        return freezeNode({
          ...b,
          reads: Object.freeze(b.reads.map(region)),
          writes: Object.freeze(b.writes.map(region)),
          allocBuffers: Object.freeze(b.allocBuffers.map((x) => (x === src ? dst : x))),
        }) as unknown as Node;
      }
      return this.defaultVisit(n);
    }
  }
  const body = new Pack().visit(fn.body);
  return body === fn.body ? fn : Object.freeze({ ...fn, body });
}
