'use strict';
// Makes require('pymport') resolve to pymport_py's JS API in this environment,
// and passes itself on to the Node worker_threads it starts (with --require),
// so that it works there too.

const Module = require('module');
const path = require('path');

const marker = Symbol.for('pymport_py.preload');
if (!Module[marker]) {
  Module[marker] = true;
  // An environment that pymport_py started (bootstrap.js says so before it loads
  // this file), or a Node worker_thread (this file is its --require).
  const host = Module[Symbol.for('pymport_py.host')] === true;
  if (!host) require('./process.js').inherit();

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

  // npm builds an addon for the system `node`; one built against V8's C++ API for
  // another NODE_MODULE_VERSION fails to load, and Node's advice (`npm rebuild`)
  // would build it for that `node` again: name the command that builds it for
  // this Node (docs/npm.md#native-addons).
  const dlopen = process.dlopen;
  process.dlopen = function (module, filename, ...rest) {
    try {
      return dlopen.call(this, module, filename, ...rest);
    } catch (err) {
      if (err?.code === 'ERR_DLOPEN_FAILED' && /NODE_MODULE_VERSION/.test(err.message)) {
        addRebuildHint(err, String(filename));
      }
      throw err;
    }
  };

  // worker_threads' Worker passes this file on. In an environment that pymport_py
  // started, worker_threads (and the stream modules it loads) is patched when
  // first needed: at the first require() of user code (of any module: it may be
  // worker_threads, or load an ES module that imports it), when the ESM hooks are
  // registered (esm.js: before any ES module loads), or at the first
  // process.getBuiltinModule. A start that only evaluates code loads none of it.
  let patched = false;
  function patchWorkerThreads() {
    if (patched) return;
    patched = true;
    const workerThreads = require('worker_threads');
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
    require('./process.js').workerThreadsLoaded(workerThreads);
  }
  esm.beforeHooks(patchWorkerThreads);
  if (!host) {
    patchWorkerThreads();
  } else {
    // pymport_py's own requires (the bootstrap's, process.js from Python) do not count.
    const own = __dirname + path.sep;
    const load = Module._load;
    Module._load = function _load(request, parent, ...rest) {
      if (!patched && !(typeof request === 'string' && request.startsWith(own)) &&
          !parent?.filename?.startsWith(own)) {
        patchWorkerThreads();
      }
      if (patched && Module._load === _load) Module._load = load; // no more to do
      return load.call(this, request, parent, ...rest);
    };
    const getBuiltinModule = process.getBuiltinModule; // Node 20.16 and 22.3 on
    if (typeof getBuiltinModule === 'function') {
      process.getBuiltinModule = function (id) {
        patchWorkerThreads();
        process.getBuiltinModule = getBuiltinModule;
        return getBuiltinModule.call(this, id);
      };
    }
  }
}

// Appends to err's message (and stack) how to rebuild the addon at filename,
// a file in some .../node_modules/<package>/, for the embedded Node.
function addRebuildHint(err, filename) {
  const where = /^(.*)[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(filename);
  const command = `python -m pymport_py npm rebuild${where ? ' ' + where[2] : ''}`;
  const hint = `\npymport_py embeds Node ${process.versions.node} (NODE_MODULE_VERSION ` +
    `${process.versions.modules}), while npm builds addons for the system \`node\`. ` +
    `Build it for the embedded Node with: ${command}` + (where ? ` (in ${where[1]})` : '');
  const message = err.message;
  const stack = err.stack;  // V8 formats it on first read: before the message changes
  err.message = message + hint;
  if (typeof stack === 'string' && stack.includes(message)) {
    // and without the frame of the wrapper above
    err.stack = stack.replace(message, err.message).split('\n')
      .filter((line) => !line.includes(`(${__filename}:`)).join('\n');
  }
}
