'use strict';
// A CommonJS module that throws while it is being required.
globalThis.__throwsLoadAttempts = (globalThis.__throwsLoadAttempts || 0) + 1;

function refuseToLoad() {
  throw new TypeError('throws.js refuses to load');
}

refuseToLoad();
