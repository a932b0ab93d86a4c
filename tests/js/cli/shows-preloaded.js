console.log(JSON.stringify({ preloaded: globalThis.preloaded, main: require.main === module, argv: process.argv.slice(2) }));
