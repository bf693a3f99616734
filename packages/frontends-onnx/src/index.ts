// @kiln/frontends-onnx: ONNX importer to Relax.
export {};
