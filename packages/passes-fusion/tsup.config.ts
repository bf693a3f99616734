import { kilnPackage } from '../../tools/tsup.base.js';
export default kilnPackage();
