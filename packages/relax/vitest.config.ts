import { kilnVitest } from '../../tools/vitest.base.js';
export default kilnVitest({ setupFiles: ['./vitest.setup.ts'] });
