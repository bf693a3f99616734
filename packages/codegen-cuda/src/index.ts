// @kiln/codegen-cuda: CUDA code generation.
export {};
