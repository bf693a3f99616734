import { kilnPackage } from '../../tools/tsup.base.js';
export default kilnPackage(['src/index.ts', 'src/bin.ts']);
