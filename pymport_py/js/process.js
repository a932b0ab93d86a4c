'use strict';
// process.execPath and what node derives from it (docs/cli.md). pymport_py
// calls this on each environment it starts, before any other code runs there;
// the Node worker_threads started from it get the same execPath (preload.js).

const workerThreads = require('worker_threads');

const key = 'pymport_py.execPath';

// What node sets from the path it runs as: process.execPath, argv[0] (the
// absolute path), and title (the program name as given, process.argv0).
function setExecPath(execPath) {
  process.execPath = execPath;
  process.argv[0] = execPath;
}

function setup(execPath, execArgv, evalSource) {
  if (execPath) {
    setExecPath(execPath);
    workerThreads.setEnvironmentData(key, execPath);
  }
  process.execArgv = execArgv;
  // Embedded, Node cannot set the process title (it was not given the
  // process's argv); node's title is the program name it was run as.
  let title = process.argv0;
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

// In a Node worker_thread: the execPath of the environment that started it.
function inherit() {
  if (workerThreads.isMainThread) return;
  const execPath = workerThreads.getEnvironmentData(key);
  if (typeof execPath === 'string') setExecPath(execPath);
}

module.exports = { setup, inherit };
