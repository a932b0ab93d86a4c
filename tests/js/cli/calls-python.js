// JS and Python output interleave in program order.
const { pyval } = require('pymport');
console.log('js 1');
pyval('print("py 2", flush=True)');
console.log('js 3');
