// @kiln/codegen-vulkan: Vulkan / SPIR-V code generation.
export {};
