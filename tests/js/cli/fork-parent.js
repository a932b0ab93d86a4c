// Forks fork-child.js with process.execPath (the node launcher): messages go
// both ways, and the child's exit code comes back.
const { fork } = require('child_process');
const path = require('path');

const child = fork(path.join(__dirname, 'fork-child.js'), ['from-parent']);
const got = [];
child.on('message', (message) => {
  got.push(message);
  if (message.hello) child.send({ question: 6 });
});
child.on('exit', (code) => {
  console.log(JSON.stringify({ got, code }));
});
