// A tinypool task (tests/test_npm_processes.py): adds two numbers, asks Python
// for a third through require('pymport'), and says where it ran.
import { createRequire } from 'node:module';
import { threadId } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const { pyval } = require('pymport');

export default function add({ a, b }) {
  if (a < 0) throw new RangeError(`negative: ${a}`);
  return {
    sum: a + b,
    square: pyval(`${a} ** 2`).toJS(),
    pid: process.pid,
    ppid: process.ppid,
    threadId,
    execPath: process.execPath,
  };
}
