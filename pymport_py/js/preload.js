'use strict';
// Makes require('pymport') resolve to pymport_py's JS API in this environment,
// and passes itself on to the Node worker_threads it starts (with --require),
// so that it works there too.

const Module = require('module');
const path = require('path');
const workerThreads = require('worker_threads');

const marker = Symbol.for('pymport_py.preload');
if (!Module[marker]) {
  Module[marker] = true;
  require('./process.js').inherit();

  const api = {
    pymport: path.join(__dirname, 'pymport.js'),
    'pymport/proxified': path.join(__dirname, 'proxified.js'),
    'pymport/array': path.join(__dirname, 'array.js'),
  };
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (Object.prototype.hasOwnProperty.call(api, request)) return api[request];
    return resolve.call(this, request, ...rest);
  };

  // A CommonJS module that calls import() gets the ESM hooks first.
  const esm = require('./esm.js');
  // import( or import ( that is not a method (x.import()) or part of a name
  // (pyimport()); pymport_py's own files (and bootstrap.js's loaders) register on use.
  const dynamicImport = /(?<![\w$.])import\s*\(/;
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    if (!esm.hooksRegistered() && typeof content === 'string' && !filename.startsWith(__dirname) &&
        !filename.endsWith('[pymport_py]') && dynamicImport.test(content)) {
      esm.ensureHooks();
    }
    // Once the hooks run, this wrapper has no more to do (and leaves stacks).
    if (esm.hooksRegistered() && Module.prototype._compile === wrapper) {
      Module.prototype._compile = compile;
    }
    return compile.call(this, content, filename);
  };
  const wrapper = Module.prototype._compile;

  const { Worker } = workerThreads;
  class PymportWorker extends Worker {
    constructor(filename, options = {}) {
      // Not process.execArgv: pymport_py's are V8 flags, which workers refuse.
      const execArgv = [...(options.execArgv ?? []), '--require', __filename];
      if (esm.hooksRegistered() || esm.isModuleEntry(filename, options)) {
        execArgv.push('--require', path.join(__dirname, 'esm-preload.js'));
      }
      super(filename, { ...options, execArgv });
    }
  }
  workerThreads.Worker = PymportWorker;
}
