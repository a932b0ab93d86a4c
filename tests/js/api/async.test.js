'use strict';
// callAsync runs the Python call off the JS thread.
const assert = require('assert');
const { pymport, pyval } = require('pymport');

module.exports = {
  async 'callAsync resolves with a PyObject and the event loop keeps running'() {
    // The Python call waits for an event that only the event loop's third
    // tick sets: it returns True only if the loop ran while it waited.
    const event = pymport('threading').get('Event').call();
    let ticks = 0;
    const timer = setInterval(() => { if (++ticks === 3) event.get('set').call(); }, 1);
    const r = await event.get('wait').callAsync(60);
    clearInterval(timer);
    assert.strictEqual(r.type, 'bool');
    assert.strictEqual(r.toJS(), true, `event loop ran ${ticks} times`);
  },
  async 'callAsync rejections carry the Python exception'() {
    await assert.rejects(pyval('lambda: 1 / 0').callAsync(), (e) =>
      e.pythonType.toString() === "<class 'ZeroDivisionError'>" && e.pythonValue.constr === e.pythonType &&
      e.pythonTrace.type === 'traceback');
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
