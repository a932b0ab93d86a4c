// idle: an interval keeps it alive; 'ready' comes from the loop, once the main
// module has returned. busy: the main module never returns; 'ready' is written
// to fd 1 directly, so that no Python code runs between it and the loop.
if (process.argv[2] === 'busy') {
  require('fs').writeSync(1, 'ready\n');
  for (;;) {}
}
setInterval(() => {}, 1000);
setImmediate(() => console.log('ready'));
