'use strict';
// process.execPath and what node derives from it (docs/cli.md). pymport_py
// calls this on each environment it starts, before any other code runs there;
// the Node worker_threads started from it get the same execPath (preload.js).
// worker_threads is loaded when user code first needs it (preload.js), not here.

const key = 'pymport_py.execPath';
let workerThreads; // once loaded (workerThreadsLoaded)
let workersExecPath; // what the worker_threads of this environment inherit

// What node sets from the path it runs as: process.execPath, argv[0] (the
// absolute path), and title (the program name as given, process.argv0).
function setExecPath(execPath) {
  process.execPath = execPath;
  process.argv[0] = execPath;
}

function setup(execPath, execArgv, evalSource) {
  if (execPath) {
    setExecPath(execPath);
    workersExecPath = execPath;
    workerThreads?.setEnvironmentData(key, execPath);
  }
  process.execArgv = execArgv;
  // Embedded, Node cannot set the process title (it was not given the
  // process's argv); node's title is the program name it was run as.
  // Deleted first: redefining it would read the native one, which (without
  // the argv) grows a buffer to a megabyte in vain before it gives up.
  let title = process.argv0;
  delete process.title;
  Object.defineProperty(process, 'title', {
    configurable: true,
    enumerable: true,
    get: () => title,
    set: (value) => { title = `${value}`; },
  });
  // child_process.fork() leaves -e CODE out of the child's execArgv by this.
  if (evalSource !== undefined && evalSource !== null) {
    Object.defineProperty(process, '_eval', { enumerable: true, value: evalSource });
  }
}

// worker_threads was loaded (preload.js): workers started from now on inherit execPath.
function workerThreadsLoaded(module) {
  workerThreads = module;
  if (workersExecPath !== undefined) workerThreads.setEnvironmentData(key, workersExecPath);
}

// In a Node worker_thread: the execPath of the environment that started it.
function inherit() {
  const threads = require('worker_threads');
  if (threads.isMainThread) return;
  const execPath = threads.getEnvironmentData(key);
  if (typeof execPath === 'string') setExecPath(execPath);
}

module.exports = { setup, inherit, workerThreadsLoaded };
