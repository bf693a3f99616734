import { kilnPackage } from '../../tools/tsup.base.js';
// Splitting keeps one copy of the shared code (node tables, KilnError) for both entries.
export default kilnPackage(['src/index.ts', 'src/testing/index.ts'], { splitting: true });
