// @kiln/codegen-metal: Metal Shading Language code generation.
export {};
