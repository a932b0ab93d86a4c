// Run by tests/test_cli.py as `python -m pymport_py main.js ARGS...`.
const { pyval } = require('pymport');

console.log(JSON.stringify({
  args: process.argv.slice(2),
  script: process.argv[1],
  isMain: require.main === module,
  answer: pyval('6 * 7').toJS(),
}));
let beforeExit = 0;
process.on('beforeExit', () => {
  // Work scheduled here runs, and beforeExit comes again, as in Node.
  if (beforeExit++ === 0) setTimeout(() => console.log('scheduled in beforeExit'), 10);
});
process.on('exit', (code) => console.log(`exit ${code} after ${beforeExit} beforeExit`));
setTimeout(() => {
  console.log('timer');
  process.exitCode = Number(process.argv[2] ?? 0);
}, 30);
