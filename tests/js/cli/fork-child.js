// Started by child_process.fork() (fork-parent.js, test_cli.py): answers over
// the IPC channel, then exits with a code of its own.
process.send({ hello: process.argv[2], connected: process.connected, execArgv: process.execArgv });
process.on('message', (message) => {
  process.send({ answer: message.question * 7 }, () => {
    process.disconnect();
    process.exitCode = 7;
  });
});
