'use strict';
// callAsync runs the Python call off the JS thread.
const assert = require('assert');
const { pymport, pyval } = require('pymport');

module.exports = {
  async 'callAsync resolves with a PyObject and the event loop keeps running'() {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const r = await pymport('time').get('sleep').callAsync(0.1);
    clearInterval(timer);
    assert.strictEqual(r.type, 'NoneType');
    assert.ok(ticks >= 3, `event loop ran ${ticks} times`);
  },
  async 'callAsync rejections carry the Python exception'() {
    await assert.rejects(pyval('lambda: 1 / 0').callAsync(), (e) => e.pythonType === 'ZeroDivisionError');
  },
};

module.exports['a Python coroutine returned to JS is a Promise'] = async function () {
  const v = await pyval('__import__("asyncio").sleep(0.05, "x")');
  assert.strictEqual(v.toJS(), 'x');
};

module.exports['callAsync and coroutines in a worker_thread'] = async function () {
  const { Worker } = require('worker_threads');
  const message = await new Promise((resolve, reject) => {
    const w = new Worker(`
      const { parentPort } = require('worker_threads');
      const { pyval } = require('pymport');
      (async () => {
        const n = await pyval('len').callAsync([1, 2, 3]);
        const s = await pyval('__import__("asyncio").sleep(0.01, "slept")');
        parentPort.postMessage([n.toJS(), s.toJS()]);
      })();
    `, { eval: true });
    w.on('message', resolve);
    w.on('error', reject);
  });
  assert.deepStrictEqual(message, [3, 'slept']);
};
