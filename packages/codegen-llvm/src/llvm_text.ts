// A small builder of textual LLVM IR (LLVM 14 syntax, typed pointers). llvm-bindings
// cannot build vector instructions or set parameter attributes, so Kiln writes the IR as
// text and hands it to LLVM's own parser (through llvm-bindings) for verification and
// bitcode, then to opt/llc.

/** An SSA value or constant, with its LLVM type. */
export interface LValue {
  readonly type: string;
  readonly ref: string;
}

export class BlockRef {
  readonly lines: string[] = [];
  terminated = false;
  constructor(readonly label: string) {}
}

/** One LLVM function under construction. */
export class FunctionBuilder {
  private counter = 0;
  private labelCounter = 0;
  private readonly usedLabels = new Set<string>();
  readonly blocks: BlockRef[] = [];
  /** Instructions hoisted to the entry block (allocas). */
  readonly entryAllocas: string[] = [];
  current: BlockRef;

  constructor(
    readonly name: string,
    readonly retType: string,
    readonly params: ReadonlyArray<{ type: string; name: string; attrs?: string }>,
    readonly fnAttrs: string,
    readonly linkage = '',
  ) {
    this.current = this.newBlock('entry');
  }

  param(i: number): LValue {
    const p = this.params[i];
    return { type: p.type, ref: `%${p.name}` };
  }

  newBlock(hint: string): BlockRef {
    let label = hint.replace(/[^A-Za-z0-9_.]/g, '_');
    if (this.usedLabels.has(label)) label = `${label}.${++this.labelCounter}`;
    this.usedLabels.add(label);
    const b = new BlockRef(label);
    this.blocks.push(b);
    return b;
  }

  setBlock(b: BlockRef): void {
    this.current = b;
  }

  fresh(hint = 't'): string {
    return `%${hint.replace(/[^A-Za-z0-9_.]/g, '_')}.${this.counter++}`;
  }

  /** Emit `%x = <rhs>` of type `type` in the current block. */
  emit(type: string, rhs: string, hint?: string): LValue {
    const ref = this.fresh(hint);
    this.current.lines.push(`  ${ref} = ${rhs}`);
    return { type, ref };
  }

  /** Emit an instruction without a result. */
  emitVoid(text: string): void {
    this.current.lines.push(`  ${text}`);
  }

  terminate(text: string): void {
    if (this.current.terminated) return;
    this.current.lines.push(`  ${text}`);
    this.current.terminated = true;
  }

  br(target: BlockRef): void {
    this.terminate(`br label %${target.label}`);
  }

  condBr(cond: LValue, t: BlockRef, f: BlockRef, meta = ''): void {
    this.terminate(`br i1 ${cond.ref}, label %${t.label}, label %${f.label}${meta}`);
  }

  /** An alloca in the entry block, so loops do not grow the stack. */
  entryAlloca(elemType: string, count: number, align: number, hint: string): LValue {
    const ref = this.fresh(hint);
    this.entryAllocas.push(`  ${ref} = alloca ${elemType}, i64 ${count}, align ${align}`);
    return { type: `${elemType}*`, ref };
  }

  toText(): string {
    const params = this.params.map((p) => `${p.type}${p.attrs ? ` ${p.attrs}` : ''} %${p.name}`).join(', ');
    const out = [
      `define ${this.linkage ? `${this.linkage} ` : ''}${this.retType} @${this.name}(${params}) ${this.fnAttrs} {`,
    ];
    this.blocks.forEach((b, i) => {
      out.push(`${b.label}:`);
      if (i === 0) out.push(...this.entryAllocas);
      out.push(...b.lines);
      if (!b.terminated) out.push(this.retType === 'void' ? '  ret void' : '  unreachable');
    });
    out.push('}');
    return out.join('\n');
  }
}

/** A textual LLVM module: declarations, globals, functions and metadata. */
export class ModuleBuilder {
  readonly declarations = new Map<string, string>();
  readonly functions: FunctionBuilder[] = [];
  readonly attributeGroups: string[] = [];
  readonly metadata: string[] = [];
  private metaCounter = 0;

  constructor(
    readonly name: string,
    readonly triple: string,
    readonly dataLayout?: string,
  ) {}

  declare(name: string, text: string): void {
    if (!this.declarations.has(name)) this.declarations.set(name, text);
  }

  addMetadata(body: string): string {
    const id = `!${this.metaCounter++}`;
    this.metadata.push(`${id} = ${body}`);
    return id;
  }

  /** A self-referential loop metadata node with the given properties. */
  loopMetadata(props: string[]): string {
    const propIds = props.map((p) => this.addMetadata(`!{${p}}`));
    const id = `!${this.metaCounter++}`;
    this.metadata.push(`${id} = distinct !{${[id, ...propIds].join(', ')}}`);
    return id;
  }

  toText(): string {
    const lines = [`; ModuleID = '${this.name}'`, `source_filename = "${this.name}"`];
    if (this.dataLayout) lines.push(`target datalayout = "${this.dataLayout}"`);
    lines.push(`target triple = "${this.triple}"`, '');
    lines.push(...this.declarations.values(), '');
    for (const f of this.functions) lines.push(f.toText(), '');
    lines.push(...this.attributeGroups, '');
    lines.push(...this.metadata);
    return `${lines.join('\n')}\n`;
  }
}

/** LLVM spelling of a float constant: exact, as the 64-bit hex form LLVM accepts for all FP types. */
export function floatConstant(value: number, llvmType: string): string {
  if (llvmType === 'half' || llvmType === 'bfloat') {
    // half/bfloat constants must be written in their own hex form; go through float.
    return fpHex(Math.fround(value));
  }
  const v = llvmType === 'float' ? Math.fround(value) : value;
  return fpHex(v);
}

function fpHex(v: number): string {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, v);
  return `0x${buf.getBigUint64(0).toString(16).toUpperCase().padStart(16, '0')}`;
}
