'use strict';
// --require'd by a worker_thread whose entry is an ES module (see esm.js).
require('./esm.js').ensureHooks();
