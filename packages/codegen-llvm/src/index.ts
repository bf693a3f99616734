// @kiln/codegen-llvm: LLVM code generation for CPUs.
export {};
