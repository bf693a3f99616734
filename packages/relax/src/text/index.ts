// Relax text: registers the `R.function` text format with ir-core (so printModule and
// parseModule handle modules holding Relax functions next to TIR PrimFuncs) and a node
// printer for every other Relax node kind (printNode in messages and test failures).
import type { Node } from '@kiln/ir-core';
import { defineFunctionTextFormat, defineNodeTextPrinter, functionTextFormat } from '@kiln/ir-core';
import type { RelaxFunction } from '../ir/nodes.js';
import { RelaxParser } from './parser.js';
import { RELAX_KEYWORDS, RelaxPrinter, relaxNodeText, writeMultiline } from './printer.js';

// Guarded: a second copy of this package in one process must not fail at load time.
if (functionTextFormat('relax.Function') === undefined) {
  defineFunctionTextFormat<RelaxFunction>({
    kind: 'relax.Function',
    keyword: 'R.function',
    reserved: RELAX_KEYWORDS,
    print(fn, printer) {
      writeMultiline(printer, new RelaxPrinter(printer).func(fn));
    },
    parse(parser) {
      return new RelaxParser(parser).func(true);
    },
  });
  defineNodeTextPrinter(
    [
      'relax.ObjectStructInfo',
      'relax.PrimStructInfo',
      'relax.ShapeStructInfo',
      'relax.TensorStructInfo',
      'relax.TupleStructInfo',
      'relax.FuncStructInfo',
      'relax.Var',
      'relax.DataflowVar',
      'relax.Constant',
      'relax.Tuple',
      'relax.TupleGetItem',
      'relax.ShapeExpr',
      'relax.PrimValue',
      'relax.StringImm',
      'relax.Op',
      'relax.GlobalVar',
      'relax.ExternFunc',
      'relax.Call',
      'relax.If',
      'relax.SeqExpr',
      'relax.VarBinding',
      'relax.MatchCast',
      'relax.BindingBlock',
      'relax.DataflowBlock',
    ],
    (n: Node, p) => writeMultiline(p, relaxNodeText(n, p)),
    { reserved: ['R.function', ...RELAX_KEYWORDS] },
  );
}

export { parseRelaxFunction, parseStructInfo, RelaxParser } from './parser.js';
export { printRelaxFunction, RELAX_KEYWORDS, RelaxPrinter } from './printer.js';
