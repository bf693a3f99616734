// The frontend entry the CLI's model loader understands (`extensions` + `load(path)`).
import type { IRModule } from '@kiln/ir-core';
import { fromOnnx } from './importer.js';

export const onnxFrontend = {
  name: 'onnx',
  extensions: ['.onnx'] as readonly string[],
  async load(path: string): Promise<IRModule> {
    return fromOnnx(path);
  },
};
