// Loop queries shared by the schedule tests.
import type { For, PrimFunc, Stmt } from '@kiln/tensorir';

/** Every For under `s`, outermost first (through blocks, sequences and scoped nodes). */
export function loops(s: Stmt, out: For[] = []): For[] {
  if (s.kind === 'For') {
    out.push(s);
    loops(s.body, out);
  } else if (s.kind === 'SeqStmt') for (const x of s.seq) loops(x, out);
  else if (s.kind === 'BlockRealize') loops(s.block.body, out);
  else if (s.kind === 'Block') loops(s.body, out);
  else if (s.kind === 'Allocate' || s.kind === 'DeclBuffer' || s.kind === 'LetStmt') loops(s.body, out);
  return out;
}

/** The loops of `fn` of one kind (parallel, vectorized, ...). */
export const loopsOfKind = (fn: PrimFunc, kind: For['forKind']): For[] =>
  loops(fn.body).filter((l) => l.forKind === kind);
