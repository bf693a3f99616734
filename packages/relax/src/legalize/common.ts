// Types shared by the legalization tables.
import type { BlockBuilder } from '../block-builder.js';
import type { Call, Expr } from '../ir/nodes.js';
import type { OpContext } from '../op/registry.js';

export type LegalizeFn = (call: Call, bb: BlockBuilder, ctx: OpContext<unknown>) => Expr;
/** Operator name → legalization. */
export type LegalizeTable = Record<string, LegalizeFn>;
