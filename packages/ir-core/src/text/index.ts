// The text format framework: lexer, parser cursor, printer with name allocation, the
// PrimExpr text, function text formats registered per IR, and IRModule text.
export type { Token, TokenKind } from './lexer.js';
export { describeToken, isDottedIdent, isPlainIdent, quoteString, tokenize } from './lexer.js';
export { NameAllocator, RESERVED_NAMES, sanitizeName } from './names.js';
export type { TextPrinterOptions } from './printer.js';
export { Prec, TextPrinter, formatFloat, formatInt, immSuffix, printExpr } from './printer.js';
export type { ParseExprOptions, ScopeInit, TextParserOptions } from './parser.js';
export { TextParser, parseExpr } from './parser.js';
export type { FunctionTextFormat } from './format.js';
export {
  createPrinter,
  defineFunctionTextFormat,
  functionTextFormat,
  listFunctionTextFormats,
  parseFunction,
  parseFunctionFrom,
  printFunction,
  printFunctionInto,
  reservedWords,
} from './format.js';
export { formatGlobal, parseModule, printModule } from './module_text.js';
