// Runs task.mjs in a tinypool of two workers ('worker_threads' or
// 'child_process', from argv) and prints the results as JSON.
import { Tinypool } from 'tinypool';

const runtime = process.argv[2];
const pool = new Tinypool({
  filename: new URL('./task.mjs', import.meta.url).href, runtime, minThreads: 2, maxThreads: 2,
});
const results = await Promise.all([1, 2, 3, 4].map((a) => pool.run({ a, b: 10 })));
const error = await pool.run({ a: -1, b: 0 }).catch((e) => `${e.name}: ${e.message}`);
await pool.destroy();
console.log(JSON.stringify({ pid: process.pid, execPath: process.execPath, results, error }));
