// TIR analyses shared by the DSL, the interpreter and the well-formedness checker.
export * from './vars.js';
