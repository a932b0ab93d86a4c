// `import ... from 'node:test'` in a test file that pytest loads (jstests.js).
import { createRequire } from 'module';

const shim = createRequire(import.meta.url)('./jstests.js').nodeTestShim;
export default shim;
export const {
  test, it, describe, suite, before, after, beforeEach, afterEach, mock, run, snapshot,
} = shim;
