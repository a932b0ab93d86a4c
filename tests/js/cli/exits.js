const when = process.argv[2];
console.log('before');
if (when === 'now') process.exit(5);
setTimeout(() => process.exit(6), 10);
setInterval(() => {}, 1000);
