console.log('ready');
if (process.argv[2] === 'busy') for (;;) {}
setInterval(() => {}, 1000);
