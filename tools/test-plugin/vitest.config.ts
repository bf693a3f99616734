import { kilnVitest } from '../vitest.base.js';
export default kilnVitest();
