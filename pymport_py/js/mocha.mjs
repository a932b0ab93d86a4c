// `import ... from 'mocha'` in a test file that pytest loads (jstests.js).
import { createRequire } from 'module';

const shim = createRequire(import.meta.url)('./jstests.js').mochaShim;
export default shim;
export const {
  describe, context, xdescribe, xcontext, it, specify, xit, xspecify,
  before, after, beforeEach, afterEach,
} = shim;
